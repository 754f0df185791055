"""python manage.py roles grant|revoke USER ROLE | assign|unassign PLAN USER | show [USER]

Roles are reviewer, qa_lead and viewer (Django groups); a reviewer reviews the queues of the
plans they are assigned to. Every change is idempotent and says what it did.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.review.models import Plan
from reviewapp.review.services_access import (
    AccessError,
    plan_assign,
    plan_named,
    role_grant,
    role_revoke,
    user_named,
)


class Command(BaseCommand):
    help = "Grant or revoke a role, assign a reviewer to a plan or take them off, show access."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for action, what in (("grant", "give"), ("revoke", "take away")):
            p = sub.add_parser(action, help=f"{what} a role: reviewer, qa_lead or viewer")
            p.add_argument("username")
            p.add_argument("role")
        for action, what in (("assign", "assign to"), ("unassign", "take off")):
            p = sub.add_parser(action, help=f"{what} a plan's reviewers")
            p.add_argument("plan")
            p.add_argument("username")
        p = sub.add_parser("show", help="users with their roles and plans")
        p.add_argument("username", nargs="?")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._run(options)
        except AccessError as exc:
            raise CommandError(str(exc)) from None

    def _run(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action in ("grant", "revoke"):
            user = user_named(options["username"])
            change = role_grant if action == "grant" else role_revoke
            changed = change(user=user, role=options["role"])
            done = "now has" if action == "grant" else "no longer has"
            state = done if changed else ("already has" if action == "grant" else "did not have")
            self.stdout.write(f"{user.get_username()} {state} the role {options['role']}.")
        elif action in ("assign", "unassign"):
            plan, user = plan_named(options["plan"]), user_named(options["username"])
            changed = plan_assign(plan=plan, user=user, assigned=action == "assign")
            verb = "reviews" if action == "assign" else "does not review"
            prefix = "now" if changed else "already"
            self.stdout.write(f"{user.get_username()} {prefix} {verb} plan {plan.name}.")
        else:
            self._show(options.get("username"))

    def _show(self, username: str | None) -> None:
        users = get_user_model().objects.order_by("username").prefetch_related("groups")
        if username:
            users = users.filter(pk=user_named(username).pk)
        for user in users:
            roles = sorted(g.name for g in user.groups.all())
            if user.is_superuser:
                roles.append("superuser")
            plans = Plan.objects.filter(reviewers=user).order_by("name")
            self.stdout.write(
                f"{user.get_username()}: roles {', '.join(roles) or 'none'}; "
                f"reviews {', '.join(p.name for p in plans) or 'no plan'}"
            )
