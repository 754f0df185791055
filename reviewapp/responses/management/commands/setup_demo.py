"""python manage.py setup_demo: demo users (printed) and, on an empty database, a seed scenario."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from reviewapp.responses.models import Response
from reviewapp.review.roles import QA_LEAD, REVIEWER, VIEWER

DEMO_URL = "http://127.0.0.1:8000/"
DEMO_USERS = (
    ("admin", "admin-demo-pass", None),
    ("reviewer", "reviewer-demo-pass", REVIEWER),
    ("qa_lead", "qa-lead-demo-pass", QA_LEAD),
    ("viewer", "viewer-demo-pass", VIEWER),
)


class Command(BaseCommand):
    help = "Create the demo users and load a few weeks of the seed scenario if there is no data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=28)
        parser.add_argument("--per-day", type=int, default=1500, dest="per_day")
        parser.add_argument(
            "--review-budget",
            type=int,
            default=30,
            dest="review_budget",
            help="daily budget of the demo's default plan (0: no plan, no oracle reviews)",
        )
        parser.add_argument(
            "--no-logins",
            action="store_true",
            help="do not print the logins (make run: serve_demo prints them once serving)",
        )

    def handle(self, *args: object, **options: object) -> None:
        user_model = get_user_model()
        for username, password, role in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = user.is_superuser = role is None
            user.save()
            if role:
                user.groups.add(Group.objects.get_or_create(name=role)[0])
        if not Response.objects.exists():
            self.stdout.write(
                f"Loading {options['days']} days of the seed scenario "
                f"({options['per_day']} answers a day)..."
            )
            call_command(
                "simulate",
                "--scenario",
                "seed",
                "--days",
                str(options["days"]),
                "--per-day",
                str(options["per_day"]),
                "--reference",
                "2000",
                "--load",
                stdout=self.stdout,
            )
        if options["review_budget"]:
            from reviewapp.reports.oracle import demo_review

            demo_review(budget=int(options["review_budget"]), stdout=self.stdout)  # type: ignore[call-overload]
        if not options["no_logins"]:
            self.stdout.write(demo_logins(DEMO_URL))


def demo_logins(url: str) -> str:
    """The address and the demo logins, as the last words of `make run`."""
    lines = [f"\nLongtail: {url}  (sign in with one of these; Ctrl-C stops the server)"]
    lines += [
        f"  {username:<9} {password:<20} {role or 'admin (superuser)'}"
        for username, password, role in DEMO_USERS
    ]
    return "\n".join(lines)
