"""API token services: create (the raw key is returned once and never stored), revoke, list,
and resolve a presented key to its token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiToken

KEY_PREFIX = "lt_"
# Writing last_used_at on every request would turn each API read into a write; a minute's
# resolution is enough to tell a live token from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


@transaction.atomic
def token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it with the raw key, which only this call ever sees."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=(name.strip() or "token")[:100],
        key_prefix=raw_key[: len(KEY_PREFIX) + 6],
        key_hash=key_hash(raw_key),
    )
    return token, raw_key


@transaction.atomic
def token_revoke(*, user: Any, token_id: int) -> ApiToken:
    """Revoke one of `user`'s own tokens (idempotent). Another user's token is
    ApiToken.DoesNotExist, as if it did not exist."""
    token = ApiToken.objects.select_for_update().get(pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_list(*, user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def token_authenticate(raw_key: str) -> ApiToken | None:
    """The active token whose key is `raw_key`, or None. The lookup is by digest (indexed);
    the digests are then compared in constant time so that timing says nothing either way."""
    digest = key_hash(raw_key)
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
