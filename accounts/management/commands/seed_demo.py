"""Demo data for the quick start: one user per role, and a vendor account per vendor
pointed at the built-in sandbox, each with a small pool of X numbers.

Idempotent: running it again changes nothing that exists.
"""

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
        for spec in DEMO_ACCOUNTS:
            account = VendorAccount.objects.filter(name=spec["name"]).first()
            if account is None:
                account = services.vendor_account_create(
                    vendor=spec["vendor"],
                    name=spec["name"],
                    base_url=f"{base}/sandbox/{spec['path']}",
                    account_id=spec["account_id"],
                    secret=spec["secret"],
                    app_id=spec["app_id"],
                    extra=spec["extra"],
                )
            for number, area_code in spec["numbers"]:
                if not PrivacyNumber.objects.filter(number=number).exists():
                    services.number_create(
                        vendor_account=account, number=number, area_code=area_code, note="demo"
                    )
            if settings.SANDBOX_ENABLED:
                from sandbox.services import ensure_sandbox_account

                ensure_sandbox_account(vendor_account=account)

        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Open {base}/ and log in as:"))
        for username, password, role, _staff, _super in DEMO_USERS:
            self.stdout.write(f"  {username:<9} / {password:<16} ({role})")
