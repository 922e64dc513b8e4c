"""Recording downloads: scheduling on commit, storage, retries with backoff, expiry,
the sweeper, and the cyj recording API."""

import hashlib
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from callbacks import recordings, services, tasks
from callbacks.models import CallRecord
from tests.callbacks.http_fixture import WAV, Reply, Server
from tests.payloads import cyj_cdr, igw_cdr, post_form, post_json, url_for
from vendors.types import RecordingInfo

pytestmark = pytest.mark.django_db


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CALLBACKS_RECORDING_DELAY_SECONDS = 0
    settings.CALLBACKS_RECORDING_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def account(igw_account, server, allow_outbound):
    allow_outbound(server.host)
    igw_account.extra = {"recording_hosts": [server.host]}
    igw_account.save()
    return igw_account


def make_record(account, url, **fields):
    now = timezone.now()
    return CallRecord.objects.create(
        vendor_account=account,
        vendor=account.vendor,
        call_id=fields.pop("call_id", "c1"),
        call_at=now,
        release_at=now,
        has_cdr=True,
        recording_url=url,
        recording_status="pending",
        recording_next_at=now,
        **fields,
    )


def test_cdr_with_recording_enqueues_a_download_on_commit(
    client, account, server, django_capture_on_commit_callbacks
):
    server.routes["/rec/1.wav"] = Reply()
    fields = igw_cdr(account, recording=server.url("/rec/1.wav"))
    response = client.post(
        url_for(account, "cdr"), urlencode(fields), "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.deliveries_normalize() == 1
    assert len(callbacks) == 1
    record = CallRecord.objects.get()
    assert record.recording_status == "downloaded"
    assert record.recording_sha256 == hashlib.sha256(WAV).hexdigest()
    assert record.recording_size == len(WAV)
    assert record.recording_content_type == "audio/wav"
    assert record.recording_attempts == 1
    with default_storage.open(record.recording_file.name) as fh:
        assert fh.read() == WAV
    assert record.recording_file.name.startswith(f"recordings/{account.pk}/")


@pytest.mark.parametrize(
    ("ctype", "body", "ext"),
    [
        ("audio/wav", WAV, ".wav"),
        ("audio/x-wav", WAV, ".wav"),
        ("application/octet-stream", WAV, ".wav"),
        ("audio/mpeg", b"ID3\x04" + bytes(60), ".mp3"),
        ("application/octet-stream", b"#!AMR\n" + bytes(60), ".amr"),
        ("audio/x-unheard-of", WAV, ".wav"),  # unknown type: the bytes decide
        ("audio/x-unheard-of", bytes(64), ".audio"),
    ],
)
def test_stored_file_keeps_its_audio_extension(account, server, ctype, body, ext):
    server.routes["/r"] = Reply(body=body, headers={"Content-Type": ctype})
    record = make_record(account, server.url("/r"))
    assert services.recording_download(record_id=record.pk).status == "downloaded"
    record.refresh_from_db()
    assert record.recording_file.name.endswith(ext)
    assert default_storage.exists(record.recording_file.name)


def test_nothing_is_enqueued_before_commit(client, account, server):
    with mock.patch.object(recordings, "recording_enqueue") as enqueue:
        post_form(client, account, "cdr", igw_cdr(account, recording=server.url("/r.wav")))
    enqueue.assert_not_called()  # the test transaction never commits
    record = CallRecord.objects.get()
    assert record.recording_status == "pending" and record.recording_next_at is not None


def test_initial_delay_is_the_countdown(
    client, account, server, settings, django_capture_on_commit_callbacks
):
    settings.CALLBACKS_RECORDING_DELAY_SECONDS = 180
    with (
        mock.patch.object(tasks.recording_download, "apply_async") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        post_form(client, account, "cdr", igw_cdr(account, recording=server.url("/r.wav")))
    assert send.call_args.kwargs["countdown"] == 180
    record = CallRecord.objects.get()
    assert record.recording_next_at - record.cdr_received_at == timedelta(seconds=180)


def test_broker_outage_loses_nothing(client, account, server, django_capture_on_commit_callbacks):
    server.routes["/r.wav"] = Reply()
    with (
        mock.patch.object(
            tasks.recording_download, "apply_async", side_effect=OSError("broker down")
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_form(
            client, account, "cdr", igw_cdr(account, recording=server.url("/r.wav"))
        )
    assert response.status_code == 200
    record = CallRecord.objects.get()
    assert record.recording_status == "pending"
    # The beat sweeper sends it again once it is overdue.
    later = timezone.now() + timedelta(minutes=5)
    with mock.patch.object(recordings, "recording_enqueue") as enqueue:
        assert services.recording_sweep(now=later) == [record.pk]
    enqueue.assert_called_once_with(record_id=record.pk)
    services.recording_sweep(now=later)  # eager Celery: enqueues and downloads at once
    record.refresh_from_db()
    assert record.recording_status == "downloaded"


def test_octet_stream_with_audio_bytes_is_accepted(account, server):
    server.routes["/r"] = Reply(headers={"Content-Type": "application/octet-stream"})
    record = make_record(account, server.url("/r"))
    assert services.recording_download(record_id=record.pk).status == "downloaded"
    record.refresh_from_db()
    assert record.recording_content_type == "audio/wav"


@pytest.mark.parametrize(
    ("ctype", "body"),
    [("text/html", b"<html>login</html>"), ("application/octet-stream", b"not audio at all")],
)
def test_non_audio_is_refused_for_good(account, server, ctype, body):
    server.routes["/r"] = Reply(body=body, headers={"Content-Type": ctype})
    record = make_record(account, server.url("/r"))
    result = services.recording_download(record_id=record.pk)
    assert result.status == "failed" and result.retry_in is None
    record.refresh_from_db()
    assert "not audio" in record.recording_last_error
    assert not record.recording_file


def test_5xx_is_retried_with_backoff_then_succeeds(account, server):
    answers = iter([Reply(503, b"busy", {}), Reply(502, b"", {}), Reply()])
    server.routes["/r.wav"] = lambda: next(answers)
    record = make_record(account, server.url("/r.wav"))
    now = timezone.now()
    first = services.recording_download(record_id=record.pk, now=now)
    assert (first.status, first.retry_in) == ("pending", 60)
    # Not due yet: a duplicate message does nothing.
    assert services.recording_download(record_id=record.pk, now=now).status == "skipped"
    second = services.recording_download(record_id=record.pk, now=now + timedelta(seconds=60))
    assert (second.status, second.retry_in) == ("pending", 120)
    record.refresh_from_db()
    assert "HTTP 502" in record.recording_last_error
    third = services.recording_download(record_id=record.pk, now=now + timedelta(seconds=180))
    assert third.status == "downloaded"
    record.refresh_from_db()
    assert record.recording_attempts == 3 and record.recording_last_error == ""


def test_timeouts_are_retried(account, server):
    server.routes["/slow.wav"] = Reply(delay=1.5)
    record = make_record(account, server.url("/slow.wav"))
    result = services.recording_download(record_id=record.pk)
    assert result.status == "pending" and result.retry_in
    record.refresh_from_db()
    assert "Timeout" in record.recording_last_error or "timed out" in record.recording_last_error


def test_connection_refused_is_retried(account, server, allow_outbound):
    record = make_record(account, "http://127.0.0.1:9/r.wav")
    allow_outbound("127.0.0.1:9")
    account.extra = {"recording_hosts": ["127.0.0.1:9"]}
    account.save()
    assert services.recording_download(record_id=record.pk).status == "pending"


def test_gives_up_after_max_attempts(account, server, settings):
    settings.CALLBACKS_RECORDING_MAX_ATTEMPTS = 2
    server.routes["/r.wav"] = Reply(500, b"", {})
    record = make_record(account, server.url("/r.wav"))
    now = timezone.now()
    assert services.recording_download(record_id=record.pk, now=now).status == "pending"
    last = services.recording_download(record_id=record.pk, now=now + timedelta(hours=1))
    assert (last.status, last.retry_in) == ("failed", None)


def test_links_that_stay_404_expire(account, server, settings):
    settings.CALLBACKS_RECORDING_MAX_ATTEMPTS = 2
    record = make_record(account, server.url("/missing.wav"))
    now = timezone.now()
    assert services.recording_download(record_id=record.pk, now=now).status == "pending"
    assert (
        services.recording_download(record_id=record.pk, now=now + timedelta(hours=1)).status
        == "expired"
    )


def test_no_retry_beyond_the_link_lifetime(account, server, settings):
    settings.CALLBACKS_RECORDING_LINK_LIFETIME_HOURS = 1
    server.routes["/r.wav"] = Reply(500, b"", {})
    record = make_record(account, server.url("/r.wav"))
    result = services.recording_download(
        record_id=record.pk, now=timezone.now() + timedelta(hours=2)
    )
    assert result.status == "expired"


def test_ssrf_refusal_fails_permanently(account):
    record = make_record(account, "http://169.254.169.254/latest/meta-data/")
    result = services.recording_download(record_id=record.pk)
    assert result.status == "failed" and result.retry_in is None
    record.refresh_from_db()
    assert "169.254.169.254" in record.recording_last_error


def test_task_retries_through_the_broker(account, server):
    server.routes["/r.wav"] = Reply(500, b"", {})
    record = make_record(account, server.url("/r.wav"))
    with mock.patch.object(recordings, "recording_enqueue") as enqueue:
        assert tasks.recording_download(record.pk) == "pending"
    enqueue.assert_called_once_with(record_id=record.pk, countdown=60)


def test_downloaded_is_never_downloaded_again(account, server):
    server.routes["/r.wav"] = Reply()
    record = make_record(account, server.url("/r.wav"))
    assert services.recording_download(record_id=record.pk).status == "downloaded"
    assert services.recording_download(record_id=record.pk).status == "skipped"
    assert len(server.requests) == 1


def test_sweeper_frees_claims_of_dead_workers(account, server):
    record = make_record(account, server.url("/r.wav"))
    old = timezone.now() - timedelta(hours=1)
    CallRecord.objects.filter(pk=record.pk).update(
        recording_status="downloading", recording_claimed_at=old
    )
    with mock.patch.object(recordings, "recording_enqueue") as enqueue:
        services.recording_sweep(now=timezone.now() + timedelta(minutes=5))
    record.refresh_from_db()
    assert record.recording_status == "pending"
    enqueue.assert_called_once_with(record_id=record.pk)


def test_a_claim_is_a_lease_taken_over_once_it_runs_out(account, server, settings):
    settings.CALLBACKS_RECORDING_LEASE_SECONDS = 60
    record = make_record(account, server.url("/r.wav"))
    claimed = timezone.now() - timedelta(seconds=50)
    CallRecord.objects.filter(pk=record.pk).update(
        recording_status="downloading", recording_claimed_at=claimed
    )
    with mock.patch.object(recordings, "recording_enqueue") as enqueue:
        assert services.recording_sweep() == []  # 50 s into a 60 s lease: its worker may live
        assert services.recording_sweep(now=claimed + timedelta(seconds=61)) == [record.pk]
    enqueue.assert_called_once_with(record_id=record.pk)


def test_sweeper_leaves_fresh_work_alone(account, server):
    make_record(account, server.url("/r.wav"))
    with mock.patch.object(recordings, "recording_enqueue") as enqueue:
        assert services.recording_sweep() == []
    enqueue.assert_not_called()


def test_cyj_recording_comes_from_its_api(
    client, cyj_account, server, django_capture_on_commit_callbacks, allow_outbound
):
    server.routes["/cyj/rec.wav"] = Reply()
    allow_outbound(server.host)
    cyj_account.extra = {"recording_hosts": [server.host]}
    cyj_account.save()
    with mock.patch("vendors.cyj.CyjClient.fetch_recording") as fetch:
        fetch.return_value = RecordingInfo(url=server.url("/cyj/rec.wav"))
        with django_capture_on_commit_callbacks(execute=True):
            post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account))
    fetch.assert_called_once_with(call_identifier="65445298527236037121523767083120")
    assert CallRecord.objects.get().recording_status == "downloaded"


def test_cyj_unanswered_calls_have_no_recording(client, cyj_account):
    post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account, Result="busy", Duration=0))
    assert CallRecord.objects.get().recording_status == "none"


def test_cyj_recording_api_call_passes_the_outbound_policy(
    client, cyj_account, server, django_capture_on_commit_callbacks
):
    """The recording link comes from cyj's API: that call is refused like any vendor
    call when base_url points at a private address the deployment does not allow."""
    server.routes["*"] = Reply(200, b'{"Flag": 1, "Msg": "http://x/r.wav"}', {})
    cyj_account.base_url = server.url("/cyj")
    cyj_account.extra = {"recording_hosts": [server.host]}
    cyj_account.save()
    with django_capture_on_commit_callbacks(execute=True):
        post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account))
    record = CallRecord.objects.get()
    assert record.recording_status == "failed"
    assert "refused" in record.recording_last_error
    assert server.requests == []


@pytest.mark.parametrize(
    "moment", [datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)]
)
def test_out_of_range_stored_times_do_not_crash_the_download(account, server, moment):
    """Rows stored before times were bounded: adding the link lifetime to
    9999-12-31 overflowed, the task crashed with the row claimed, and the sweeper
    sent it again forever.  The lifetime now runs from when we heard of the call."""
    server.routes["/r.wav"] = Reply(500, b"", {})
    record = make_record(account, server.url("/r.wav"))
    CallRecord.objects.filter(pk=record.pk).update(call_at=moment, release_at=moment)
    result = services.recording_download(record_id=record.pk)
    assert (result.status, result.retry_in) == ("pending", 60)
    server.routes["/r.wav"] = Reply()
    later = timezone.now() + timedelta(seconds=61)
    assert services.recording_download(record_id=record.pk, now=later).status == "downloaded"
