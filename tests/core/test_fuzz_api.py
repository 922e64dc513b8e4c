"""The whole OpenAPI schema, property-tested by schemathesis against the live server.

Every operation gets generated requests, valid and invalid (wrong types, missing
fields, huge numbers, odd strings), as an operator with a token; the only check is
that no answer is a 5xx. Celery is not eager here (mark `worker`) and no worker
consumes the throwaway queue, so bindings the fuzzer creates never call a vendor.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.factories import (
    BindingFactory,
    CallRecordFactory,
    PrivacyNumberFactory,
    VendorAccountFactory,
)

pytestmark = pytest.mark.worker


@pytest.fixture
def quiet_queue():
    """Tasks the API enqueues go to a queue nobody reads, emptied afterwards."""
    from ccp_console.celery import app

    queue = f"fuzz-{uuid.uuid4().hex}"
    app.conf.task_default_queue = queue
    yield
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
    app.conf.task_default_queue = "celery"


@pytest.fixture
def auth(operator) -> dict[str, str]:
    from rest_framework.authtoken.models import Token

    return {"Authorization": f"Token {Token.objects.create(user=operator).key}"}


@pytest.fixture
def api_schema(live_server, auth, quiet_queue):
    account = VendorAccountFactory(vendor="igw")
    binding = BindingFactory(vendor_account=account)
    PrivacyNumberFactory(vendor_account=account)
    CallRecordFactory(vendor_account=account, binding=binding)
    loaded = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/", headers=auth)
    # The coverage phase sends every boundary case of every body field (minutes for
    # the write operations); the fuzzing phase, bounded below, keeps the run short.
    loaded.config.phases.coverage.enabled = False
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_operation_answers_5xx(case, auth):
    case.call_and_validate(headers=auth, checks=[not_a_server_error])
