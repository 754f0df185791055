"""API tokens, stored hashed.

DRF's authtoken keeps the key itself in the database, so a leaked backup or a read-only SQL
injection hands out working credentials. Here only a SHA-256 digest of the key is kept (the
key is 32 random bytes, so an unsalted fast hash is enough: there is nothing to brute-force),
plus a short prefix so that a user can tell their tokens apart. The key is shown once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
