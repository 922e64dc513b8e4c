"""Demo data for the quick start: one user per role, and a vendor account per vendor
pointed at the built-in sandbox, each with a small pool of X numbers.

Idempotent: running it again changes nothing that exists, except that a demo
account missing recording_hosts gets the sandbox's host:port (older quick starts
did not set it, and recordings then never downloaded).
"""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand

from accounts import services
from accounts.models import PrivacyNumber, VendorAccount
from accounts.roles import ADMINISTRATORS, BUSINESS_STAFF, OPERATORS

DEMO_USERS = [
    # username, password, role, is_staff, is_superuser
    ("operator", "operator-demo-1", OPERATORS, True, False),
    ("staff", "staff-demo-1", BUSINESS_STAFF, False, False),
    ("admin", "admin-demo-1", ADMINISTRATORS, True, True),
]

# Credentials of the demo accounts: the sandbox accepts them; they are not real.
DEMO_ACCOUNTS = [
    {
        "vendor": "ccp",
        "name": "Demo CCP",
        "path": "ccp/2013-12-26",
        "account_id": "8a216da8000000000000000000000001",
        "secret": "demo0ccp0auth0token0000000000001",
        "app_id": "8a216da8000000000000000000000a01",
        "extra": {"format": "json", "platform_mac": "EC-55-F9-C7-62-CE"},
        "numbers": [],
    },
    {
        "vendor": "igw",
        "name": "Demo IGW",
        "path": "igw",
        "account_id": "10000000",
        "secret": "demo-igw-auth-key-0001",
        "app_id": "demo-igw-app",
        "extra": {"max_bindings_per_x": 200},
        "numbers": [
            ("+8617000000001", "010"),
            ("+8617000000002", "010"),
            ("+8617000000003", "021"),
        ],
    },
    {
        "vendor": "huawei",
        "name": "Demo Huawei",
        "path": "huawei",
        "account_id": "ZRBRz4bAXoFgEH7o4Ew308eXc1RA",
        "secret": "demo-huawei-app-secret-0001",
        "app_id": "",
        "extra": {"push_signature": "require", "display_number": "+8675528000088"},
        "numbers": [],
    },
    {
        "vendor": "cyj",
        "name": "Demo CYJ",
        "path": "cyj",
        "account_id": "demoCyjAccountToken000000000000001",
        "secret": "demoCyjAccountToken000000000000001",
        "app_id": "774e5e14a0874725bfb90351f1e84f67",
        "extra": {},
        "numbers": [("+8617118230001", "021"), ("+8617118230002", "021")],
    },
]


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
        for spec in DEMO_ACCOUNTS:
            # The sandbox's recording links point at the console itself, often on
            # loopback: recordings need that exact host:port listed (and allowed).
            extra = {**spec["extra"], "recording_hosts": [sandbox_host]}
            account = VendorAccount.objects.filter(name=spec["name"]).first()
            if account is None:
                account = services.vendor_account_create(
                    vendor=spec["vendor"],
                    name=spec["name"],
                    base_url=f"{base}/sandbox/{spec['path']}",
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
