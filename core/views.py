"""Pages that belong to no single app: home, health check, favicon, error pages, and
the page a locked-out login sees.

The 403 and 404 pages render inside the layout, with the navigation, so a user who
follows a link they may not open still has a way on.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from core.selectors import home_summary


def confirm_page(
    request, *, title: str, body: str, action: str, danger: bool = True, hidden=None
) -> HttpResponse:
    """The page that asks before a GET-reachable action happens; its button POSTs back.

    `hidden` holds fields the POST must carry (e.g. skip_auth), `danger` paints the
    button red.
    """
    context = {"title": title, "body": body, "action": action, "danger": danger}
    return render(request, "confirm.html", {**context, "hidden": hidden or {}})


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def favicon(request):
    # Browsers ask for /favicon.ico wherever a page names no icon (raw JSON, files);
    # every browser that runs the console reads an SVG icon under any name.
    icon = Path(finders.find("favicon.svg")).read_bytes()  # a few hundred bytes
    response = HttpResponse(icon, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_required
def home(request):
    return render(request, "home.html", {"summary": home_summary(user=request.user)})


def health(request):
    """Liveness for load balancers and docker compose: 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means unhealthy
        return JsonResponse(
            {"status": "error", "database": str(exc.__class__.__name__)}, status=503
        )
    return JsonResponse({"status": "ok"})


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' AXES_LOCKOUT_CALLABLE: the lockout page, in the layout, with a 429."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes},
        status=429,
    )
