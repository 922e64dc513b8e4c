"""/api/v1/two-way-calls/ and /api/v1/voice-codes/: create → 202 (Idempotency-Key
replay 200, conflict 409, rate limit 429 with Retry-After), list filters, detail with
the attached events and CDR, masking for business staff, the schema."""

from __future__ import annotations

import pytest

from messaging.models import SendPolicy, TwoWayCall, VoiceCode
from sandbox.models import SandboxCall
from tests.messaging.calls_support import *  # noqa: F403
from tests.messaging.calls_support import CODE, A, B, play

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_way_call_create_replay_conflict_and_detail(console_account, operator_api, staff_api):
    account = console_account("ccp")
    body = {"vendor_account": account.pk, "from_number": A, "to_number": B, "max_call_time": 60}
    first = operator_api.post(
        "/api/v1/two-way-calls/", body, format="json", HTTP_IDEMPOTENCY_KEY="t1"
    )
    assert first.status_code == 202, first.json()
    data = first.json()
    # Eager tasks: sent by the time we answer; a worker would leave it pending.
    assert data["state"] == "sent" and data["call_sid"] and data["options"] == {"max_call_time": 60}
    again = operator_api.post(
        "/api/v1/two-way-calls/", body, format="json", HTTP_IDEMPOTENCY_KEY="t1"
    )
    assert (again.status_code, again.json()["id"]) == (200, data["id"])
    other = operator_api.post(
        "/api/v1/two-way-calls/", {**body, "to_number": A}, format="json", HTTP_IDEMPOTENCY_KEY="t1"
    )
    assert other.status_code == 409
    assert SandboxCall.objects.count() == 1

    play(data["call_sid"], duration=12)
    detail = operator_api.get(f"/api/v1/two-way-calls/{data['id']}/").json()
    assert detail["call"]["outcome"] == "answered" and detail["call"]["record"]["duration"] == 12
    assert [e["kind"] for e in detail["call"]["events"]] == ["call_start", "answer"]
    assert detail["from_number"] == A
    masked = staff_api.get(f"/api/v1/two-way-calls/{data['id']}/").json()
    assert masked["from_number"] == "138****0001" and masked["to_number"] == "139****0002"
    assert staff_api.post("/api/v1/two-way-calls/", body, format="json").status_code == 403


def test_two_way_call_bad_input_is_400(console_account, operator_api):
    account = console_account("ccp")
    for body in (
        {"vendor_account": account.pk, "from_number": "12", "to_number": B},
        {"vendor_account": account.pk, "from_number": A, "to_number": B, "terminal_dtmf": "x"},
        {"vendor_account": account.pk, "from_number": A, "to_number": B, "max_call_time": 10**30},
        {"vendor_account": 10**30, "from_number": A, "to_number": B},
        {"vendor_account": account.pk, "from_number": "\x00", "to_number": B},
    ):
        response = operator_api.post("/api/v1/two-way-calls/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["message"] == "Validation error"
    assert TwoWayCall.objects.count() == 0


def test_voice_code_api_never_shows_the_code_and_caps_with_429(console_account, operator_api):
    account = console_account("huawei")
    SendPolicy.objects.create(vendor_account=account, recipient_per_hour=1)
    body = {
        "vendor_account": account.pk,
        "callee_number": "13800000021",
        "verify_code": CODE,
        "pre_tone": "welcome.wav",
    }
    created = operator_api.post("/api/v1/voice-codes/", body, format="json")
    assert created.status_code == 202, created.json()
    data = created.json()
    assert data["verify_code"] == "****" and data["code_length"] == 8 and data["session_id"]
    capped = operator_api.post("/api/v1/voice-codes/", body, format="json")
    assert capped.status_code == 429 and int(capped["Retry-After"]) > 0
    assert "to one number" in capped.json()["message"]
    assert VoiceCode.objects.count() == 1 and SandboxCall.objects.count() == 1

    play(data["session_id"], outcome="busy")
    detail = operator_api.get(f"/api/v1/voice-codes/{data['id']}/")
    assert detail.json()["call"]["outcome"] == "busy"
    assert detail.json()["call"]["last_event"] == "disconnect"
    for response in (created, capped, detail, operator_api.get("/api/v1/voice-codes/")):
        assert CODE not in response.content.decode()


def test_voice_code_filters(console_account, operator_api, staff_api):
    account = console_account("huawei")
    other = console_account("huawei")
    VoiceCode.objects.create(vendor_account=account, callee_number="+8613800000021", state="sent")
    VoiceCode.objects.create(vendor_account=other, callee_number="+8613800000022", state="failed")

    def ids(api, query):
        response = api.get("/api/v1/voice-codes/?" + query)
        assert response.status_code == 200, response.json()
        return [row["callee_number"] for row in response.json()["results"]]

    assert ids(operator_api, "state=sent") == ["13800000021"]
    assert ids(operator_api, f"vendor_account={other.pk}") == ["13800000022"]
    assert ids(operator_api, "recipient=%2B8613800000022") == ["13800000022"]
    assert ids(operator_api, "created_from=2000-01-01&created_to=2999-12-31") != []
    assert ids(staff_api, "recipient=13800000021") == ["138****0021"]
    for bad in (
        "state=nope",
        "vendor_account=99999999999999999999",
        "created_from=x",
        "recipient=%00",
    ):
        assert operator_api.get("/api/v1/voice-codes/?" + bad).status_code == 400, bad


def test_schema_documents_both_endpoints_with_examples(operator_api):
    schema = operator_api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/two-way-calls/", "/api/v1/voice-codes/{id}/", "Idempotency-Key"):
        assert path in text
    assert "Voice code" in text and "****" in text and "429" in text
