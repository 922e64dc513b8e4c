"""SMS end to end on a real Celery worker: API → broker → worker → sandbox over HTTP."""

import time

import pytest

from messaging.models import Message
from sandbox.models import SandboxMessage, SandboxRequest

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(message: Message, *states: str, timeout: float = 30) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.state in states:
            return message
        time.sleep(0.1)
    raise AssertionError(f"message {message.pk} is {message.state}, expected {states}")


@pytest.mark.worker
def test_sms_end_to_end_on_a_real_worker(ccp, celery_worker_process, operator_api):
    response = operator_api.post(
        "/api/v1/sms/",
        {"vendor_account": ccp.pk, "to": ["13800000001", "13800000002"], "body": "hello"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="e2e-1",
    )
    assert response.status_code == 202 and response.json()["state"] == "pending"
    message = wait_for(Message.objects.get(pk=response.json()["id"]), "sent", "failed", "partial")
    assert message.state == "sent", (message.error_code, message.error_text)
    vendor_side = SandboxMessage.objects.get()
    assert vendor_side.to == "13800000001,13800000002"
    assert set(message.recipients.values_list("sms_message_sid", flat=True)) == {
        vendor_side.message_sid
    }
    assert SandboxRequest.objects.get(path__endswith="/SMS/Messages").verdict == "ok"
    # The client retries its POST: same key, same message, nothing sent again.
    again = operator_api.post(
        "/api/v1/sms/",
        {"vendor_account": ccp.pk, "to": ["13800000001", "13800000002"], "body": "hello"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="e2e-1",
    )
    assert (again.status_code, again.json()["id"]) == (200, message.pk)
    time.sleep(1)
    assert SandboxMessage.objects.count() == 1
