"""List pagination for the API: DRF's limit/offset with a ceiling on `limit`."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    # Without a ceiling any `limit` reaches the database: 10**28 overflows SQLite's and
    # PostgreSQL's integers (a 500, found by schemathesis), and a merely huge one reads a table.
    max_limit = 1000
