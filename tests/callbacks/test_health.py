"""X-number health (callbacks/health.py): the statistical flag, read from the rollups;
the page, its masking and bad parameters; the suspend action and its permission."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import PrivacyNumber
from callbacks import health, rollups
from callbacks.models import CallHourX, CallRecord
from tests.factories import PrivacyNumberFactory, VendorAccountFactory

URL = reverse("callbacks:x_number_health")
BAD, SMALL = "+8617000000001", "+8617000000002"
NORMAL = [f"+861700000001{i}" for i in range(5)]


# ------------------------------------------------------------------ the test itself


def test_a_clearly_bad_number_is_flagged():
    # 6 of 60 answered against 300 of 600 in the rest of a pool of 10 numbers.
    result = health._test((70, 60, 6), (660, 306), tested=10)
    assert result.flagged and result.z < health.critical_z(10)
    assert (result.asr, result.pool_asr) == (10.0, 50.0)
    assert result.p_value < 1e-6


def test_a_small_sample_is_not_judged_however_bad():
    result = health._test((12, 12, 0), (612, 300), tested=10)
    assert not result.flagged and not result.judged and result.z is None
    assert health.z_score(ended=200, answered=20, pool_ended=29, pool_answered=15) is None


def test_a_normal_number_is_not_flagged():
    # 26 of 60 (43%) against 50%: a little lower, well within chance.
    result = health._test((60, 60, 26), (660, 326), tested=10)
    assert result.judged and not result.flagged
    assert -2 < result.z < 0


def test_no_variance_no_test_and_a_bigger_pool_needs_more_evidence():
    assert health.z_score(ended=50, answered=0, pool_ended=50, pool_answered=0) is None
    assert health.critical_z(100) < health.critical_z(5) < health.critical_z(1) < 0
    assert round(health.critical_z(100), 2) == -3.72


# ------------------------------------------------------------------ from the rollups


def _calls(account, x: str, *, answered: int, unanswered: int, at) -> list[CallRecord]:
    rows = [
        CallRecord(
            vendor_account=account,
            vendor=account.vendor,
            call_id=f"{x}-{i}",
            caller="+8613600000000",
            callee="+8613700000000",
            x_number=x,
            call_at=at - timedelta(minutes=i % 600),
            outcome="answered" if i < answered else "no_answer",
            duration=60 if i < answered else 0,
            has_cdr=True,
        )
        for i in range(answered + unanswered)
    ]
    return rows


def _pool(account, now) -> None:
    """A pool of 7: five normal numbers (about half answered), one that went bad
    (4 of 50 answered) and one with too few calls to judge (0 of 6)."""
    rows = []
    for i, x in enumerate(NORMAL):
        rows += _calls(account, x, answered=20 + i, unanswered=20, at=now)
    rows += _calls(account, BAD, answered=4, unanswered=46, at=now)
    rows += _calls(account, SMALL, answered=0, unanswered=6, at=now)
    CallRecord.objects.bulk_create(rows)
    list(rollups.rollup_rebuild(since=now - timedelta(days=1), until=now + timedelta(hours=1)))
    for x in [*NORMAL, BAD, SMALL]:
        PrivacyNumberFactory(vendor_account=account, number=x)


@pytest.fixture
def pool(igw_account):
    _pool(igw_account, timezone.now())
    return igw_account


@pytest.mark.django_db
def test_health_flags_the_bad_number_first_from_the_rollups(pool):
    report = health.x_number_health()
    assert report.numbers[0].x_number == BAD
    by_x = {n.x_number: n for n in report.numbers}
    assert by_x[BAD].flagged and by_x[BAD].day.flagged and by_x[BAD].week.flagged
    assert by_x[BAD].day.asr == 8.0 and by_x[BAD].suspendable
    assert not by_x[SMALL].flagged and not by_x[SMALL].day.judged
    assert not any(by_x[x].flagged for x in NORMAL)
    assert all(by_x[x].week.judged for x in NORMAL)
    assert report.flagged_count == 1
    # The rest of the pool excludes the number itself.
    assert by_x[BAD].day.pool_ended == sum(n.day.ended for n in report.numbers) - 50


@pytest.mark.django_db
def test_health_reads_only_the_rollups(pool):
    CallRecord.objects.all().delete()  # the rollups stay until a refresh
    assert health.x_number_health().flagged_count == 1
    CallHourX.objects.all().delete()
    assert health.x_number_health().numbers == []


@pytest.mark.django_db
def test_pools_are_per_vendor_account(pool):
    other = VendorAccountFactory(vendor="igw", name="other")
    CallRecord.objects.bulk_create(
        _calls(other, "+8617100000000", answered=1, unanswered=99, at=timezone.now())
    )
    now = timezone.now()
    list(rollups.rollup_rebuild(since=now - timedelta(days=1), until=now + timedelta(hours=1)))
    # Alone in its pool: nothing to compare with, however low its ASR.
    alone = health.x_number_health(vendor_account_id=other.pk)
    assert [n.x_number for n in alone.numbers] == ["+8617100000000"]
    assert not alone.numbers[0].week.judged
    assert health.x_number_health(vendor_account_id=pool.pk).flagged_count == 1


# ------------------------------------------------------------------ the page


@pytest.mark.django_db
def test_staff_sees_the_page_masked_without_the_action(staff_client, pool):
    response = staff_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert BAD not in page and "17000000001" not in page
    assert "170****0001" in page and '▼ Flagged</span><br><span class="muted">day and week' in page
    assert "Suspend…" not in page
    assert page.index("170****0001") < page.index("170****0010")


@pytest.mark.django_db
def test_operator_sees_the_action_on_available_numbers_only(operator_client, pool):
    PrivacyNumber.objects.filter(number=SMALL).update(status="retired")
    response = operator_client.get(URL, {"flagged": "on"})
    page = response.content.decode()
    assert [n.x_number for n in response.context["page"]] == [BAD]
    bad = PrivacyNumber.objects.get(number=BAD)
    assert reverse("callbacks:x_number_suspend", args=[bad.pk]) in page
    small = PrivacyNumber.objects.get(number=SMALL)
    all_page = operator_client.get(URL).content.decode()
    assert reverse("callbacks:x_number_suspend", args=[small.pk]) not in all_page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params", [{"vendor_account": "x"}, {"vendor_account": "9" * 30}, {"vendor_account": "1\x00"}]
)
def test_bad_parameters_are_field_errors(staff_client, params):
    response = staff_client.get(URL, params)
    assert response.status_code == 200
    assert response.context["form"].errors and "report" not in response.context


@pytest.mark.django_db
def test_the_page_needs_a_login_and_the_permission(client, nobody):
    assert client.get(URL).status_code == 302
    client.force_login(nobody)
    assert client.get(URL).status_code == 403


# ------------------------------------------------------------------ suspend


@pytest.mark.django_db
def test_suspend_asks_first_then_takes_the_number_out_of_allocation(operator_client, pool):
    bad = PrivacyNumber.objects.get(number=BAD)
    url = reverse("callbacks:x_number_suspend", args=[bad.pk])
    confirm = operator_client.get(url)
    assert confirm.status_code == 200 and b"Suspend " in confirm.content
    bad.refresh_from_db()
    assert bad.status == "available"  # asking changed nothing
    response = operator_client.post(url, follow=True)
    bad.refresh_from_db()
    assert bad.status == "suspended"
    assert [str(m) for m in response.context["messages"]] == [
        "17000000001 is suspended: no new binding will get it."
    ]
    again = operator_client.post(url, follow=True)
    assert [str(m) for m in again.context["messages"]] == [
        "17000000001 is suspended, not available."
    ]


@pytest.mark.django_db
def test_suspend_needs_the_permission(staff_client, pool):
    bad = PrivacyNumber.objects.get(number=BAD)
    url = reverse("callbacks:x_number_suspend", args=[bad.pk])
    assert staff_client.get(url).status_code == 403
    assert staff_client.post(url).status_code == 403
    bad.refresh_from_db()
    assert bad.status == "available"
