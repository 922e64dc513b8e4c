"""Request guards that no single view can own."""

from django.core.exceptions import BadRequest


class AdminQueryGuard:
    """Answer 400 to an admin request whose query string holds a NUL byte.

    The admin's search box and list filters go straight into SQL, and PostgreSQL
    refuses NUL in text: without this, `?q=%00` on any changelist is a 500. The
    console's own pages validate their parameters with filter sets instead.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or "admin" not in match.namespaces:
            return None
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                raise BadRequest("A query parameter holds a NUL character.")
        return None
