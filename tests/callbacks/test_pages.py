"""Pages, CSV export, playback with Range, the API, replays and gap detection."""

import csv
import io
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallEvent, CallRecord, Delivery, RecordingPlayback
from tests.callbacks.http_fixture import WAV
from tests.factories import (
    BindingFactory,
    CallEventFactory,
    DeliveryFactory,
    ReviewedCallFactory,
    UserFactory,
)
from tests.payloads import (
    igw_call_start,
    igw_cdr,
    post_form,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("callbacks:call_record_list", []),
        ("callbacks:call_record_export", []),
        ("callbacks:delivery_list", []),
        ("callbacks:gap_list", []),
    ],
)
def test_pages_need_login_and_permission(client, nobody, name, args):
    url = reverse(name, args=args)
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(nobody)
    assert client.get(url).status_code == 403


def test_staff_sees_records_but_not_deliveries(staff_client):
    assert staff_client.get(reverse("callbacks:call_record_list")).status_code == 200
    assert staff_client.get(reverse("callbacks:delivery_list")).status_code == 403


def test_operator_cannot_export(operator_client):
    assert operator_client.get(reverse("callbacks:call_record_export")).status_code == 403


# ------------------------------------------------------------------ call record pages


def test_list_masks_numbers_for_staff(staff_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account)
    html = staff_client.get(reverse("callbacks:call_record_list")).content.decode()
    assert "138****8000" in html
    assert "13800138000" not in html


def test_list_shows_full_numbers_to_operators(operator_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account)
    html = operator_client.get(reverse("callbacks:call_record_list")).content.decode()
    assert "13800138000" in html


def test_list_filters(operator_client, igw_account, huawei_account):
    ReviewedCallFactory(vendor_account=igw_account, call_id="a", outcome="busy")
    ReviewedCallFactory(
        vendor_account=igw_account, call_id="b", call_at=datetime(2024, 3, 5, 10, tzinfo=UTC)
    )
    ReviewedCallFactory(
        vendor_account=huawei_account,
        call_id="c",
        caller="+8613700137000",
        recording_status="downloaded",
    )
    url = reverse("callbacks:call_record_list")

    def ids(**params):
        page = operator_client.get(url, params).context["page"]
        return sorted(r.call_id for r in page)

    assert ids(outcome="busy") == ["a"]
    assert ids(vendor_account=igw_account.pk) == ["a", "b"]
    assert ids(date_from="2024-03-02") == ["b"]
    assert ids(date_to="2024-03-01") == ["a", "c"]
    assert ids(q="137-0013") == ["c"]
    assert ids(q="b") == ["b"]  # no digits: a call id
    assert ids(has_recording="true") == ["c"]
    assert ids(has_recording="false") == ["a", "b"]
    # An unusable filter is said on the page, not silently ignored.
    response = operator_client.get(url, {"date_from": "garbage"})
    assert response.status_code == 200
    assert list(response.context["page"]) == []
    assert "date_from: Enter a date" in response.content.decode()


def test_detail_shows_events_and_player(staff_client, igw_account, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    record = ReviewedCallFactory(vendor_account=igw_account, recording_status="downloaded")
    record.recording_file.save("r.wav", ContentFile(WAV), save=True)
    CallEvent.objects.create(
        call_record=record, kind="call_start", occurred_at=record.call_at, caller=record.caller
    )
    html = staff_client.get(reverse("callbacks:call_record_detail", args=[record.pk])).content
    html = html.decode()
    assert "Call start" in html
    assert reverse("callbacks:recording_play", args=[record.pk]) in html
    assert "<audio" in html
    assert "/media/" not in html


# ------------------------------------------------------------------ playback


@pytest.fixture
def played(igw_account, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    record = ReviewedCallFactory(
        vendor_account=igw_account,
        recording_status="downloaded",
        recording_size=len(WAV),
        recording_content_type="audio/wav",
    )
    record.recording_file.save("r.wav", ContentFile(WAV), save=True)
    return record


def test_playback_whole_file(staff_client, played):
    response = staff_client.get(reverse("callbacks:recording_play", args=[played.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == WAV
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "audio/wav"
    assert "no-store" in response["Cache-Control"]
    playback = RecordingPlayback.objects.get()
    assert (playback.username, playback.status_code, playback.range) == ("staff", 200, "")


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(WAV) - 1),
        ("bytes=-10", len(WAV) - 10, len(WAV) - 1),
        ("bytes=800-99999", 800, len(WAV) - 1),
    ],
)
def test_playback_ranges(staff_client, played, header, first, last):
    response = staff_client.get(
        reverse("callbacks:recording_play", args=[played.pk]), HTTP_RANGE=header
    )
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == WAV[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(WAV)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert RecordingPlayback.objects.get().range == header


@pytest.mark.parametrize(
    "header", ["bytes=99999-", "bytes=10-5", "bytes=abc", "bytes=-0", "bytes=-"]
)
def test_playback_bad_range_is_416(staff_client, played, header):
    response = staff_client.get(
        reverse("callbacks:recording_play", args=[played.pk]), HTTP_RANGE=header
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(WAV)}"
    assert RecordingPlayback.objects.get().status_code == 416


def test_playback_needs_the_permission(client, nobody, played):
    url = reverse("callbacks:recording_play", args=[played.pk])
    assert client.get(url).status_code == 302
    client.force_login(nobody)
    assert client.get(url).status_code == 403
    assert not RecordingPlayback.objects.exists()


def test_playback_of_a_missing_recording_is_404(staff_client, igw_account):
    record = ReviewedCallFactory(vendor_account=igw_account)
    assert (
        staff_client.get(reverse("callbacks:recording_play", args=[record.pk])).status_code == 404
    )


# ------------------------------------------------------------------ API


def test_api_lists_and_filters_with_masking(staff_api, igw_account):
    record = ReviewedCallFactory(vendor_account=igw_account)
    CallEvent.objects.create(call_record=record, kind="answer", occurred_at=record.call_at)
    ReviewedCallFactory(vendor_account=igw_account, call_id="other", outcome="busy")
    data = staff_api.get("/api/v1/call-records/", {"outcome": "answered"}).json()
    assert len(data["results"]) == 1 and isinstance(data["estimated_count"], int)
    row = data["results"][0]
    assert row["caller"] == "138****8000"
    assert row["events"][0]["kind"] == "answer"
    detail = staff_api.get(f"/api/v1/call-records/{record.pk}/").json()
    assert detail["call_id"] == "c1"


def test_api_is_read_only_and_needs_permission(staff_api, api_client, igw_account):
    record = ReviewedCallFactory(vendor_account=igw_account)
    assert staff_api.post("/api/v1/call-records/", {}).status_code in (403, 405)
    assert staff_api.delete(f"/api/v1/call-records/{record.pk}/").status_code in (403, 405)
    assert api_client.get("/api/v1/call-records/").status_code in (401, 403)


def test_api_shows_full_numbers_to_operators(operator_api, igw_account):
    ReviewedCallFactory(vendor_account=igw_account)
    row = operator_api.get("/api/v1/call-records/").json()["results"][0]
    assert row["caller"] == "13800138000"


# ------------------------------------------------------------------ gaps


def test_gap_page_lists_calls_without_cdr(operator_client, client, igw_account, settings):
    binding = BindingFactory(
        x_number=None,
        kind="axb",
        vendor_account=igw_account,
        a_number="+8613800138000",
        b_number="+8613900139000",
        ttl=600,
        vendor_binding_id="sub-1",
        state="active",
    )
    post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    post_form(client, igw_account, "call-start", igw_call_start(igw_account, taskid="t2"))
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, taskid="t2"))
    assert CallRecord.objects.get(call_id="task-1").binding == binding
    old = timezone.now() - timedelta(minutes=11)
    CallRecord.objects.update(first_seen_at=old)
    response = operator_client.get(reverse("callbacks:gap_list"))
    page = response.context["page"]
    assert [r.call_id for r in page] == ["task-1"]
    bindings = list(response.context["bindings"])
    assert [(b.pk, b.missing_cdrs) for b in bindings] == [(binding.pk, 1)]
    settings.CALLBACKS_CDR_GAP_MINUTES = 30
    assert list(operator_client.get(reverse("callbacks:gap_list")).context["page"]) == []


def test_binding_match_prefers_the_binding_live_at_call_time(client, cyj_account):
    from privacy.models import Binding
    from tests.payloads import cyj_cdr, post_json

    def binding(created):
        b = BindingFactory(
            x_number=None,
            kind="cyj",
            vendor_account=cyj_account,
            a_number="+8618326000000",
            b_number="+8618516000000",
            ttl=600,
            vendor_binding_id="17118230000",
            state="released",
        )
        Binding.objects.filter(pk=b.pk).update(created_at=created)
        return b

    old = binding(datetime(2023, 12, 31, tzinfo=UTC))
    binding(datetime(2024, 6, 1, tzinfo=UTC))  # a later reuse of the same virtual number
    post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account))  # call on 2024-01-01
    assert CallRecord.objects.get().binding == old


def test_delivery_pages_mask_numbers_in_reasons(client, igw_account):
    """A vendor body refused for a bad field echoes the value, which may be a number."""
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, beginTime="x13811110001"))
    delivery = Delivery.objects.get()
    assert "13811110001" in delivery.reason
    viewer = UserFactory(username="inbox-viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)
    for url in (
        reverse("callbacks:delivery_list"),
        reverse("callbacks:delivery_detail", args=[delivery.pk]),
    ):
        html = client.get(url).content.decode()
        assert "138****0001" in html
        assert "13811110001" not in html, url


# ------------------------------------------------------------------ out-of-range stored times

FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # igw epoch 253402300799


@pytest.fixture
def far_record(igw_account):
    """A record stored before times were bounded (inserted directly)."""
    binding = BindingFactory(vendor_account=igw_account)
    record = ReviewedCallFactory(
        vendor_account=igw_account,
        call_id="far",
        call_at=FAR,
        begin_at=FAR,
        ring_at=FAR,
        answer_at=FAR,
        release_at=FAR,
        binding=binding,
    )
    CallEvent.objects.create(call_record=record, kind="answer", occurred_at=FAR)
    gap = ReviewedCallFactory(
        vendor_account=igw_account,
        call_id="far-gap",
        has_cdr=False,
        outcome="",
        call_at=FAR,
        binding=binding,
        first_seen_at=timezone.now() - timedelta(hours=1),
    )
    CallEvent.objects.create(call_record=gap, kind="answer", occurred_at=FAR)
    return record


def test_pages_survive_an_out_of_range_stored_time(client, administrator, far_record):
    client.force_login(administrator)
    pages = [
        reverse("callbacks:call_record_list"),
        reverse("callbacks:call_record_detail", args=[far_record.pk]),
        reverse("callbacks:call_record_export"),
        reverse("callbacks:gap_list"),
        reverse("privacy:binding_detail", args=[far_record.binding_id]),
        reverse("admin:callbacks_callrecord_changelist"),
        reverse("admin:callbacks_callrecord_change", args=[far_record.pk]),
        "/api/v1/call-records/",
        f"/api/v1/call-records/{far_record.pk}/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        if page != reverse("callbacks:call_record_export"):
            assert "9999-12-31" in response.content.decode(), page


def test_administrator_can_delete_a_call_record_in_the_admin(
    client,
    administrator,
    operator,
    far_record,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    settings.MEDIA_ROOT = tmp_path
    far_record.recording_file.save("recordings/far.wav", ContentFile(WAV))
    path = far_record.recording_file.path
    url = reverse("admin:callbacks_callrecord_delete", args=[far_record.pk])
    client.force_login(operator)  # staff, but no delete permission
    assert client.post(url, {"post": "yes"}).status_code == 403
    client.force_login(administrator)
    assert client.get(url).status_code == 200  # the confirmation page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not CallRecord.objects.filter(pk=far_record.pk).exists()
    assert not CallEvent.objects.filter(call_record_id=far_record.pk).exists()
    assert not os.path.exists(path)


def test_rejected_huawei_push_is_replayable_with_skip_auth_from_the_page(
    operator_client, client, huawei_account
):
    import json

    from tests.payloads import huawei_status, post_huawei

    post_huawei(client, huawei_account, "status", huawei_status("answer"), sign=False)
    delivery = Delivery.objects.get()
    assert delivery.outcome == "rejected_auth"
    detail = operator_client.get(reverse("callbacks:delivery_detail", args=[delivery.pk]))
    replay = reverse("callbacks:delivery_replay", args=[delivery.pk])
    assert f"{replay}?skip_auth=1" in detail.content.decode()
    confirm = operator_client.get(replay, {"skip_auth": "1"}).content.decode()
    assert 'name="skip_auth" value="1"' in confirm and "NOT checked" in confirm
    operator_client.post(replay)  # re-checked: still unsigned
    assert Delivery.objects.get().outcome == "rejected_auth"
    operator_client.post(replay, {"skip_auth": "1"})
    delivery.refresh_from_db()
    assert delivery.outcome == "accepted" and delivery.attempts == 3
    assert json.loads(bytes(delivery.body))["eventType"] == "answer"
    assert CallEvent.objects.get().kind == "answer"


# ------------------------------------------------------------------ what the pages say


def _field(html: str, label: str) -> str:
    """The text of one <dt>label</dt><dd>…</dd> of a detail page, tags stripped."""
    import re

    dd = re.search(rf"<dt>{label}</dt><dd[^>]*>(.*?)</dd>", html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", dd).split())


def test_detail_says_the_outcome_once(staff_client, igw_account):
    record = ReviewedCallFactory(
        vendor_account=igw_account, raw_code="answered", raw_text="呼叫成功"
    )
    html = staff_client.get(reverse("callbacks:call_record_detail", args=[record.pk])).content
    assert _field(html.decode(), "Outcome") == "answered"
    assert _field(html.decode(), "Vendor result") == "呼叫成功"


def test_detail_shows_a_vendor_code_that_differs_from_the_outcome(staff_client, igw_account):
    record = ReviewedCallFactory(
        vendor_account=igw_account, outcome="busy", raw_code="486", raw_text=""
    )
    html = staff_client.get(reverse("callbacks:call_record_detail", args=[record.pk])).content
    assert _field(html.decode(), "Outcome") == "busy"
    assert _field(html.decode(), "Vendor result") == (
        "486 (a code the vendor's document does not list)"
    )


def test_detail_explains_a_documented_vendor_code(staff_client, igw_account):
    record = ReviewedCallFactory(vendor_account=igw_account, outcome="busy", raw_code="17")
    html = staff_client.get(reverse("callbacks:call_record_detail", args=[record.pk])).content
    assert _field(html.decode(), "Vendor result") == "17 用户忙"


def test_detail_links_its_binding_and_the_list(staff_client, igw_account):
    binding = BindingFactory(vendor_account=igw_account)
    record = ReviewedCallFactory(
        vendor_account=igw_account, binding=binding, vendor_binding_id="sub-1"
    )
    html = staff_client.get(reverse("callbacks:call_record_detail", args=[record.pk])).content
    html = html.decode()
    binding_url = reverse("privacy:binding_detail", args=[binding.pk])
    assert f'<a href="{binding_url}">Binding #{binding.pk}</a>' in html
    assert f'href="{reverse("callbacks:call_record_list")}"' in html.split("</header>")[1]


def test_pages_and_csv_write_times_alike_in_the_console_zone(client, staff_user, igw_account):
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(Permission.objects.get(codename="export_callrecord"))
    client.force_login(staff_user)
    at = datetime(2026, 11, 29, 21, 25, tzinfo=UTC)  # 05:25 the next day in Shanghai
    record = ReviewedCallFactory(vendor_account=igw_account, call_at=at, begin_at=at)
    listing = client.get(reverse("callbacks:call_record_list")).content.decode()
    detail = client.get(reverse("callbacks:call_record_detail", args=[record.pk])).content
    assert "2026-11-30 05:25" in listing and "2026-11-30 05:25" in detail.decode()
    response = client.get(reverse("callbacks:call_record_export"))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(body)))[:2]
    assert row[header.index("call_at")] == "2026-11-30T05:25:00+08:00"
    assert row[header.index("begin_at")] == "2026-11-30T05:25:00+08:00"
    assert "+00:00" not in body


def test_list_pages_follow_next_and_previous_links(staff_client, igw_account, monkeypatch):
    from core import pagination

    monkeypatch.setattr(pagination, "PAGE_SIZE", 2)
    for i in range(5):
        ReviewedCallFactory(vendor_account=igw_account, call_id=f"c{i}", duration=i)
    url = reverse("callbacks:call_record_list")
    seen, query = [], "sort=-duration"
    while query is not None:
        response = staff_client.get(f"{url}?{query}")
        seen += [r.call_id for r in response.context["page"]]
        found = re.search(r'href="\?([^"]+)" rel="next"', response.content.decode())
        query = found.group(1).replace("&amp;", "&") if found else None
    assert seen == ["c4", "c3", "c2", "c1", "c0"]
    assert "sort=-duration" in response.content.decode()  # the filter state stays in links
    assert 'rel="prev"' in response.content.decode()


def test_detail_timeline_from_events_with_post_dial_delay(staff_client, igw_account):
    record = ReviewedCallFactory(vendor_account=igw_account)
    start = record.call_at
    for kind, seconds in (("call_start", 0), ("alerting", 2.5), ("answer", 9), ("disconnect", 69)):
        CallEventFactory(
            call_record=record, kind=kind, occurred_at=start + timedelta(seconds=seconds)
        )
    html = staff_client.get(reverse("callbacks:call_record_detail", args=[record.pk])).content
    text = " ".join(re.sub(r"<[^>]+>", " ", html.decode()).split())
    assert "+2.5 s Ringing" in text and "+69.0 s Released" in text
    assert "Post-dial delay: 2.5 s · ringing: 6.5 s · talk: 60.0 s" in text


def test_deliveries_of_a_call_are_shown_to_operators_only(operator_client, staff_user, igw_account):
    from django.test import Client

    staff_client = Client()
    staff_client.force_login(staff_user)
    record = ReviewedCallFactory(vendor_account=igw_account, call_at=timezone.now())
    mine = DeliveryFactory(vendor_account=igw_account, call_ids=[record.call_id])
    DeliveryFactory(vendor_account=igw_account, call_ids=["another"])
    url = reverse("callbacks:call_record_detail", args=[record.pk])
    assert [d.pk for d in operator_client.get(url).context["deliveries"]] == [mine.pk]
    assert staff_client.get(url).context["deliveries"] is None
