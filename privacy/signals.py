"""Give every new pool number its XLoad row at once, so the allocator sees it.

Bulk-created numbers (CSV import) send no signal; xload_sync adds those (beat, and
whenever the pool looks exhausted).
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import PrivacyNumber


@receiver(post_save, sender=PrivacyNumber, dispatch_uid="privacy.xload_for_new_number")
def xload_for_new_number(sender, instance: PrivacyNumber, created: bool, raw: bool, **kwargs):
    if created and not raw:
        from privacy.models import XLoad

        XLoad.objects.get_or_create(
            x_number=instance, defaults={"vendor_account_id": instance.vendor_account_id}
        )
