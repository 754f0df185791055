from django.urls import path

from . import alarms_api, api, report_api, review_api, tokens_api

urlpatterns = [
    path("responses/", api.ResponsePushView.as_view(), name="api-responses-push"),
    path("feedback/", api.FeedbackPushView.as_view(), name="api-feedback-push"),
    path("ingest-runs/", api.IngestRunListView.as_view(), name="api-ingest-runs"),
    path(
        "ingest-runs/<int:pk>/rejects/",
        api.IngestRunRejectsView.as_view(),
        name="api-ingest-run-rejects",
    ),
    # The review workflow (review_api.py).
    path("plans/", review_api.PlanListView.as_view(), name="api-plans"),
    path("plans/<slug:name>/", review_api.PlanDetailView.as_view(), name="api-plan"),
    path("queues/", review_api.QueueListView.as_view(), name="api-queues"),
    path("queues/<int:pk>/", review_api.QueueDetailView.as_view(), name="api-queue"),
    path("queues/<int:pk>/claim/", review_api.QueueClaimView.as_view(), name="api-queue-claim"),
    path("queues/<int:pk>/skip/", review_api.QueueSkipView.as_view(), name="api-queue-skip"),
    path("reviews/", review_api.ReviewCreateView.as_view(), name="api-reviews"),
    path("reviews/mine/", review_api.ReviewMineView.as_view(), name="api-reviews-mine"),
    path("reviews/<int:pk>/", review_api.ReviewDetailView.as_view(), name="api-review"),
    path("reviews/<int:pk>/undo/", review_api.ReviewUndoView.as_view(), name="api-review-undo"),
    path("alarms/", alarms_api.AlarmListView.as_view(), name="api-alarms"),
    # Reports (report_api.py).
    path("reports/tiers/", report_api.TierReportView.as_view(), name="api-report-tiers"),
    # The caller's own API tokens (tokens_api.py).
    path("tokens/", tokens_api.TokenListView.as_view(), name="api-tokens"),
    path("tokens/<int:pk>/", tokens_api.TokenDetailView.as_view(), name="api-token"),
]
