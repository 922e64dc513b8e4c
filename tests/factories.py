"""factory_boy factories for the console's rows. Tests build rows with these, not by hand."""

import factory
from django.contrib.auth.models import Group, User

from accounts.models import PrivacyNumber, SubAccount, VendorAccount


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


class PrivacyNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PrivacyNumber

    number = factory.Sequence(lambda n: f"+86170{n:08d}")
    vendor_account = factory.SubFactory(VendorAccountFactory)
    area_code = "010"
