"""Report pages under /reports/. Append new pages at the end of `urlpatterns` (one line each)."""

from __future__ import annotations

from django.urls import path

from . import views, views_alarms, views_hub, views_quality, views_trends

app_name = "reports"

urlpatterns = [
    path("", views.tiers, name="tiers"),
    path("summary/", views.summary, name="summary"),
    path("alarms/", views_alarms.alarm_list, name="alarms"),
    path("alarms/recompute/", views_alarms.alarm_recompute, name="alarms-recompute"),
    path("alarms/baseline/", views_alarms.alarm_baseline, name="alarms-baseline"),
    path(
        "alarms/<int:alarm_id>/acknowledge/",
        views_alarms.alarm_change,
        {"action": "acknowledge"},
        name="alarm-acknowledge",
    ),
    path(
        "alarms/<int:alarm_id>/close/",
        views_alarms.alarm_change,
        {"action": "close"},
        name="alarm-close",
    ),
    path("trends/", views_trends.trends_page, name="trends"),
    path("trends/drift/", views_trends.drift_day, name="trends-drift"),
    path("agreement/", views_quality.agreement, name="agreement"),
    path("shadow/", views_quality.shadow, name="shadow"),
    path("cascade/", views_quality.cascade, name="cascade"),
    path("regression.zip", views_quality.regression_download, name="regression"),
    path("all/", views_hub.hub, name="hub"),
]
