from django.apps import AppConfig


class ResponsesConfig(AppConfig):
    name = "reviewapp.responses"
    label = "responses"
