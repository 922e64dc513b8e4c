"""Package-level contracts: no Django, registry, error shapes, retry policy, logging."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import vendors
from vendors import (
    AuthError,
    CallbackAuthError,
    InvalidPayload,
    NetworkError,
    RateLimited,
    RetryPolicy,
    TemporaryError,
    VendorError,
)
from vendors.igw import IgwClient

ROOT = Path(__file__).resolve().parents[2]
# The package's own modules, and every registered vendor's client module.
MODULES = sorted(
    {
        "vendors",
        "vendors.account_settings",
        "vendors.types",
        "vendors.errors",
        "vendors.base",
        "vendors.huawei_errors",
        "vendors.outbound",
        "vendors.times",
        "vendors.transport",
        *(cls.__module__ for cls in vendors.REGISTRY.values()),
    }
)


@pytest.mark.parametrize("module", MODULES)
def test_module_does_not_import_django(module: str) -> None:
    # A fresh interpreter: in-process, Django may already be loaded by pytest-django.
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "print('django' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_registry_and_get_client() -> None:
    assert {"ccp", "igw", "huawei", "cyj"} <= set(vendors.REGISTRY)
    for code, cls in vendors.REGISTRY.items():
        assert cls.code == code
        assert cls.callback_kinds
        assert cls.label
        client = vendors.get_client(
            code, base_url="https://v.example", account_id="acc", secret="s3cr3t", app_id="app"
        )
        assert isinstance(client, cls)
        assert "s3cr3t" not in repr(client)
    with pytest.raises(ValueError, match="unknown vendor"):
        vendors.get_client("nope", base_url="x", account_id="a", secret="s")


def test_vendor_error_str_and_pickle() -> None:
    err = RateLimited("igw", "1105", "Rate 限制、流控", message_en="Rate limit", http_status=200)
    assert str(err) == "igw error 1105: Rate 限制、流控 (Rate limit) [HTTP 200]"
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is RateLimited
    assert (clone.vendor, clone.code, clone.message, clone.message_en, clone.http_status) == (
        "igw",
        "1105",
        "Rate 限制、流控",
        "Rate limit",
        200,
    )
    assert RateLimited.retryable and TemporaryError.retryable and NetworkError.retryable
    assert not AuthError.retryable and not VendorError.retryable
    assert issubclass(NetworkError, TemporaryError)
    assert issubclass(InvalidPayload, ValueError)


def test_callback_auth_error_fields() -> None:
    err = CallbackAuthError("devid does not match", expected="devid=1", received="devid=2")
    assert "devid=1" in str(err) and "devid=2" in str(err)
    assert pickle.loads(pickle.dumps(err)).received == "devid=2"


def test_retry_policy_delay_is_bounded_exponential() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=8.0, jitter=False)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    jittered = RetryPolicy(backoff=1.0, max_backoff=8.0, jitter=True)
    for _ in range(100):
        assert 2.0 <= jittered.delay(3) <= 4.0
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 8.0  # never past max_backoff


def test_log_line_has_fields_and_no_secret(vendor_server, fast_retry, caplog) -> None:
    secret = "K3Y-very-secret"
    vendor_server.answer(200, {"error": 0, "subid": "S1"})
    client = IgwClient(
        base_url=vendor_server.base_url,
        account_id="10000000",
        secret=secret,
        app_id="app1",
        retry=fast_retry,
    )
    with caplog.at_level(logging.DEBUG, logger="vendors"):
        client.bind_axb(x_number="17000000000", a_number="1", b_number="2", reqid="r1", ttl=60)
    (record,) = caplog.records
    assert record.vendor == "igw"
    assert record.method == "PUT"
    assert record.path == "/igw/service/uc/interline/17000000000"
    assert record.http_status == 200
    assert record.vendor_code == "0"
    assert record.attempt == 1
    assert record.latency_ms >= 0
    text = caplog.text + repr(record.__dict__)
    assert secret not in text
    assert "Keytime" not in text  # no Authorization header either
    assert "reqid" not in text  # no body


def test_timeout_is_always_passed(faults, fast_retry) -> None:
    session, adapter = faults([(200, {"error": 0, "state": 1})])
    seen: dict[str, object] = {}
    original = adapter.send

    def spy(request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        seen.update(kwargs)
        return original(request, **kwargs)

    adapter.send = spy  # type: ignore[method-assign]
    client = IgwClient(
        base_url="https://igw.example",
        account_id="d",
        secret="k",
        app_id="a",
        session=session,
        retry=fast_retry,
        timeout=(1.0, 2.0),
    )
    client.account_status()
    assert seen["timeout"] == (1.0, 2.0)


@pytest.mark.parametrize("cls", list(vendors.REGISTRY.values()), ids=list(vendors.REGISTRY))
def test_account_status_capability_matches_the_client(cls) -> None:
    # The console offers "Check status at the vendor" from this flag alone.
    overrides = cls.account_status is not vendors.VendorClient.account_status
    assert cls.supports_account_status is overrides


@pytest.mark.parametrize("cls", list(vendors.REGISTRY.values()), ids=list(vendors.REGISTRY))
def test_declared_facts_are_usable(cls) -> None:
    # The apps read these without checking them: a typo must fail here.
    ctype, body = cls.callback_ack
    assert ctype.startswith("application/") and isinstance(body, bytes)
    assert cls.recording_source in ("url", "api")
    if cls.recording_source == "api":
        assert cls.fetch_recording is not vendors.VendorClient.fetch_recording
    if cls.supports_sub_accounts:
        assert callable(getattr(cls, "create_sub_account", None))
    # messaging/ calls these by name once the flag says the vendor has them.
    for flag, method in (
        ("supports_two_way_calls", "two_way_call"),
        ("supports_voice_codes", "call_verify"),
    ):
        if getattr(cls, flag):
            assert callable(getattr(cls, method, None)), method
            assert getattr(cls, f"{method}_problem")() == "", method
    for key, setting in cls.account_settings.items():
        assert setting.help, key


def test_choices_come_from_the_registry() -> None:
    assert vendors.choices() == [(code, cls.label) for code, cls in vendors.REGISTRY.items()]


def test_register_refuses_a_taken_code_and_unregister_removes() -> None:
    class Clash(IgwClient):
        pass

    with pytest.raises(ValueError, match="taken"):
        vendors.register(Clash)
    assert vendors.REGISTRY["igw"] is IgwClient

    class Extra(IgwClient):
        code = "extra-test"
        label = "Extra"
        binding_kinds = ()  # igw's kinds are igw's (register refuses a second claim)

    try:
        assert vendors.register(Extra) is Extra
        assert ("extra-test", "Extra") in vendors.choices()
        assert isinstance(
            vendors.get_client(
                "extra-test", base_url="https://v.example", account_id="a", secret="s"
            ),
            Extra,
        )
    finally:
        vendors.unregister("extra-test")
    assert "extra-test" not in vendors.REGISTRY


def test_huawei_signature_mode_is_the_accounts_choice() -> None:
    def mode(extra):
        return vendors.get_client(
            "huawei", base_url="https://v.example", account_id="a", secret="s", extra=extra
        ).callback_signature_mode()

    assert mode({}) == "require"
    assert mode({"push_signature": "verify"}) == "verify"
    assert mode({"push_signature": "off"}) == "verify"  # the old name of verify
    assert mode({"push_signature": "require"}) == "require"
    assert (
        vendors.get_client(
            "igw",
            base_url="https://v.example",
            account_id="a",
            secret="s",
            extra={"push_signature": "verify"},
        ).callback_signature_mode()
        == "require"
    )
