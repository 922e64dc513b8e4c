"""/api/v1/sms/: 202 on create, Idempotency-Key, 429 with Retry-After, filters, masking,
permissions, schema."""

import pytest

from messaging.models import Message
from sandbox.models import SandboxMessage

NUMBERS = ["13800000001", "13800000002"]


def _post(api, account, key=None, **data):
    payload = {"vendor_account": account.pk, "to": NUMBERS, "body": "hi", **data}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post("/api/v1/sms/", payload, format="json", **headers)


def test_create_answers_202_and_detail_shows_each_recipient(operator_api, ccp):
    response = _post(operator_api, ccp)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["recipient_count"] == 2
    detail = operator_api.get(f"/api/v1/sms/{body['id']}/").json()
    assert detail["state"] == "sent"
    assert [r["number"] for r in detail["recipients"]] == NUMBERS
    assert all(r["state"] == "sent" and r["sms_message_sid"] for r in detail["recipients"])


def test_template_create(operator_api, ccp):
    response = _post(operator_api, ccp, kind="template", template_id="7", datas=["1", "2"], body="")
    assert response.status_code == 202
    assert SandboxMessage.objects.get().datas == ["1", "2"]


def test_idempotency_key_replays_and_conflicts(operator_api, ccp):
    first = _post(operator_api, ccp, key="k-1")
    again = _post(operator_api, ccp, key="k-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert SandboxMessage.objects.count() == 1
    other = _post(operator_api, ccp, key="k-1", body="different")
    assert other.status_code == 409
    assert "k-1" in other.json()["message"]
    assert _post(operator_api, ccp, key="x" * 129).status_code == 400


def test_rate_limit_is_429_with_retry_after_and_nothing_sent(operator_api, ccp, settings):
    settings.MESSAGING_SENDS_PER_MINUTE = 3
    assert _post(operator_api, ccp).status_code == 202
    response = _post(operator_api, ccp)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "rate limit" in response.json()["message"]
    assert Message.objects.count() == 1 and SandboxMessage.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"to": ["12"]},
        {"to": []},
        {"to": "13800000001"},
        {"to": ["1380000\x000001"]},
        {"body": ""},
        {"vendor_account": "²"},
        {"vendor_account": 99999999999999999999},
        {"kind": "template", "template_id": "", "body": ""},
        {"kind": "template", "template_id": "1", "datas": ["x"] * 11},
        {"msg_type": "9"},
    ],
)
def test_bad_input_is_400(operator_api, ccp, data):
    response = _post(operator_api, ccp, **data)
    assert response.status_code == 400, response.content
    assert response.json()["message"] == "Validation error"
    assert not Message.objects.exists()


def test_disabled_account_is_400_naming_why(operator_api, ccp):
    ccp.enabled = False
    ccp.save()
    response = _post(operator_api, ccp)
    assert response.status_code == 400
    assert "disabled" in str(response.json()["extra"]["fields"]["vendor_account"])


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"state": "sent"}, 1),
        ({"state": "failed"}, 0),
        ({"kind": "plain"}, 1),
        ({"recipient": "+8613800000002"}, 1),
        ({"recipient": "13800000009"}, 0),
        ({"created_from": "2000-01-01", "created_to": "2999-01-01"}, 1),
        ({"created_to": "2000-01-01"}, 0),
    ],
)
def test_list_filters(operator_api, ccp, params, count):
    _post(operator_api, ccp)
    response = operator_api.get("/api/v1/sms/", {"vendor_account": ccp.pk, **params})
    assert response.status_code == 200
    assert response.json()["count"] == count


@pytest.mark.parametrize(
    "params",
    [
        {"state": "nope"},
        {"recipient": "138"},
        {"recipient": "1\x00"},
        {"vendor_account": "99999999999999999999"},
        {"created_from": "yesterday"},
        {"limit": "0"},
    ],
)
def test_bad_filters_are_400(operator_api, db, params):
    assert operator_api.get("/api/v1/sms/", params).status_code == 400


def test_staff_read_masked_and_cannot_send(staff_api, operator_api, ccp):
    message_id = _post(operator_api, ccp, body="call 13912345678").json()["id"]
    detail = staff_api.get(f"/api/v1/sms/{message_id}/").json()
    assert detail["recipients"][0]["number"] == "138****0001"
    assert "13912345678" not in str(detail) and "139****5678" in detail["body"]
    assert staff_api.get("/api/v1/sms/", {"recipient": "13800000001"}).json()["count"] == 1
    assert _post(staff_api, ccp).status_code == 403


def test_schema_documents_the_endpoint(operator_api):
    response = operator_api.get("/api/schema/", {"format": "json"})
    paths = response.json()["paths"]
    assert {"/api/v1/sms/", "/api/v1/sms/{id}/"} <= set(paths)
    post = paths["/api/v1/sms/"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in post["parameters"]}
    assert {"202", "200", "409", "429"} <= set(post["responses"])
    assert "Template SMS" in str(post["requestBody"])
