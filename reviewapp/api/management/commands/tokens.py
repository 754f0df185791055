"""python manage.py tokens create USER NAME | revoke USER ID | list USER

API tokens without the browser. `create` prints the key once (only its digest is stored);
`revoke` is idempotent; `list` shows each token's id, name, key prefix and state.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.api.models import ApiToken
from reviewapp.api.tokens import token_create, token_list, token_revoke
from reviewapp.review.services_access import AccessError, user_named


class Command(BaseCommand):
    help = "Create, revoke or list a user's API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("create", help="a new token; its key is printed once")
        p.add_argument("username")
        p.add_argument("name", help="what the token is for, e.g. 'labelling vendor'")
        p = sub.add_parser("revoke", help="revoke one of the user's tokens")
        p.add_argument("username")
        p.add_argument("token_id", type=int)
        p = sub.add_parser("list", help="the user's tokens")
        p.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = user_named(options["username"])
        except AccessError as exc:
            raise CommandError(str(exc)) from None
        action = options["action"]
        if action == "create":
            token, key = token_create(user=user, name=options["name"])
            self.stdout.write(
                f"Token {token.pk} “{token.name}” for {user.get_username()}:\n{key}\n"
                "Keep the key now: it is not stored and cannot be shown again."
            )
        elif action == "revoke":
            try:
                token = token_revoke(user=user, token_id=options["token_id"])
            except ApiToken.DoesNotExist:
                raise CommandError(
                    f"{user.get_username()} has no token {options['token_id']} "
                    f"(tokens list {user.get_username()} shows theirs)."
                ) from None
            self.stdout.write(f"Token {token.pk} “{token.name}” is revoked.")
        else:
            tokens = list(token_list(user=user))
            for t in tokens:
                state = "active" if t.is_active else f"revoked {t.revoked_at:%Y-%m-%d %H:%M}"
                used = (
                    f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
                )
                self.stdout.write(f"{t.pk}  {t.name}  {t.key_prefix}…  {state}, {used}")
            if not tokens:
                self.stdout.write(f"{user.get_username()} has no token.")
