"""View decorators: every page needs a login, and the right permission answers 403."""

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, permission_required


def require_perm(*perms: str) -> Callable:
    """Anonymous users go to the login page; logged-in users without `perms` get 403."""

    def decorator(view):
        return login_required(permission_required(perms, raise_exception=True)(view))

    return decorator
