"""factory_boy factories for the console's rows. Tests build rows with these, not by hand."""

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from accounts.models import PrivacyNumber, SubAccount, VendorAccount
from callbacks.models import CallEvent, CallRecord, Delivery
from privacy.models import Binding


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get(name=name))
        self.save()


class VendorAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorAccount

    vendor = "igw"
    name = factory.Sequence(lambda n: f"account-{n}")
    base_url = "https://vendor.example.com"
    account_id = factory.Sequence(lambda n: f"dev{n:06d}")
    secret = factory.Sequence(lambda n: f"secret-token-{n:04d}-do-not-leak")
    app_id = factory.Sequence(lambda n: f"app{n:04d}")
    extra = factory.LazyFunction(dict)


class SubAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubAccount

    vendor_account = factory.SubFactory(VendorAccountFactory, vendor="ccp")
    sub_account_sid = factory.Sequence(lambda n: f"{n:032d}")
    sub_token = factory.Sequence(lambda n: f"subtoken{n:024d}")
    voip_account = factory.Sequence(lambda n: f"8000{n:08d}")
    voip_password = "voip-secret"
    friendly_name = factory.Sequence(lambda n: f"sub-{n}")
    state = "active"  # rows made here have their sid already


class PrivacyNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PrivacyNumber

    number = factory.Sequence(lambda n: f"+86170{n:08d}")
    vendor_account = factory.SubFactory(VendorAccountFactory)
    area_code = "010"


class BindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Binding
        skip_postgeneration_save = True

    kind = "axb"
    vendor_account = factory.SubFactory(VendorAccountFactory, vendor="igw")
    x_number = factory.SubFactory(
        PrivacyNumberFactory, vendor_account=factory.SelfAttribute("..vendor_account")
    )
    a_number = factory.Sequence(lambda n: f"+86138{n:08d}")
    b_number = factory.Sequence(lambda n: f"+86139{n:08d}")
    ttl = 600
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(seconds=600))
    display = "0,0"
    state = Binding.State.ACTIVE
    vendor_binding_id = factory.Sequence(lambda n: f"sub{n:06d}")

    @factory.post_generation
    def load(self, create, extracted, **kwargs):
        # Rows made here skip the services, so bring the allocator's load hint in step.
        if create:
            from privacy.services import xload_sync

            xload_sync(vendor_account=self.vendor_account)


class CallRecordFactory(factory.django.DjangoModelFactory):
    """A call as the normalizer leaves it after its CDR (has_cdr=False for a gap)."""

    class Meta:
        model = CallRecord

    vendor_account = factory.SubFactory(VendorAccountFactory, vendor="igw")
    vendor = factory.SelfAttribute("vendor_account.vendor")
    call_id = factory.Sequence(lambda n: f"call-{n:06d}")
    caller = factory.Sequence(lambda n: f"+86136{n:08d}")
    callee = factory.Sequence(lambda n: f"+86137{n:08d}")
    outcome = "answered"
    has_cdr = True
    duration = 60


class ReviewedCallFactory(CallRecordFactory):
    """A call with recognizable numbers and time, for the review pages' tests:
    `ReviewedCallFactory(vendor_account=account, call_id="a", outcome="busy")`."""

    vendor_account = None  # always given
    call_id = "c1"
    caller = "+8613800138000"
    callee = "+8613900139000"
    x_number = "+8617012345678"
    call_at = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


class CallEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallEvent

    call_record = factory.SubFactory(CallRecordFactory)
    kind = CallEvent.Kind.CALL_START
    occurred_at = factory.LazyFunction(timezone.now)
    caller = factory.SelfAttribute("call_record.caller")
    callee = factory.SelfAttribute("call_record.callee")
    x_number = factory.SelfAttribute("call_record.x_number")


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    vendor_account = factory.SubFactory(VendorAccountFactory, vendor="igw")
    vendor = factory.SelfAttribute("vendor_account.vendor")
    kind = "cdr"
    body = b"a=b"
    body_size = 3
    outcome = Delivery.Outcome.REJECTED_INVALID
    reason = "test delivery"


class MessageFactory(factory.django.DjangoModelFactory):
    """A plain SMS the vendor accepted (no recipients: counts and lists only)."""

    class Meta:
        model = "messaging.Message"

    vendor_account = factory.SubFactory(VendorAccountFactory, vendor="ccp")
    kind = "plain"
    state = "sent"
    body = "hello"


class TwoWayCallFactory(factory.django.DjangoModelFactory):
    """A two-way call the vendor accepted (it has its callSid)."""

    class Meta:
        model = "messaging.TwoWayCall"

    vendor_account = factory.SubFactory(VendorAccountFactory, vendor="ccp")
    state = "sent"
    from_number = "+8613800138000"
    to_number = "+8613900139000"
    call_sid = factory.Sequence(lambda n: f"call-sid-{n:06d}")


class VoiceCodeFactory(factory.django.DjangoModelFactory):
    """A voice code the vendor accepted (it has its sessionId; the code is gone)."""

    class Meta:
        model = "messaging.VoiceCode"

    vendor_account = factory.SubFactory(VendorAccountFactory, vendor="huawei")
    state = "sent"
    callee_number = "+8613800138021"
    session_id = factory.Sequence(lambda n: f"1200_{n:06d}@callenabler")
