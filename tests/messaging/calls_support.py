"""Fixtures for the two-way call and voice code tests: vendor accounts whose base URL
is the sandbox on the live server, and whose callback URLs are the live server's own
/callbacks/, so what the sandbox calls back flows into the console under test.
Imported by the test modules (`from tests.messaging.calls_support import *`)."""

from __future__ import annotations

import pytest

from accounts.selectors import vendor_client
from sandbox import services as sandbox
from sandbox.models import SandboxCall
from sandbox.protocol import base_path
from tests.callbacks.test_end_to_end import wait_for
from tests.factories import VendorAccountFactory
from vendors import RetryPolicy

CODE = "73914062"  # the verification code the secrecy tests look for
A = "13800000001"
B = "13900000002"

__all__ = ["CODE", "A", "B", "console_account", "play", "wait_for"]


@pytest.fixture
def console_account(live_server, settings):
    """console_account("ccp"|"huawei", **fields): an account on the sandbox; ccp ones
    get a sub-account created at the sandbox (the one a two-way call is signed with)."""
    settings.PUBLIC_BASE_URL = live_server.url

    def make(code: str, *, sub_accounts: int = 1, **fields):
        extra = fields.pop("extra", {})
        if code == "huawei":
            extra = {"display_number": "+8675528000088", **extra}
        account = VendorAccountFactory(
            vendor=code, base_url=live_server.url + base_path(code), extra=extra, **fields
        )
        account.sandbox = sandbox.ensure_sandbox_account(vendor_account=account)
        client = vendor_client(
            account=account, retry=RetryPolicy(max_attempts=1, backoff=0, jitter=False)
        )
        for n in range(sub_accounts if code == "ccp" else 0):
            made = client.create_sub_account(f"calls-{n}")
            account.sub_accounts.create(
                sub_account_sid=made.sub_account_sid,
                sub_token=made.sub_token,
                friendly_name=made.friendly_name,
                **_active(),
            )
        return account

    return make


def _active() -> dict:
    from accounts.models import SubAccount

    return {"state": "active"} if hasattr(SubAccount, "State") else {}


def play(call_id: str, **kwargs) -> SandboxCall:
    """Let the sandbox play the call the vendor API was asked for, callbacks included."""
    return sandbox.play_call(call=SandboxCall.objects.get(call_id=call_id), **kwargs)
