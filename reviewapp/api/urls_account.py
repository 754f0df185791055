"""The signed-in user's account pages (/account/...)."""

from __future__ import annotations

from django.urls import path

from . import views_tokens

app_name = "account"

urlpatterns = [
    path("tokens/", views_tokens.token_page, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views_tokens.token_revoke_view, name="token-revoke"),
]
