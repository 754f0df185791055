from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reviewapp.reports"
    label = "reports"
