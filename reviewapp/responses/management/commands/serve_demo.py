"""python manage.py serve_demo [ADDR:PORT]: Django's runserver that, once it listens, prints
the address and the demo logins, so that they are the last lines of `make run`'s output
rather than scrolled away above the server's start-up banner."""

from __future__ import annotations

from django.core.management.commands.runserver import Command as RunserverCommand

from .setup_demo import demo_logins


class Command(RunserverCommand):
    help = "Serve the demo (runserver) and print the address and the demo logins once listening."

    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        host = "127.0.0.1" if self.addr in ("0", "0.0.0.0", "127.0.0.1") else self.addr
        self.stdout.write(demo_logins(f"{self.protocol}://{host}:{server_port}/"))
