"""Pages of the review app: the reviewer's pages and the QA lead's plans and adjudication."""

from __future__ import annotations

from django.urls import path

from . import views, views_plans

app_name = "review"

urlpatterns = [
    # Reviewer: queues, the review page and its actions, history (views.py).
    path("", views.queue_list, name="queues"),
    path("queues/<int:queue_id>/", views.queue_review, name="queue"),
    path("queues/<int:queue_id>/skip/", views.queue_skip, name="skip"),
    path("queues/<int:queue_id>/undo/", views.queue_undo, name="undo"),
    path("history/", views.history, name="history"),
    path("history/<int:review_id>/", views.review_change, name="review-edit"),
    # QA lead: plans, queues, adjudication (views_plans.py).
    path("plans/", views_plans.plan_list, name="plans"),
    path("plans/new/", views_plans.plan_create, name="plan-new"),
    path("plans/preview/", views_plans.plan_preview, name="plan-preview"),
    path("plans/<slug:name>/", views_plans.plan_detail, name="plan"),
    path("plans/<slug:name>/edit/", views_plans.plan_edit, name="plan-edit"),
    path("plans/<slug:name>/build/", views_plans.plan_queue_build, name="plan-build"),
    path("plans/<slug:name>/adhoc/", views_plans.plan_queue_adhoc, name="plan-adhoc"),
    path("adjudication/", views_plans.adjudication_list, name="adjudication"),
    path(
        "adjudication/<int:item_id>/",
        views_plans.adjudication_decide,
        name="adjudicate",
    ),
]
