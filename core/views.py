"""Pages that belong to no single app: the home dashboard and the health check."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from core.selectors import home_summary


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
