"""Payload builders shared by the tests: what each vendor POSTs to our callbacks.

Payloads follow the vendor documents (igw §5.1/§5.3 form fields, huawei status
and fee pushes, ccp Hangup XML, cyj's JSON CDR as vendors/cyj.py defines it),
signed the way each vendor signs.
"""

import base64
import json
from urllib.parse import urlencode

from vendors.huawei import push_headers

BEGIN = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def url_for(account, kind: str) -> str:
    return f"/callbacks/{account.webhook_token}/{kind}/"


# An igw account's devid/appid when a builder is given no account (vendor-level tests, bench).
IGW_DEVID, IGW_APPID = "10000000", "app-001"


def igw_cdr(account=None, **overrides) -> dict:
    """igw §5.1 CDR form fields; an override of None drops the field."""
    fields = {
        "devid": account.account_id if account else IGW_DEVID,
        "appid": account.app_id if account else IGW_APPID,
        "taskid": "task-1",
        "subid": "sub-1",
        "caller": "13800138000",
        "rcaller": "17012345678",
        "callee": "13900139000",
        "result": "answered",
        "beginTime": str(BEGIN),
        "ringTime": str(BEGIN + 3),
        "answerTime": str(BEGIN + 8),
        "releaseTime": str(BEGIN + 68),
        "duration": "60",
        "recording": "",
        "userData": "order-42",
        "releasedir": "1",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def igw_call_start(account=None, **overrides) -> dict:
    fields = {
        "devid": account.account_id if account else IGW_DEVID,
        "appid": account.app_id if account else IGW_APPID,
        "taskid": "task-1",
        "subid": "sub-1",
        "caller": "13800138000",
        "rcaller": "17012345678",
        "callee": "13900139000",
        "callTime": str(BEGIN),
        "userData": "order-42",
    }
    fields.update(overrides)
    return fields


def delivered(response):
    """What the vendor sees, once the console has normalized what it acknowledged.

    The webhook only stores the raw delivery; a worker normalizes it after the
    2xx (callbacks/queue.py).  The post_* helpers below run that step in-line so
    a test reads the call records at once; tests of the queue itself post with
    `client.post` and drive `deliveries_normalize` themselves.
    """
    from callbacks.queue import deliveries_normalize_all  # Django-free importers (bench)

    deliveries_normalize_all()
    return response


def nothing_queued() -> bool:
    """Whether the inbox's queue is empty: poll it (wait_for) while a real worker
    normalizes what the webhook acknowledged."""
    from callbacks.models import Delivery

    return not Delivery.objects.filter(outcome="received", authenticated=True).exists()


def post_raw(client, *args, **kwargs):
    """`client.post(...)` to a webhook, then normalized as `delivered` says."""
    return delivered(client.post(*args, **kwargs))


def post_form(client, account, kind, fields, **extra):
    return delivered(
        client.post(
            url_for(account, kind),
            data=urlencode(fields),
            content_type="application/x-www-form-urlencoded",
            **extra,
        )
    )


def huawei_status(event: str, session: str = "1202_14260@callenabler", ts="2019-01-24 02:48:46"):
    info = {
        "sessionId": session,
        "timestamp": ts,
        "caller": "+8675528000088",
        "called": "+8613800138021",
    }
    if event == "disconnect":
        info.update({"stateCode": 0, "stateDesc": "The user releases the call."})
    return {"eventType": event, "statusInfo": info}


def huawei_fee(session: str = "1202_14260@callenabler", **overrides) -> dict:
    item = {
        "direction": 0,
        "spId": "sp",
        "appKey": "ZRBRz4bAXoFgEH7o4Ew308eXc1RA",
        "sessionId": session,
        "callerNum": "+8675528000088",
        "calleeNum": "+8613800138021",
        "fwdDisplayNum": "+8675528000088",
        "fwdStartTime": "2019-01-24 02:48:46",
        "fwdAlertingTime": "2019-01-24 02:48:47",
        "fwdAnswerTime": "2019-01-24 02:49:12",
        "callEndTime": "2019-01-24 02:49:23",
        "fwdUnaswRsn": 0,
        "recordFlag": 0,
        "userData": "verify",
    }
    item.update(overrides)
    return {"eventType": "fee", "feeLst": [item]}


def huawei_headers(
    account, url: str, *, created: str | None = None, secret=None, nonce=None
) -> dict:
    headers = push_headers(
        account.account_id, secret or account.secret, url, nonce=nonce, created=created
    )
    return {"HTTP_AUTHORIZATION": headers["Authorization"], "HTTP_X_AKSK": headers["X-AKSK"]}


def post_huawei(client, account, kind, payload, *, sign=True, host="testserver", **extra):
    url = url_for(account, kind)
    headers = huawei_headers(account, f"http://{host}{url}") if sign else {}
    headers.update(extra)
    return delivered(
        client.post(url, data=json.dumps(payload), content_type="application/json", **headers)
    )


def ccp_hangup(call_sid="call-sid-1", byetype="1", **overrides) -> bytes:
    fields = {
        "action": "Hangup",
        "callSid": call_sid,
        "caller": "13800138000",
        "called": "13900139000",
        "starttime": "20240101120010",
        "endtime": "20240101120110",
        "byetype": byetype,
        "recordurl": "",
        "userData": "x",
    }
    fields.update(overrides)
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><Request>{inner}</Request>'.encode()


def ccp_auth(account, mac="EC-55-F9-C7-62-CE", token=None) -> dict:
    value = base64.b64encode(f"{mac}:{token or account.secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": value}


def post_ccp(client, account, body, *, auth=True, **extra):
    headers = ccp_auth(account) if auth else {}
    headers.update(extra)
    return delivered(
        client.post(url_for(account, "cdr"), data=body, content_type="application/xml", **headers)
    )


def cyj_cdr(account, call_id="65445298527236037121523767083120", **overrides) -> dict:
    fields = {
        "CallIdentifier": call_id,
        "Caller": "18326000000",
        "Callee": "18516000000",
        "VirtualNum": "8617118230000",
        "StartTime": "2024-01-01T04:00:00Z",
        "EndTime": "2024-01-01T04:01:30Z",
        "Duration": 90,
        "Result": "answered",
        "APPID": account.app_id,
    }
    fields.update(overrides)
    return fields


def post_json(client, account, kind, payload, **extra):
    return delivered(
        client.post(
            url_for(account, kind),
            data=json.dumps(payload),
            content_type="application/json",
            **extra,
        )
    )
