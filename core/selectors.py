"""Reads for the home dashboard: counts each role may see."""

from django.apps import apps


def home_summary(*, user) -> list[dict]:
    """One tile per section the user may view: label, count, URL name."""
    tiles = [
        ("accounts", "vendoraccount", "Vendor accounts", "accounts:vendor_account_list"),
        ("accounts", "privacynumber", "Pool numbers", "accounts:number_list"),
        ("privacy", "binding", "Bindings", "privacy:binding_list"),
        ("callbacks", "callrecord", "Call records", "callbacks:call_record_list"),
    ]
    summary = []
    for app_label, model_name, label, url_name in tiles:
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            continue
        if not user.has_perm(f"{app_label}.view_{model_name}"):
            continue
        summary.append({"label": label, "count": model.objects.count(), "url_name": url_name})
    return summary
