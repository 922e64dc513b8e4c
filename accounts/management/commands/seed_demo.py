"""Demo data for the quick start: one user per role, and a vendor account per vendor
pointed at the built-in sandbox (each vendor's sandbox module describes its own,
`DEMO_ACCOUNT`), some with a small pool of X numbers.

Idempotent: running it again changes nothing that exists, except that a demo
account missing recording_hosts gets the sandbox's host:port (older quick starts
did not set it, and recordings then never downloaded).
"""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand

import vendors
from accounts import services
from accounts.models import PrivacyNumber, VendorAccount
from accounts.roles import ADMINISTRATORS, BUSINESS_STAFF, OPERATORS

DEMO_USERS = [
    # username, password, role, is_staff, is_superuser
    ("operator", "operator-demo-1", OPERATORS, True, False),
    ("staff", "staff-demo-1", BUSINESS_STAFF, False, False),
    ("admin", "admin-demo-1", ADMINISTRATORS, True, True),
]


def demo_accounts() -> list[dict]:
    """Each registered vendor's demo account, as its sandbox module describes it
    (`DEMO_ACCOUNT`: credentials the sandbox accepts; they are not real), with
    the vendor code and the sandbox path its base_url points at."""
    from sandbox import protocol

    specs = []
    for code in vendors.REGISTRY:
        try:
            module = protocol.vendor_module(code)
        except ModuleNotFoundError:
            continue  # no emulation, so no demo account
        spec = getattr(module, "DEMO_ACCOUNT", None)
        if spec is not None:
            specs.append({**spec, "vendor": code, "path": protocol.base_path(code)})
    return specs


class Command(BaseCommand):
    help = "Create demo users and sandbox-backed vendor accounts (idempotent)."

    def handle(self, *args, **options):
        for username, password, role, is_staff, is_superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": is_staff, "is_superuser": is_superuser}
            )
            if created:
                user.set_password(password)
                user.save()
            user.groups.add(Group.objects.get(name=role))

        base = settings.PUBLIC_BASE_URL
        sandbox_host = _host_port(base)
        for spec in demo_accounts():
            self._seed_account(spec, base=base, sandbox_host=sandbox_host)

        if _needs_allowing(sandbox_host):
            self.stdout.write(
                self.style.WARNING(
                    f"The demo accounts call the sandbox at {sandbox_host}, a private address: "
                    f"add {sandbox_host} to OUTBOUND_PRIVATE_ALLOWLIST or every call is refused."
                )
            )
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Open {base}/ and log in as:"))
        for username, password, role, _staff, _super in DEMO_USERS:
            self.stdout.write(f"  {username:<9} / {password:<16} ({role})")

    def _seed_account(self, spec: dict, *, base: str, sandbox_host: str) -> None:
        # The sandbox's recording links point at the console itself, often on
        # loopback: recordings need that exact host:port listed (and allowed).
        extra = {**spec["extra"], "recording_hosts": [sandbox_host]}
        account = VendorAccount.objects.filter(name=spec["name"]).first()
        if account is None:
            account = services.vendor_account_create(
                vendor=spec["vendor"],
                name=spec["name"],
                base_url=f"{base}{spec['path']}",
                account_id=spec["account_id"],
                secret=spec["secret"],
                app_id=spec["app_id"],
                extra=extra,
            )
        elif "recording_hosts" not in account.extra:
            account = services.vendor_account_update(
                account=account,
                extra={**account.extra, "recording_hosts": [sandbox_host]},
            )
        for number, area_code in spec["numbers"]:
            if not PrivacyNumber.objects.filter(number=number).exists():
                services.number_create(
                    vendor_account=account, number=number, area_code=area_code, note="demo"
                )
        if settings.SANDBOX_ENABLED:
            from sandbox.services import ensure_sandbox_account

            ensure_sandbox_account(vendor_account=account)


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _needs_allowing(host_port: str) -> bool:
    """Whether OUTBOUND_PRIVATE_ALLOWLIST must list host_port for the demo to work
    (a loopback or private literal address, or localhost, that it does not list)."""
    allowed = {entry.lower() for entry in settings.OUTBOUND_PRIVATE_ALLOWLIST}
    if host_port.lower() in allowed:
        return False
    host = host_port.rpartition(":")[0].strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a name: resolved at call time; cannot tell here
