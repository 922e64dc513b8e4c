"""Fixtures of the callbacks tests: one vendor account per vendor code.

The payload builders and post helpers they are used with are in tests/payloads.py.
"""

import pytest

from tests.factories import VendorAccountFactory


@pytest.fixture
def igw_account(db):
    return VendorAccountFactory(vendor="igw", account_id="10000000", app_id="app-igw")


@pytest.fixture
def huawei_account(db):
    return VendorAccountFactory(
        vendor="huawei", account_id="ZRBRz4bAXoFgEH7o4Ew308eXc1RA", app_id=""
    )


@pytest.fixture
def ccp_account(db):
    return VendorAccountFactory(vendor="ccp", account_id="a" * 32, app_id="ccp-app")


@pytest.fixture
def cyj_account(db):
    return VendorAccountFactory(vendor="cyj", account_id="cyj-sid", app_id="cyj-app")
