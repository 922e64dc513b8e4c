"""igw over real HTTP: status, AXB bind/release, XA open/release, reqid
idempotency, conflicts, caps, Keytime rejections."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.models import SandboxBinding
from vendors import AuthError, Conflict, InvalidRequest, NotFound, PermissionDenied, igw

A, B, C = "13800000001", "13900000002", "13700000003"


@pytest.fixture
def igw_vendor(make_vendor):
    return make_vendor("igw", numbers=2)


def x_of(vendor, index=0) -> str:
    return vendor.account.numbers.order_by("number")[index].number


def test_account_status(igw_vendor):
    status = igw_vendor.client.account_status()
    assert status.state == "active"
    assert status.balance == igw_vendor.sandbox.balance
    assert status.created_at is not None


def test_axb_bind_release_round_trip(igw_vendor):
    x = x_of(igw_vendor)
    result = igw_vendor.client.bind_axb(
        x_number=x, a_number=A, b_number=B, reqid="r-1", ttl=600, record=True, user_data="u1"
    )
    binding = SandboxBinding.objects.get(subid=result.vendor_binding_id)
    assert binding.kind == "axb" and binding.record and binding.user_data == "u1"
    assert binding.x_number == x.removeprefix("+86") and binding.expires_at is not None
    igw_vendor.client.release_axb(subid=result.vendor_binding_id)
    binding.refresh_from_db()
    assert binding.state == "released"
    # DELETE is idempotent; an unknown subid is 1300.
    igw_vendor.client.release_axb(subid=result.vendor_binding_id)
    with pytest.raises(NotFound) as exc:
        igw_vendor.client.release_axb(subid="nope")
    assert exc.value.code == "1300"


def test_reqid_is_idempotent(igw_vendor):
    x = x_of(igw_vendor)
    first = igw_vendor.client.bind_axb(x_number=x, a_number=A, b_number=B, reqid="same", ttl=60)
    again = igw_vendor.client.bind_axb(x_number=x, a_number=A, b_number=B, reqid="same", ttl=60)
    assert first.vendor_binding_id == again.vendor_binding_id
    assert SandboxBinding.objects.count() == 1


def test_second_binding_of_a_party_on_the_same_x_conflicts(igw_vendor):
    x, other_x = x_of(igw_vendor), x_of(igw_vendor, 1)
    igw_vendor.client.bind_axb(x_number=x, a_number=A, b_number=B, reqid="r1", ttl=60)
    with pytest.raises(Conflict) as exc:
        igw_vendor.client.bind_axb(x_number=x, a_number=C, b_number=A, reqid="r2", ttl=60)
    assert exc.value.code == "1302"
    # The same pair on another X is fine, and so is an unrelated pair on X.
    igw_vendor.client.bind_axb(x_number=other_x, a_number=A, b_number=B, reqid="r3", ttl=60)
    igw_vendor.client.bind_axb(x_number=x, a_number=C, b_number="13600000004", reqid="r4", ttl=60)


def test_per_x_cap(igw_vendor):
    igw_vendor.sandbox.max_bindings_per_x = 1
    igw_vendor.sandbox.save()
    x = x_of(igw_vendor)
    igw_vendor.client.bind_axb(x_number=x, a_number=A, b_number=B, reqid="r1", ttl=60)
    with pytest.raises(Conflict) as exc:
        igw_vendor.client.bind_axb(
            x_number=x, a_number=C, b_number="13600000004", reqid="r2", ttl=60
        )
    assert exc.value.code == "1301"


def test_x_not_owned(igw_vendor):
    with pytest.raises(NotFound) as exc:
        igw_vendor.client.bind_axb(
            x_number="17099999999", a_number=A, b_number=B, reqid="r", ttl=60
        )
    assert exc.value.code == "1300"


def test_xa_open_release(igw_vendor):
    x = x_of(igw_vendor)
    result = igw_vendor.client.bind_xa(x_number=x, a_number=A, reqid="xa-1", ttl=0, display=1)
    assert result.vendor_binding_id == ""
    binding = SandboxBinding.objects.get(kind="xa")
    assert binding.expires_at is None and binding.params["display"] == "1"
    with pytest.raises(Conflict):
        igw_vendor.client.bind_xa(x_number=x, a_number=B, reqid="xa-2")
    igw_vendor.client.release_xa(x_number=x)
    binding.refresh_from_db()
    assert binding.state == "released"
    with pytest.raises(NotFound):
        igw_vendor.client.release_xa(x_number=x_of(igw_vendor, 1))


def _put(vendor, form, *, auth=None, x="17000000000"):
    headers = {"Authorization": auth if auth is not None else _keytime(vendor)}
    return requests.put(
        f"{vendor.base_url}/igw/service/uc/interline/{x}", data=form, headers=headers
    )


def _keytime(vendor, *, ts_ms=None, key=None, devid=None):
    return igw.keytime(
        devid or vendor.account.account_id,
        key or vendor.account.secret,
        ts_ms or time.time_ns() // 1_000_000,
    )


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ("", 1101),
        ("Keytime onlydevid", 1101),
        ("Basic abc", 1101),
        ("wrong-key", 1101),
        ("stale", 1101),
        ("unknown", 1100),
    ],
)
def test_keytime_rejections_answer_401(make_vendor, auth, code):
    vendor = make_vendor("igw")
    now = time.time_ns() // 1_000_000
    header = {
        "wrong-key": _keytime(vendor, key="not-the-key"),
        "stale": _keytime(vendor, ts_ms=now - 3 * 60 * 1000 - 5000),
        "unknown": _keytime(vendor, devid="nobody"),
    }.get(auth, auth)
    response = requests.get(
        f"{vendor.base_url}/api/v1/account/status", headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.json()["error"] == code


def test_keytime_within_window_is_accepted(make_vendor):
    vendor = make_vendor("igw")
    ts = time.time_ns() // 1_000_000 - 2 * 60 * 1000
    response = requests.get(
        f"{vendor.base_url}/api/v1/account/status",
        headers={"Authorization": _keytime(vendor, ts_ms=ts)},
    )
    assert response.json()["error"] == 0


def test_bad_signature_maps_to_auth_error(make_vendor):
    vendor = make_vendor("igw")
    vendor.client._secret = "wrong"
    with pytest.raises(AuthError) as exc:
        vendor.client.account_status()
    assert exc.value.code == "1101" and exc.value.http_status == 401


@pytest.mark.parametrize(
    "form",
    [
        {"anum": A, "bnum": B, "reqid": "r", "ttl": "60"},  # no appid
        {"appid": "APP", "bnum": B, "reqid": "r", "ttl": "60"},
        {"appid": "APP", "anum": A, "bnum": B, "ttl": "60"},
        {"appid": "APP", "anum": A, "bnum": B, "reqid": "r"},
        {"appid": "APP", "anum": A, "bnum": B, "reqid": "r", "ttl": "soon"},
        {"appid": "APP", "anum": "12a", "bnum": B, "reqid": "r", "ttl": "60"},
        {"appid": "APP", "anum": "1" * 25, "bnum": B, "reqid": "r", "ttl": "60"},
        {"appid": "APP", "anum": A, "bnum": A, "reqid": "r", "ttl": "60"},
        {"appid": "APP", "anum": A, "bnum": B, "reqid": "r", "ttl": "60", "display": "2,2"},
        {"appid": "APP", "anum": A, "bnum": B, "reqid": "r", "ttl": "60", "record": "5"},
    ],
)
def test_parameter_errors_are_1002(make_vendor, form):
    vendor = make_vendor("igw")
    if form.get("appid") == "APP":
        form["appid"] = vendor.account.app_id
    response = _put(vendor, form)
    assert response.status_code == 200
    assert response.json()["error"] == 1002


def test_parameter_error_maps_to_invalid_request(make_vendor):
    vendor = make_vendor("igw")
    with pytest.raises(InvalidRequest) as exc:
        vendor.client.bind_axb(x_number="17000000000", a_number=A, b_number=A, reqid="r", ttl=60)
    assert exc.value.code == "1002"


def test_wrong_appid_and_suspended(make_vendor):
    vendor = make_vendor("igw")
    vendor.client.app_id = "other-app"
    with pytest.raises(PermissionDenied) as exc:
        vendor.client.bind_axb(x_number="17000000000", a_number=A, b_number=B, reqid="r", ttl=60)
    assert exc.value.code == "1103"
    vendor.sandbox.state = 3
    vendor.sandbox.save()
    with pytest.raises(PermissionDenied) as exc:
        vendor.client.account_status()
    assert exc.value.code == "1102"


def test_expired_binding_frees_the_parties(igw_vendor):
    x = x_of(igw_vendor)
    igw_vendor.client.bind_axb(x_number=x, a_number=A, b_number=B, reqid="r1", ttl=60)
    SandboxBinding.objects.update(expires_at="2000-01-01T00:00:00Z")
    igw_vendor.client.bind_axb(x_number=x, a_number=A, b_number=B, reqid="r2", ttl=60)
