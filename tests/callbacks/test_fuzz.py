"""Hypothesis: no body makes a parser raise anything but InvalidPayload, and no body
makes a webhook answer 5xx.  Examples are few per test to keep the suite fast;
near-valid payloads get past authentication so the parsers and the storage
layer see hostile field values, not just garbage."""

import contextlib
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import vendors
from callbacks.models import Delivery
from tests.payloads import (
    ccp_auth,
    cyj_cdr,
    huawei_fee,
    huawei_status,
    igw_call_start,
    igw_cdr,
    url_for,
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "0",
            "answered",
            "16",
            "-2",
            "2019-01-24 02:48:46",
            "1700000000",
            "20240101120010",
            "2024-01-01T04:00:00Z",
            "+86138****0022",
            "\x00",
            "\ud800",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
content_types = st.sampled_from(
    [
        "",
        "application/json",
        "application/x-www-form-urlencoded",
        "application/xml",
        "text/plain",
        "multipart/form-data; boundary=x",
    ]
)


def fields_of(keys):
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys))


IGW_KEYS = [
    "taskid",
    "subid",
    "caller",
    "rcaller",
    "callee",
    "result",
    "beginTime",
    "ringTime",
    "answerTime",
    "releaseTime",
    "duration",
    "recording",
    "userData",
    "releasedir",
    "callTime",
]
HUAWEI_INFO = ["sessionId", "timestamp", "caller", "called", "stateCode", "stateDesc", "userData"]
FEE_KEYS = [
    "sessionId",
    "callerNum",
    "calleeNum",
    "fwdStartTime",
    "fwdAlertingTime",
    "fwdAnswerTime",
    "callEndTime",
    "sipStatusCode",
    "fwdUnaswRsn",
    "ulFailReason",
    "recordFileDownloadUrl",
    "userData",
]
CCP_KEYS = [
    "action",
    "callSid",
    "caller",
    "called",
    "starttime",
    "endtime",
    "byetype",
    "recordurl",
    "userData",
    "duration",
]
CYJ_KEYS = [
    "CallIdentifier",
    "Caller",
    "Callee",
    "VirtualNum",
    "StartTime",
    "EndTime",
    "Duration",
    "Result",
]


@pytest.mark.parametrize("vendor", sorted(vendors.REGISTRY))
@FUZZ
@given(body=st.binary(max_size=600), content_type=content_types, data=st.data())
def test_parsers_raise_only_invalid_payload(vendor, body, content_type, data):
    client = vendors.get_client(vendor, base_url="https://v.example", account_id="a", secret="s")
    kind = data.draw(st.sampled_from(client.callback_kinds))
    try:
        items = client.parse_callback(kind, body=body, content_type=content_type)
    except vendors.InvalidPayload:
        return
    assert all(isinstance(i, vendors.CallRecordData | vendors.CallEventData) for i in items)


@pytest.mark.parametrize("vendor", sorted(vendors.REGISTRY))
@FUZZ
@given(payload=json_values, data=st.data())
def test_parsers_on_structured_json(vendor, payload, data):
    client = vendors.get_client(vendor, base_url="https://v.example", account_id="a", secret="s")
    kind = data.draw(st.sampled_from(client.callback_kinds))
    body = json.dumps(payload).encode()
    with contextlib.suppress(vendors.InvalidPayload):
        client.parse_callback(kind, body=body, content_type="application/json")


def _assert_no_5xx(response):
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code < 500, (
        response.status_code,
        Delivery.objects.order_by("-id").values_list("reason", "traceback").first(),
    )


@pytest.mark.django_db
@FUZZ
@given(
    body=st.binary(max_size=2000),
    content_type=content_types,
    kind=st.sampled_from(["cdr", "call-start", "bogus"]),
)
def test_igw_webhook_garbage(client, igw_account, body, content_type, kind):
    _assert_no_5xx(client.post(url_for(igw_account, kind), data=body, content_type=content_type))


@pytest.mark.django_db
@FUZZ
@given(
    fields=fields_of(IGW_KEYS), kind=st.sampled_from(["cdr", "call-start"]), as_json=st.booleans()
)
def test_igw_webhook_near_valid(client, igw_account, fields, kind, as_json):
    # A valid payload with some fields replaced: most examples reach the database.
    base = igw_cdr(igw_account) if kind == "cdr" else igw_call_start(igw_account)
    fields = {**base, **fields, "devid": igw_account.account_id, "appid": igw_account.app_id}
    if as_json:
        body, ctype = json.dumps(fields), "application/json"
    else:
        flat = {
            k: "" if v is None else (v if isinstance(v, str) else json.dumps(v))
            for k, v in fields.items()
        }
        body, ctype = urlencode(flat, errors="surrogatepass"), "application/x-www-form-urlencoded"
    _assert_no_5xx(client.post(url_for(igw_account, kind), data=body, content_type=ctype))


@pytest.mark.django_db
@FUZZ
@given(
    event=st.sampled_from(["callout", "alerting", "answer", "disconnect", "fee", "other", None]),
    info=fields_of(HUAWEI_INFO),
    fee=st.lists(fields_of(FEE_KEYS), max_size=3),
    kind=st.sampled_from(["status", "cdr"]),
)
def test_huawei_webhook_near_valid(client, huawei_account, event, info, fee, kind):
    huawei_account.extra = {"push_signature": "off"}
    huawei_account.save()
    base_info = huawei_status("answer")["statusInfo"]
    base_fee = huawei_fee()["feeLst"][0]
    payload = {
        "eventType": event,
        "statusInfo": {**base_info, **info},
        "feeLst": [{**base_fee, **item} for item in fee],
    }
    response = client.post(
        url_for(huawei_account, kind), data=json.dumps(payload), content_type="application/json"
    )
    _assert_no_5xx(response)


@pytest.mark.django_db
@FUZZ
@given(body=st.binary(max_size=1000), x_aksk=st.text(max_size=200))
def test_huawei_webhook_garbage_with_signature_required(client, huawei_account, body, x_aksk):
    huawei_account.extra = {"push_signature": "require"}
    huawei_account.save()
    try:
        headers = {"HTTP_X_AKSK": x_aksk.encode("latin-1").decode("latin-1")}
    except UnicodeEncodeError:
        headers = {}
    response = client.post(
        url_for(huawei_account, "status"), data=body, content_type="application/json", **headers
    )
    _assert_no_5xx(response)


@pytest.mark.django_db
@FUZZ
@given(fields=fields_of(CCP_KEYS), as_json=st.booleans(), raw=st.binary(max_size=300))
def test_ccp_webhook_near_valid(client, ccp_account, fields, as_json, raw):
    base = {"callSid": "c1", "starttime": "20240101120010", "endtime": "20240101120110"}
    fields = {"action": "Hangup", **base, **fields}
    if as_json:
        body, ctype = json.dumps(fields).encode(), "application/json"
    else:
        inner = "".join(f"<{k}>{'' if v is None else v}</{k}>" for k, v in fields.items())
        body, ctype = (
            f"<Request>{inner}</Request>".encode("utf-8", "surrogatepass") + raw[:5],
            "application/xml",
        )
    response = client.post(
        url_for(ccp_account, "cdr"), data=body, content_type=ctype, **ccp_auth(ccp_account)
    )
    _assert_no_5xx(response)


@pytest.mark.django_db
@FUZZ
@given(fields=fields_of(CYJ_KEYS))
def test_cyj_webhook_near_valid(client, cyj_account, fields):
    payload = {**cyj_cdr(cyj_account), **fields}
    response = client.post(
        url_for(cyj_account, "cdr"), data=json.dumps(payload), content_type="application/json"
    )
    _assert_no_5xx(response)
