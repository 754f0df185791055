"""API tokens: created and revoked per user, on the page and through the API, stored hashed."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from rest_framework.test import APIClient

from reviewapp.api.models import ApiToken
from reviewapp.api.tokens import token_create, token_revoke

pytestmark = pytest.mark.django_db


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_key_is_never_stored_only_its_sha256(qa_lead):
    token, key = token_create(user=qa_lead, name="nightly push")
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.key_prefix) and len(token.key_prefix) < 12
    # No column of any row of the table holds the key.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        assert not any(key in str(value) for row in cursor.fetchall() for value in row)


def test_a_token_authenticates_until_it_is_revoked(qa_lead):
    token, key = token_create(user=qa_lead, name="ci")
    client = with_key(key)
    assert client.get("/api/v1/plans/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    token_revoke(user=qa_lead, token_id=token.pk)
    answer = client.get("/api/v1/plans/")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Token nope", "Token lt_" + "x" * 43, "Token a b", "Token"])
def test_wrong_or_malformed_keys_get_401(qa_lead, header):
    token_create(user=qa_lead, name="real")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/plans/").status_code == 401


def test_a_token_of_an_inactive_user_is_refused(qa_lead):
    _, key = token_create(user=qa_lead, name="ci")
    qa_lead.is_active = False
    qa_lead.save()
    assert with_key(key).get("/api/v1/plans/").status_code == 401


def test_drf_clear_text_tokens_are_not_an_authentication_class(settings):
    classes = settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    assert "rest_framework.authentication.TokenAuthentication" not in classes
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS


def test_the_api_creates_lists_and_revokes_ones_own_tokens(reviewer, viewer):
    client = APIClient()
    client.force_authenticate(reviewer)
    created = client.post("/api/v1/tokens/", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert body["name"] == "laptop" and key.startswith(body["key_prefix"])
    # The key is in the creation answer only.
    listed = client.get("/api/v1/tokens/").json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert "key" not in listed[0] and key not in str(listed)
    assert with_key(key).get("/api/v1/reviews/mine/").status_code == 200

    # Someone else cannot see or revoke it: 404, and it keeps working.
    other = APIClient()
    other.force_authenticate(viewer)
    assert other.get("/api/v1/tokens/").json() == []
    assert other.delete(f"/api/v1/tokens/{body['id']}/").status_code == 404
    assert with_key(key).get("/api/v1/reviews/mine/").status_code == 200

    assert client.delete(f"/api/v1/tokens/{body['id']}/").status_code == 204
    assert client.delete(f"/api/v1/tokens/{body['id']}/").status_code == 204  # idempotent
    assert with_key(key).get("/api/v1/reviews/mine/").status_code == 401
    assert client.get("/api/v1/tokens/").json()[0]["revoked_at"] is not None


def test_the_api_needs_a_name_and_a_user(reviewer):
    assert APIClient().post("/api/v1/tokens/", {"name": "x"}).status_code == 401
    client = APIClient()
    client.force_authenticate(reviewer)
    assert client.post("/api/v1/tokens/", {}, format="json").status_code == 400
    assert not ApiToken.objects.exists()


def test_the_page_shows_a_new_key_once_and_revokes(client, reviewer, viewer):
    assert client.get("/account/tokens/").status_code == 302
    client.force_login(reviewer)
    page = client.post("/account/tokens/", {"name": "from the browser"})
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=reviewer)
    key = page.context["created_key"]
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key in page.content.decode()
    again = client.get("/account/tokens/").content.decode()
    assert key not in again and token.key_prefix in again and "from the browser" in again

    # Another user's revoke of this token is a 404 and changes nothing.
    client.force_login(viewer)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert "from the browser" not in client.get("/account/tokens/").content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None

    client.force_login(reviewer)
    assert client.get(f"/account/tokens/{token.pk}/revoke/").status_code == 405
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert with_key(key).get("/api/v1/reviews/mine/").status_code == 401


def test_the_page_rejects_an_empty_name(client, reviewer):
    client.force_login(reviewer)
    assert client.post("/account/tokens/", {"name": ""}).status_code == 400
    assert not ApiToken.objects.exists()
