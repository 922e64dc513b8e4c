"""End to end over real HTTP: the sandbox plays calls and POSTs each vendor's
documented callbacks to our webhook URLs on live_server; the recording is then
downloaded from the sandbox (inline eager task, and once by a real worker)."""

import time

import pytest

from accounts.selectors import vendor_client
from callbacks.models import CallEvent, CallRecord, Delivery
from sandbox import services as sandbox
from sandbox.models import SandboxBinding, SandboxCall
from sandbox.protocol import base_path
from tests.factories import BindingFactory, PrivacyNumberFactory, VendorAccountFactory
from vendors import RetryPolicy

A, B = "13800000001", "13900000002"


@pytest.fixture
def media(tmp_path, monkeypatch):
    # Set before a worker starts (fixture order) so it writes where we read.
    root = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    return root


@pytest.fixture
def console(live_server, settings, media):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_ROOT = media
    settings.CALLBACKS_RECORDING_DELAY_SECONDS = 0

    def make(code, **fields):
        host = live_server.url.split("://", 1)[1]
        extra = {"recording_hosts": [host], **fields.pop("extra", {})}
        account = VendorAccountFactory(
            vendor=code, base_url=live_server.url + base_path(code), extra=extra, **fields
        )
        account.sandbox = sandbox.ensure_sandbox_account(vendor_account=account)
        account.client = vendor_client(
            account=account, retry=RetryPolicy(max_attempts=1, backoff=0, jitter=False)
        )
        return account

    return make


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def igw_bound(account):
    x = PrivacyNumberFactory(vendor_account=account).number
    account.sandbox = sandbox.ensure_sandbox_account(vendor_account=account)
    result = account.client.bind_axb(
        x_number=x, a_number=A, b_number=B, reqid="r-e2e", ttl=600, record=True
    )
    binding = BindingFactory(
        x_number=None,
        kind="axb",
        vendor_account=account,
        a_number="+86" + A,
        b_number="+86" + B,
        ttl=600,
        vendor_binding_id=result.vendor_binding_id,
        state="active",
        record=True,
    )
    return SandboxBinding.objects.get(subid=result.vendor_binding_id), binding


def assert_downloaded(record):
    assert record.recording_status == "downloaded", record.recording_last_error
    with record.recording_file.open("rb") as fh:
        assert fh.read(4) == b"RIFF"
    assert len(record.recording_sha256) == 64


@pytest.mark.django_db(transaction=True)
def test_igw_call_start_cdr_and_recording(console):
    account = console("igw")
    sandbox_binding, binding = igw_bound(account)
    call = sandbox.play_call(binding=sandbox_binding, duration=25, chaos={"duplicate": True})
    assert call.status == SandboxCall.Status.DONE
    record = CallRecord.objects.get()
    assert record.call_id == call.call_id and record.binding == binding
    assert record.outcome == "answered" and record.duration == 25
    assert record.caller == "+86" + A
    assert CallEvent.objects.get().kind == "call_start"
    assert set(Delivery.objects.values_list("outcome", flat=True)) <= {"accepted", "duplicate"}
    assert_downloaded(record)


@pytest.mark.django_db(transaction=True)
def test_igw_out_of_order(console):
    account = console("igw")
    sandbox_binding, _ = igw_bound(account)
    sandbox.play_call(binding=sandbox_binding, chaos={"out_of_order": True})
    record = CallRecord.objects.get()
    assert record.has_cdr and record.events.count() == 1


@pytest.mark.django_db(transaction=True)
def test_huawei_status_and_fee_with_required_signature(console):
    # 表4 allows only [A-Za-z0-9-:./] in statusUrl/feeUrl: no "_" in the token.
    account = console(
        "huawei",
        webhook_token="HuaweiSafeToken0123456789abcdef",
        extra={"push_signature": "require"},
    )
    urls = account.sandbox.callback_urls
    result = account.client.call_verify(
        display_number="+8675528000001",
        callee_number="+8613800000001",
        verify_code="1234",
        pre_tone="w.wav",
        status_url=urls["status"],
        fee_url=urls["cdr"],
    )
    sandbox.play_call(call=SandboxCall.objects.get(call_id=result.session_id), duration=8)
    assert set(Delivery.objects.values_list("outcome", "signature")) == {("accepted", "valid")}
    record = CallRecord.objects.get()
    assert record.call_id == result.session_id
    assert record.has_cdr and record.outcome == "answered" and record.duration == 8
    assert sorted(record.events.values_list("kind", flat=True)) == [
        "alerting",
        "answer",
        "callout",
        "disconnect",
    ]


@pytest.mark.django_db(transaction=True)
def test_huawei_duplicates_pass_the_default_signature_check(console):
    """The sandbox signs every push, duplicates included, with a fresh nonce."""
    account = console("huawei", webhook_token="HuaweiSafeToken0123456789abcdeg")
    assert "push_signature" not in account.extra  # the default: require
    result = account.client.call_verify(
        display_number="+8675528000001",
        callee_number="+8613800000001",
        verify_code="1234",
        pre_tone="w.wav",
    )
    sandbox.play_call(
        call=SandboxCall.objects.get(call_id=result.session_id),
        duration=8,
        chaos={"duplicate": True, "out_of_order": True},
    )
    deliveries = Delivery.objects.all()
    assert deliveries.count() == 10  # 4 status + 1 fee, each twice
    assert {(d.outcome, d.signature) for d in deliveries} == {
        ("accepted", "valid"),
        ("duplicate", "valid"),
    }
    nonces = {d.headers["X-AKSK"].split('Nonce="')[1].split('"')[0] for d in deliveries}
    assert len(nonces) == 10
    assert CallRecord.objects.get().has_cdr


@pytest.mark.django_db(transaction=True)
def test_ccp_hangup_and_recording(console):
    account = console("ccp", extra={"platform_mac": "AA-BB-CC-DD-EE-FF"})
    account.sandbox = sandbox.ensure_sandbox_account(vendor_account=account)
    sub = account.client.create_sub_account("s")
    result = account.client.two_way_call(
        sub_account_sid=sub.sub_account_sid, sub_token=sub.sub_token, from_number=A, to_number=B
    )
    sandbox.play_call(call=SandboxCall.objects.get(call_id=result.call_sid), duration=17)
    record = CallRecord.objects.get()
    assert (record.outcome, record.duration) == ("answered", 17)
    assert_downloaded(record)


@pytest.mark.django_db(transaction=True)
def test_cyj_cdr_and_recording_through_its_api(console):
    account = console("cyj")
    account.client.bind(caller=A, callee=B)
    sandbox.play_call(binding=SandboxBinding.objects.get(), duration=12)
    record = CallRecord.objects.get()
    assert (record.outcome, record.duration) == ("answered", 12)
    assert_downloaded(record)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_downloads_the_recording(media, console, monkeypatch, request):
    # The worker normalizes the CDR and plans the download with ITS settings.
    monkeypatch.setenv("RECORDING_DELAY_SECONDS", "0")
    request.getfixturevalue("celery_worker_process")
    account = console("igw")
    sandbox_binding, _ = igw_bound(account)
    sandbox.play_call(binding=sandbox_binding, duration=5)
    # The webhook acknowledged on the raw row; the worker normalizes it.
    assert wait_for(lambda: CallRecord.objects.exists())
    record = CallRecord.objects.get()
    assert wait_for(
        lambda: CallRecord.objects.filter(pk=record.pk, recording_status="downloaded").exists()
    ), CallRecord.objects.get(pk=record.pk).recording_last_error
    record.refresh_from_db()
    assert record.recording_file.name.startswith(f"recordings/{account.pk}/")
    assert_downloaded(record)
