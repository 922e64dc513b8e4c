"""Fixtures for the accounts tests: a ccp account served by the sandbox over real HTTP."""

import pytest

from sandbox.protocol import base_path
from sandbox.services import ensure_sandbox_account
from tests.factories import VendorAccountFactory


@pytest.fixture
def ccp_account(live_server, transactional_db):
    """A ccp VendorAccount whose base_url is the sandbox served by live_server."""
    account = VendorAccountFactory(
        vendor="ccp", base_url=live_server.url + base_path("ccp"), account_id="c" * 32
    )
    ensure_sandbox_account(vendor_account=account)
    return account


@pytest.fixture
def ccp_sandbox(ccp_account):
    """The sandbox's mirror of ccp_account (make sub-accounts "elsewhere" on it)."""
    from sandbox.models import SandboxAccount

    return SandboxAccount.objects.get(vendor="ccp", account_id=ccp_account.account_id)
