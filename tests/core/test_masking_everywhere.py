"""No full number reaches business staff: every page, API response and export that
shows a cyj binding, its history and failure, its calls and the gap page.

The rows are made the way the app makes them where that matters (the cyj binding's
history comes from privacy.services), and hold numbers in every field and in every
free text a user can see. Operators (view_full_numbers) see the same numbers whole.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callbacks.models import CallEvent
from privacy import services
from privacy.models import Binding
from tests.factories import (
    BindingFactory,
    CallEventFactory,
    CallRecordFactory,
    UserFactory,
    VendorAccountFactory,
)

pytestmark = pytest.mark.django_db

A = "13800000011"
B = "13900000022"
VENDOR_X = "17118230001"  # cyj chose it; not in our pool
FAILURE_X = "13811110001"
RECORDING_NUMBER = "13811110002"
RAW_TEXT_NUMBER = "13911110003"
EVENT_NUMBER = "13911110004"
USER_DATA_NUMBER = "13911110005"
ALL = [A, B, VENDOR_X, FAILURE_X, RECORDING_NUMBER, RAW_TEXT_NUMBER, EVENT_NUMBER, USER_DATA_NUMBER]
# Any whole Chinese mobile, in case a number leaks that this test did not plant.
ANY_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def scene(db):
    account = VendorAccountFactory(vendor="cyj")
    pending = {
        "kind": "cyj",
        "vendor_account": account,
        "x_number": None,
        "a_number": f"+86{A}",
        "b_number": f"+86{B}",
        "ttl": 1800,
        "direct": 0,
        "display": "",
        "state": Binding.State.PENDING,
        "vendor_binding_id": "",
    }
    active = BindingFactory(**pending)
    # The worker's path: cyj answers with a number outside the pool.
    services.binding_mark_active(
        binding_id=active.pk, vendor_binding_id=VENDOR_X, vendor_x_number=VENDOR_X
    )
    failed = BindingFactory(**{**pending, "b_number": "+8613900000033"})
    services.binding_mark_failed(
        binding_id=failed.pk,
        code="1005",
        text=f"X {FAILURE_X} 不是本账号的号码",
        text_en=f"X {FAILURE_X} is not this account's number",
        advice=f"Bind with a number of this account instead of +86 138-1111-0001 ({FAILURE_X}).",
    )
    assert Binding.objects.get(pk=active.pk).vendor_binding_id == VENDOR_X
    assert VENDOR_X in active.transitions.get(to_state="active").reason

    record = CallRecordFactory(
        vendor_account=account,
        call_id="cyj-call-1",
        binding=active,
        vendor_binding_id=VENDOR_X,
        caller=f"+86{A}",
        callee=f"+86{B}",
        x_number=f"+86{VENDOR_X}",
        raw_code="3",
        raw_text=f"callee {RAW_TEXT_NUMBER} busy",
        user_data=f"order for {USER_DATA_NUMBER}",
        recording_status="failed",
        recording_attempts=3,
        recording_last_error=(
            "attempt 3: ConnectionError: HTTPConnectionPool(host='rec.example.com', "
            f"port=80): Max retries exceeded with url: /rec/{RECORDING_NUMBER}/1.mp3"
        ),
    )
    CallEventFactory(call_record=record, state_code="7", state_text=f"forwarded to {EVENT_NUMBER}")
    # A call seen by its call-start event only, long enough ago to be on the gap page.
    gap = CallRecordFactory(
        vendor_account=account,
        call_id="cyj-call-2",
        binding=active,
        vendor_binding_id=VENDOR_X,
        caller=f"+86{A}",
        callee=f"+86{B}",
        x_number=f"+86{VENDOR_X}",
        outcome="",
        has_cdr=False,
        first_seen_at=timezone.now() - timedelta(hours=1),
    )
    CallEventFactory(call_record=gap, kind=CallEvent.Kind.CALL_START)

    pages = [
        reverse("home"),
        reverse("privacy:binding_list"),
        reverse("privacy:binding_list") + "?state=failed",
        reverse("privacy:binding_detail", args=[active.pk]),
        reverse("privacy:binding_detail", args=[failed.pk]),
        reverse("privacy:binding_state", args=[active.pk]),
        reverse("privacy:binding_state", args=[failed.pk]),
        reverse("privacy:pool"),
        reverse("callbacks:call_record_list"),
        reverse("callbacks:call_record_detail", args=[record.pk]),
        reverse("callbacks:call_record_detail", args=[gap.pk]),
        reverse("callbacks:gap_list"),
        reverse("callbacks:call_record_export"),
    ]
    apis = [
        "/api/v1/bindings/",
        f"/api/v1/bindings/{active.pk}/",
        f"/api/v1/bindings/{failed.pk}/",
        "/api/v1/call-records/",
        f"/api/v1/call-records/{record.pk}/",
        f"/api/v1/call-records/{gap.pk}/",
    ]
    return {
        "pages": pages,
        "apis": apis,
        "active_page": reverse("privacy:binding_detail", args=[active.pk]),
        "failed_page": reverse("privacy:binding_detail", args=[failed.pk]),
        "call_page": reverse("callbacks:call_record_detail", args=[record.pk]),
        "gap_page": reverse("callbacks:gap_list"),
    }


def _bodies(user, scene) -> dict[str, str]:
    """Every response body the user gets, by URL; all must answer (200, or 403 for a
    page the role may not open)."""
    browser = Client()
    browser.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    bodies = {}
    for url in scene["pages"]:
        response = browser.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
        if response.status_code == 200:
            content = (
                b"".join(response.streaming_content) if response.streaming else response.content
            )
            bodies[url] = content.decode()
    for url in scene["apis"]:
        response = api.get(url)
        assert response.status_code == 200, (url, response.status_code)
        bodies[url] = response.content.decode()
    return bodies


def test_business_staff_never_see_a_full_number(staff_user, scene):
    bodies = _bodies(staff_user, scene)
    assert reverse("callbacks:call_record_export") in bodies  # staff may export
    for url, body in bodies.items():
        for number in ALL:
            assert number not in body, (url, number)
        assert not ANY_MOBILE.search(body), (url, ANY_MOBILE.search(body).group(0))
    # Masked, not dropped: the X number, the history and the texts are still there.
    assert "X 138****0001 不是本账号的号码" in bodies[scene["failed_page"]]
    assert "instead of 138****0001 (138****0001)" in bodies[scene["failed_page"]]
    assert "vendor chose 171****0001" in bodies[scene["active_page"]]
    assert "/rec/138****0002/1.mp3" in bodies[scene["call_page"]]
    assert "171****0001" in bodies[scene["gap_page"]]


def test_operators_see_every_number_whole(operator, scene):
    bodies = _bodies(operator, scene)
    everything = "\n".join(bodies.values())
    for number in ALL:
        assert number in everything, number
    assert VENDOR_X in bodies[scene["gap_page"]]
    assert f"vendor chose {VENDOR_X}" in bodies[scene["active_page"]]
    assert f"/rec/{RECORDING_NUMBER}/1.mp3" in bodies[scene["call_page"]]
    assert f"X {FAILURE_X} is not this account" in bodies[scene["failed_page"]]


def test_a_user_without_any_role_gets_no_numbers_from_the_api(scene):
    """Masking does not hang on a role: any user without view_full_numbers is masked."""
    user = UserFactory(username="plain")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_binding", "view_callrecord"])
    )
    api = APIClient()
    api.force_authenticate(user)
    for url in scene["apis"]:
        body = api.get(url).content.decode()
        assert not ANY_MOBILE.search(body), url
