"""Factories for privacy rows. Bindings built here skip the service (no vendor call)."""

from datetime import timedelta

import factory
from django.utils import timezone

from privacy.models import Binding
from tests.factories import PrivacyNumberFactory, VendorAccountFactory


class BindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Binding
        skip_postgeneration_save = True

    kind = Binding.Kind.AXB
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
