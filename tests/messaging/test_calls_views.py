"""Pages for two-way calls and voice codes: send forms (operators only), lists with
filters and pagination, details with what the vendor called back, polling fragments,
navigation and home tiles, masking for business staff."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from messaging.models import TwoWayCall, VoiceCode
from tests.messaging.calls_support import *  # noqa: F403
from tests.messaging.calls_support import CODE, A, B, play

pytestmark = pytest.mark.django_db(transaction=True)


def test_operator_sends_a_two_way_call_from_the_page(console_account, operator_client):
    account = console_account("ccp")
    sub = account.sub_accounts.get()
    form = operator_client.get("/messaging/two-way-calls/new/")
    assert form.status_code == 200 and sub.friendly_name in form.content.decode()
    response = operator_client.post(
        "/messaging/two-way-calls/new/",
        {"vendor_account": account.pk, "from_number": A, "to_number": B, "max_call_time": "60"},
        follow=True,
    )
    row = TwoWayCall.objects.get()
    assert response.redirect_chain[-1][0] == f"/messaging/two-way-calls/{row.pk}/"
    assert "sent to the vendor" in response.content.decode()
    play(row.call_sid, duration=7)
    page = operator_client.get(f"/messaging/two-way-calls/{row.pk}/").content.decode()
    assert "Call start" in page and "Answer" in page and "answered" in page
    assert row.call_sid in page


def test_form_errors_are_shown_not_500(console_account, operator_client):
    account = console_account("ccp")
    response = operator_client.post(
        "/messaging/two-way-calls/new/",
        {"vendor_account": account.pk, "from_number": "12", "to_number": B, "terminal_dtmf": "x"},
    )
    assert response.status_code == 200 and TwoWayCall.objects.count() == 0
    assert "is not" in response.content.decode()


def _staff(staff_user):
    # operator_client and staff_client share one test client: log staff in on another.
    staff = Client()
    staff.force_login(staff_user)
    return staff


def test_voice_code_page_never_shows_the_code(console_account, operator_client, staff_user):
    staff_client = _staff(staff_user)
    account = console_account("huawei")
    data = {
        "vendor_account": account.pk,
        "callee_number": "13800000021",
        "verify_code": CODE,
        "pre_tone": "welcome.wav",
        "times": "2",
    }
    bad = operator_client.post("/messaging/voice-codes/new/", {**data, "times": "12"})
    assert bad.status_code == 200 and CODE not in bad.content.decode()  # not rendered back
    response = operator_client.post("/messaging/voice-codes/new/", data, follow=True)
    row = VoiceCode.objects.get()
    play(row.session_id, outcome="no_answer")
    pages = [
        response,
        operator_client.get(f"/messaging/voice-codes/{row.pk}/"),
        operator_client.get("/messaging/voice-codes/"),
        staff_client.get(f"/messaging/voice-codes/{row.pk}/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert CODE not in page.content.decode()
    detail = pages[1].content.decode()
    assert "****" in detail and "no_answer" in detail and "Disconnect" in detail
    assert "138****0021" in pages[3].content.decode()
    assert staff_client.get("/messaging/voice-codes/new/").status_code == 403


def test_lists_filter_and_paginate_and_pending_rows_poll(console_account, operator_client):
    account = console_account("huawei")
    for n in range(30):
        VoiceCode.objects.create(vendor_account=account, callee_number=f"+86138000001{n:02d}")
    VoiceCode.objects.create(vendor_account=account, callee_number="+8613900000001", state="sent")
    page = operator_client.get("/messaging/voice-codes/").content.decode()
    assert "/messaging/voice-codes/" in page and "data-poll-url" in page
    sent = operator_client.get("/messaging/voice-codes/?state=sent&recipient=13900000001")
    assert len(re.findall(r'href="/messaging/voice-codes/\d+/"', sent.content.decode())) == 1
    assert "data-poll-url" not in sent.content.decode()
    pending = VoiceCode.objects.filter(state="pending").first()
    fragment = operator_client.get(f"/messaging/voice-codes/{pending.pk}/state/").content.decode()
    assert "data-poll-url" in fragment and "Pending" in fragment
    for bad in ("state=nope", "created_from=yesterday", "vendor_account=x", "recipient=%00"):
        response = operator_client.get("/messaging/voice-codes/?" + bad)
        assert response.status_code == 200 and 'class="error"' in response.content.decode(), bad
    assert operator_client.get("/messaging/voice-codes/?page=2").status_code == 200


def test_navigation_and_home(operator_client, staff_user):
    staff_client = _staff(staff_user)
    home = operator_client.get("/").content.decode()
    assert "Two-way calls" in home and "Voice codes" in home
    assert "Voice codes failed (24 h)" in home
    staff_home = staff_client.get("/").content.decode()
    assert 'href="/messaging/voice-codes/"' in staff_home


def test_the_call_section_polls_until_the_cdr_comes(console_account, operator_client):
    account = console_account("huawei")
    operator_client.post(
        "/messaging/voice-codes/new/",
        {
            "vendor_account": account.pk,
            "callee_number": "13800000021",
            "verify_code": CODE,
            "pre_tone": "w.wav",
        },
    )
    row = VoiceCode.objects.get()
    detail = operator_client.get(f"/messaging/voice-codes/{row.pk}/").content.decode()
    progress_url = f"/messaging/voice-codes/{row.pk}/progress/"
    assert f'data-poll-url="{progress_url}"' in detail
    play(row.session_id, outcome="busy")
    fragment = operator_client.get(progress_url).content.decode()
    assert fragment.lstrip().startswith("<section") and "data-poll-url" not in fragment
    assert "busy" in fragment and "Disconnect" in fragment
