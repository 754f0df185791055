from django.urls import path

from . import api

urlpatterns = [
    path("responses/", api.ResponsePushView.as_view(), name="api-responses-push"),
    path("feedback/", api.FeedbackPushView.as_view(), name="api-feedback-push"),
    path("ingest-runs/", api.IngestRunListView.as_view(), name="api-ingest-runs"),
    path(
        "ingest-runs/<int:pk>/rejects/",
        api.IngestRunRejectsView.as_view(),
        name="api-ingest-run-rejects",
    ),
]
