"""The three roles, as Django groups, and the permissions each holds.

Groups are created by a data migration; permissions are (re)attached after every
migrate, because apps added later bring permissions the roles must hold.
"""

from django.contrib.auth.management import create_permissions

OPERATORS = "Operators"
BUSINESS_STAFF = "Business staff"
ADMINISTRATORS = "Administrators"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATORS: [
        "accounts.view_vendoraccount",
        "accounts.add_vendoraccount",
        "accounts.change_vendoraccount",
        "accounts.view_subaccount",
        "accounts.add_subaccount",
        "accounts.change_subaccount",
        "accounts.view_privacynumber",
        "accounts.add_privacynumber",
        "accounts.change_privacynumber",
        "accounts.delete_privacynumber",
        "accounts.view_full_numbers",
        "privacy.view_binding",
        "privacy.add_binding",
        "privacy.change_binding",
        "callbacks.view_callrecord",
        "callbacks.view_callevent",
        "callbacks.view_delivery",
        "callbacks.replay_delivery",
        "callbacks.play_recording",
        "sandbox.view_sandboxcall",
        "messaging.view_message",
        "messaging.add_message",
        "messaging.view_twowaycall",
        "messaging.add_twowaycall",
        "messaging.view_voicecode",
        "messaging.add_voicecode",
        "messaging.view_sendpolicy",
        "messaging.add_sendpolicy",
        "messaging.change_sendpolicy",
    ],
    BUSINESS_STAFF: [
        "callbacks.view_callrecord",
        "callbacks.view_callevent",
        "callbacks.export_callrecord",
        "callbacks.play_recording",
        "privacy.view_binding",
        "messaging.view_message",
        "messaging.view_twowaycall",
        "messaging.view_voicecode",
    ],
    # Administrators get every permission of the console's apps and of user management.
    ADMINISTRATORS: ["*"],
}

# axes: administrators see login attempts and lockouts, and can lift them.
ADMIN_APPS = (
    "accounts",
    "privacy",
    "callbacks",
    "messaging",
    "sandbox",
    "auth",
    "authtoken",
    "axes",
)


def sync_roles(sender=None, apps=None, **kwargs) -> None:
    """Create the groups if missing and give each exactly its permissions that exist."""
    from django.apps import apps as global_apps
    from django.contrib.auth.models import Group, Permission

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        if wanted == ["*"]:
            perms = Permission.objects.filter(content_type__app_label__in=ADMIN_APPS)
        else:
            perms = [
                p
                for p in Permission.objects.select_related("content_type")
                if f"{p.content_type.app_label}.{p.codename}" in wanted
            ]
        group.permissions.set(perms)
