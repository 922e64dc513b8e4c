"""Bindings against the sandbox over real HTTP: bind, release, expire, vendor errors, faults.

The end-to-end tests run a real Celery worker (mark `worker`); the others run the
same tasks eagerly in the test process, still over HTTP to the live server. The
only mock is fault injection: a requests adapter that loses the vendor's answer.
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core import outbox
from core.models import OutboxItem
from privacy import services, tasks
from privacy.models import Binding
from sandbox.models import SandboxAccount, SandboxBinding, SandboxRequest
from sandbox.services import binding_create as sandbox_bind
from tests.factories import PrivacyNumberFactory

pytestmark = pytest.mark.django_db(transaction=True)

A, B = "13800138000", "13900139000"


def wait_for(binding: Binding, *states: str, timeout: float = 30) -> Binding:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        binding.refresh_from_db()
        if binding.state in states:
            return binding
        time.sleep(0.1)
    raise AssertionError(f"binding {binding.pk} is {binding.state}, expected {states}")


def create(account, **kwargs) -> Binding:
    defaults = {"kind": "axb", "vendor_account": account, "a_number": A, "b_number": B, "ttl": 600}
    return services.binding_create(**{**defaults, **kwargs})


def sandbox_of(account) -> SandboxAccount:
    return SandboxAccount.objects.get(vendor=account.vendor, account_id=account.account_id)


# ------------------------------------------------------------------ real worker


@pytest.mark.worker
def test_axb_end_to_end_on_a_real_worker(sandbox_account, celery_worker_process, operator_api):
    account = sandbox_account("igw")
    response = operator_api.post(
        "/api/v1/bindings/",
        {"kind": "axb", "vendor_account": account.pk, "a_number": A, "b_number": B, "ttl": 600},
        format="json",
    )
    assert response.status_code == 202 and response.json()["state"] == "pending"
    binding = wait_for(Binding.objects.get(pk=response.json()["id"]), "active", "failed")
    assert binding.state == "active", (binding.failure_code, binding.failure_text)

    # The sandbox verified the Keytime signature and holds exactly this binding.
    vendor_side = SandboxBinding.objects.get()
    assert vendor_side.subid == binding.vendor_binding_id
    assert vendor_side.reqid == binding.reqid
    assert (vendor_side.a_number, vendor_side.b_number) == (A, B)
    assert vendor_side.x_number == binding.x_number.number.removeprefix("+86")
    put = SandboxRequest.objects.get(method="PUT")
    assert put.verdict == "ok" and put.path.endswith(vendor_side.x_number)
    assert f"reqid={binding.reqid}" in put.body

    response = operator_api.post(f"/api/v1/bindings/{binding.pk}/release/")
    assert response.status_code == 202 and response.json()["state"] == "releasing"
    binding = wait_for(binding, "released", "active")
    assert binding.state == "released"
    vendor_side.refresh_from_db()
    assert vendor_side.state == "released"
    assert SandboxRequest.objects.get(method="DELETE").verdict == "ok"
    history = list(binding.transitions.values_list("to_state", "actor_label"))
    assert history == [
        ("pending", "operator"),
        ("active", "worker"),
        ("releasing", "operator"),
        ("released", "worker"),
    ]


# ------------------------------------------------------------------ eager, over HTTP


def test_xa_bind_and_release(sandbox_account):
    account = sandbox_account("igw")
    binding = wait_for(create(account, kind="xa", b_number="", ttl=0), "active", "failed")
    assert binding.state == "active" and binding.expires_at is None
    vendor_side = SandboxBinding.objects.get(kind="xa")
    assert vendor_side.reqid == binding.reqid and vendor_side.a_number == A
    services.binding_release(binding=binding, actor="api")
    assert wait_for(binding, "released").state == "released"
    vendor_side.refresh_from_db()
    assert vendor_side.state == "released"


def test_cyj_bind_uses_our_x_and_release_is_local(sandbox_account):
    account = sandbox_account("cyj")
    binding = wait_for(create(account, kind="cyj", ttl=900), "active", "failed")
    assert binding.state == "active", binding.failure_text
    assert binding.vendor_binding_id == binding.x_number.number.removeprefix("+86")
    vendor_side = SandboxBinding.objects.get(kind="cyj")
    assert vendor_side.x_number == binding.vendor_binding_id
    # EndMinute was sent as our expires_at.
    assert abs((vendor_side.expires_at - binding.expires_at).total_seconds()) < 2
    released = services.binding_release(binding=binding, actor="api")
    assert released.state == "released"
    assert SandboxRequest.objects.filter(vendor="cyj").count() == 1  # no release call


def test_cyj_rebind_after_release_takes_another_x_the_vendor_accepts(sandbox_account):
    """The vendor keeps a released cyj binding until its end time: the same X would be 103001."""
    account = sandbox_account("cyj", numbers=2)
    first = wait_for(create(account, kind="cyj", ttl=900), "active", "failed")
    services.binding_release(binding=first, actor="api")
    second = wait_for(create(account, kind="cyj", ttl=900), "active", "failed")
    assert second.state == "active", (second.failure_code, second.failure_text)
    assert second.x_number != first.x_number
    assert SandboxBinding.objects.filter(kind="cyj").count() == 2


def test_cyj_without_a_pool_takes_the_vendors_number(live_server):
    from sandbox.services import ensure_sandbox_account
    from tests.factories import VendorAccountFactory

    account = VendorAccountFactory(vendor="cyj", base_url=f"{live_server.url}/sandbox/cyj")
    ensure_sandbox_account(vendor_account=account)
    binding = wait_for(create(account, kind="cyj", ttl=900), "active", "failed")
    assert binding.state == "active" and binding.x_number is None
    assert binding.vendor_binding_id.startswith("171")


def _wrong_secret(account):
    account.secret = "not-the-key"
    account.save()


def _suspended(account):
    SandboxAccount.objects.filter(account_id=account.account_id).update(state=2)


def _x_unknown_to_vendor(account):
    # Numbers added after the sandbox mirrored the account are not the vendor's.
    from accounts.models import PrivacyNumber

    PrivacyNumber.objects.filter(vendor_account=account).update(status="suspended")
    PrivacyNumberFactory(vendor_account=account, number="+8617299990000")


def _vendor_holds_a_on_every_x(account):
    sandbox = sandbox_of(account)
    for x in account.numbers.all():
        sandbox_bind(
            account=sandbox, kind="axb", x_number=x.number, a_number=A, b_number="1", ttl=60
        )


def _vendor_x_full(account):
    SandboxAccount.objects.filter(account_id=account.account_id).update(max_bindings_per_x=0)


def _always_503(account):
    SandboxAccount.objects.filter(account_id=account.account_id).update(chaos_api_fail_next=1000)


@pytest.mark.parametrize(
    ("arrange", "code", "text", "gloss"),
    [
        (_wrong_secret, "1101", "账号认证失败", "Account authentication failed"),
        (_suspended, "1102", "账号已停用", "Account disabled"),
        (_x_unknown_to_vendor, "1300", "资源不存在", "Resource does not exist"),
        (_vendor_holds_a_on_every_x, "1302", "资源配置冲突", "Resource configuration conflict"),
        (_vendor_x_full, "1301", "资源不足", "Insufficient resources"),
        (_always_503, "503", "HTTP 503", "TemporaryError"),
    ],
    ids=["auth", "permission", "not-found", "conflict", "capacity", "temporary"],
)
def test_vendor_errors_fail_the_binding_with_the_vendors_text(
    sandbox_account, vendor_faults, arrange, code, text, gloss
):
    vendor_faults(timeouts=0)  # no sleeping between the client's retries
    account = sandbox_account("igw")
    arrange(account)
    binding = wait_for(create(account), "active", "failed")
    assert binding.state == "failed"
    assert binding.failure_code == code
    assert text in binding.failure_text and binding.failure_text_en == gloss
    assert binding.failure_advice
    assert SandboxBinding.objects.filter(reqid=binding.reqid).count() == 0


def test_cyj_vendor_error(sandbox_account):
    account = sandbox_account("cyj")
    x = account.numbers.first()
    sandbox_bind(
        account=sandbox_of(account), kind="cyj", x_number=x.number, a_number=A, b_number="1"
    )
    binding = wait_for(create(account, kind="cyj", x_number=x.number, ttl=900), "failed", "active")
    assert binding.state == "failed" and binding.failure_code == "103001"
    assert binding.failure_text  # the vendor's own message


def test_lost_answer_then_success_makes_one_vendor_binding(sandbox_account, vendor_faults):
    account = sandbox_account("igw")
    faults = vendor_faults(timeouts=1)
    binding = wait_for(create(account), "active", "failed")
    assert binding.state == "active" and faults.sent == 2
    (vendor_side,) = SandboxBinding.objects.all()
    assert vendor_side.subid == binding.vendor_binding_id and vendor_side.reqid == binding.reqid


def test_lost_answers_beyond_the_clients_retries_are_retried_by_the_task(
    sandbox_account, vendor_faults
):
    account = sandbox_account("igw")
    faults = vendor_faults(timeouts=4)  # every attempt of the client's first round
    binding = wait_for(create(account), "active", "failed")
    assert binding.state == "active" and binding.attempts == 2 and faults.sent == 5
    assert SandboxBinding.objects.count() == 1


def test_redelivery_after_a_worker_died_mid_call_reuses_the_reqid(sandbox_account):
    account = sandbox_account("igw")
    binding = services.binding_create(
        kind="axb", vendor_account=account, a_number=A, b_number=B, ttl=600
    )
    # The bind task ran (eagerly, on commit). Undo what it saved, to stand for a worker
    # that made the vendor call and died before recording the answer.
    binding = wait_for(binding, "active")
    first_subid = binding.vendor_binding_id
    Binding.objects.filter(pk=binding.pk).update(state="pending", vendor_binding_id="")
    tasks.binding_bind_at_vendor.delay(binding.pk)  # the broker redelivers the unacked message
    binding = wait_for(binding, "active")
    assert binding.vendor_binding_id == first_subid and binding.attempts == 2
    assert SandboxBinding.objects.count() == 1


def test_cyj_redelivery_does_not_bind_twice(sandbox_account):
    account = sandbox_account("cyj")
    binding = wait_for(create(account, kind="cyj", ttl=900), "active")
    Binding.objects.filter(pk=binding.pk).update(state="pending")
    tasks.binding_bind_at_vendor.delay(binding.pk)
    binding = wait_for(binding, "failed")
    assert binding.failure_code == "unknown_outcome"
    assert SandboxBinding.objects.count() == 1


def test_expiry_by_beat(sandbox_account):
    account = sandbox_account("igw")
    binding = wait_for(create(account, ttl=60), "active")
    assert binding.expires_at > timezone.now()
    assert tasks.bindings_expire_due.delay().get() == 0
    Binding.objects.filter(pk=binding.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.bindings_expire_due.delay().get() == 1
    binding.refresh_from_db()
    assert binding.state == "expired" and binding.ended_at
    # No vendor call: igw ends it by itself after ttl (here: pretend its ttl passed too).
    assert not SandboxRequest.objects.filter(method="DELETE").exists()
    SandboxBinding.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    # The slot is free again for the same pairing on the same X.
    again = wait_for(create(account, x_number=binding.x_number.number, ttl=60), "active")
    assert again.x_number == binding.x_number


def test_release_of_a_binding_the_vendor_no_longer_has(sandbox_account):
    account = sandbox_account("igw")
    binding = wait_for(create(account), "active")
    SandboxBinding.objects.all().delete()
    services.binding_release(binding=binding, actor="api")
    binding = wait_for(binding, "released", "active")
    assert binding.state == "released"
    assert "1300" in binding.transitions.last().reason


def test_a_lost_bind_message_is_published_by_the_outbox_dispatcher(sandbox_account, monkeypatch):
    account = sandbox_account("igw")
    with monkeypatch.context() as patch:
        # Sent to a broker that lost it: never executed.
        patch.setattr(tasks.binding_bind_at_vendor, "apply_async", lambda *a, **k: None)
        binding = create(account)
    item = OutboxItem.objects.get(task=tasks.BIND_TASK, object_id=binding.pk)
    assert outbox.dispatch() == 0  # not yet due: the doorbell's task has a grace
    assert outbox.dispatch(now=item.due_at) == 1
    assert wait_for(binding, "active").vendor_binding_id
    assert not OutboxItem.objects.exists()  # done with the binding's activation
    assert SandboxRequest.objects.filter(method="PUT").count() == 1


def test_a_bind_whose_worker_died_is_asked_again_with_its_reqid(sandbox_account):
    account = sandbox_account("igw")
    binding = wait_for(create(account), "active")
    made = SandboxBinding.objects.get()
    # As if the worker died after the vendor made it and before the answer was kept.
    Binding.objects.filter(pk=binding.pk).update(state="pending", vendor_binding_id="")
    OutboxItem.objects.create(
        task=tasks.BIND_TASK,
        object_id=binding.pk,
        due_at=timezone.now(),
        lease_until=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )
    assert outbox.dispatch() == 1
    binding = wait_for(binding, "active")
    assert binding.vendor_binding_id == made.subid and SandboxBinding.objects.count() == 1
    assert not OutboxItem.objects.exists()


def test_a_live_lease_keeps_a_twin_task_away(sandbox_account, monkeypatch):
    account = sandbox_account("igw")
    with monkeypatch.context() as patch:
        patch.setattr(tasks.binding_bind_at_vendor, "apply_async", lambda *a, **k: None)
        binding = create(account)
    assert outbox.claim(task=tasks.BIND_TASK, object_id=binding.pk).attempts == 1
    tasks.binding_bind_at_vendor.delay(binding.pk)  # a duplicate message
    binding.refresh_from_db()
    assert binding.state == "pending" and not SandboxRequest.objects.exists()
