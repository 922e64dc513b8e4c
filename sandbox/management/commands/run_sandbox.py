"""`manage.py run_sandbox [--addr 127.0.0.1] [--port 8001] [--noreload]`: the
sandbox alone on its own port (runserver with sandbox.standalone_urls).

Point a console VendorAccount's base_url at it, e.g.
http://127.0.0.1:8001/sandbox/igw.  Refuses to start unless SANDBOX_ENABLED.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

URLCONF = "sandbox.standalone_urls"


class Command(BaseCommand):
    help = "Serve only the vendor sandbox (runserver with the sandbox's own urlconf)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--noreload", action="store_true")

    def handle(self, *args, addr: str, port: int, noreload: bool, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("SANDBOX_ENABLED is off: the sandbox never runs in production.")
        # runserver's autoreloader re-runs this command in its child, so the
        # override below holds in the process that actually serves.
        settings.ROOT_URLCONF = URLCONF
        call_command("runserver", f"{addr}:{port}", use_reloader=not noreload, use_threading=True)
