"""End to end with a real Celery worker: API → worker → sandbox → callbacks → the
right record, for a two-way call and a voice code; and the verification code appears
in no log line (this process's, the live server's, the worker's), page or API answer."""

from __future__ import annotations

import logging

import pytest

from ccp_console.celery import app
from messaging.models import TwoWayCall, VoiceCode
from tests.conftest import ROOT
from tests.messaging.calls_support import *  # noqa: F403
from tests.messaging.calls_support import CODE, A, B, play, wait_for
from tests.payloads import nothing_queued

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_env(live_server, monkeypatch):
    """The worker process builds push URLs from PUBLIC_BASE_URL: the live server's."""
    monkeypatch.setenv("PUBLIC_BASE_URL", live_server.url)


def _settled(model, pk):
    return model.objects.filter(pk=pk).exclude(state="pending").exists()


def test_two_way_calls_through_the_worker_attach_their_own_callbacks(
    worker_env, console_account, celery_worker_process, operator_api
):
    account = console_account("ccp")
    ids = []
    for to in (B, "13900000003"):
        body = {"vendor_account": account.pk, "from_number": A, "to_number": to}
        response = operator_api.post("/api/v1/two-way-calls/", body, format="json")
        assert response.status_code == 202 and response.json()["state"] == "pending"
        ids.append(response.json()["id"])
    assert wait_for(lambda: all(_settled(TwoWayCall, pk) for pk in ids))
    first, second = (TwoWayCall.objects.get(pk=pk) for pk in ids)
    assert first.state == second.state == "sent" and first.call_sid != second.call_sid
    play(first.call_sid, duration=11)
    play(second.call_sid, outcome="busy")
    assert wait_for(nothing_queued)  # the worker normalizes what the webhook took
    one = operator_api.get(f"/api/v1/two-way-calls/{first.pk}/").json()["call"]
    two = operator_api.get(f"/api/v1/two-way-calls/{second.pk}/").json()["call"]
    assert (one["outcome"], one["record"]["duration"]) == ("answered", 11)
    assert [e["kind"] for e in one["events"]] == ["call_start", "answer"]
    assert (two["outcome"], [e["kind"] for e in two["events"]]) == ("busy", ["call_start"])


def test_voice_code_end_to_end_and_the_code_is_nowhere(
    worker_env, console_account, celery_worker_process, operator_api, operator_client, caplog
):
    caplog.set_level(logging.DEBUG)
    account = console_account("huawei")
    body = {
        "vendor_account": account.pk,
        "callee_number": "13800000021",
        "verify_code": CODE,
        "pre_tone": "welcome.wav",
    }
    created = operator_api.post(
        "/api/v1/voice-codes/", body, format="json", HTTP_IDEMPOTENCY_KEY="e2e"
    )
    assert created.status_code == 202
    pk = created.json()["id"]
    assert wait_for(lambda: _settled(VoiceCode, pk))
    row = VoiceCode.objects.get(pk=pk)
    assert row.state == "sent" and row.session_id and row.code == ""
    replay = operator_api.post(
        "/api/v1/voice-codes/", body, format="json", HTTP_IDEMPOTENCY_KEY="e2e"
    )
    assert (replay.status_code, replay.json()["id"]) == (200, pk)
    play(row.session_id, outcome="answered", duration=6)
    assert wait_for(nothing_queued)
    detail = operator_api.get(f"/api/v1/voice-codes/{pk}/")
    call = detail.json()["call"]
    assert call["outcome"] == "answered" and call["record"]["has_cdr"]
    assert [e["kind"] for e in call["events"]] == ["callout", "alerting", "answer", "disconnect"]

    answers = [
        created,
        replay,
        detail,
        operator_api.get("/api/v1/voice-codes/"),
        operator_client.get("/messaging/voice-codes/"),
        operator_client.get(f"/messaging/voice-codes/{pk}/"),
        operator_client.get(f"/messaging/voice-codes/{pk}/state/"),
        operator_client.get("/calls/"),
    ]
    for answer in answers:
        assert CODE not in answer.content.decode(), answer
    worker_log = ROOT / f".worker-{app.conf.task_default_queue}.log"
    worker_output = worker_log.read_text()
    assert "voice_code_send" in worker_output  # the log is the worker's, and it ran
    assert CODE not in worker_output
    assert caplog.records and CODE not in caplog.text
    for record in caplog.records:
        assert CODE not in str(record.args) and CODE not in record.getMessage()
