"""Plain views of the operations core."""

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from lastmile.core.health import health_report, queue_heartbeats


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and broker answer; 503 naming what is down."""
    report = health_report()
    body: dict = {"status": "ok" if report.healthy else "unavailable", "checks": report.checks}
    if report.down:
        body["down"] = report.down
    elif report.checks["broker"]["mode"] == "redis":
        # Informational: a stale queue means no worker is consuming it. It does not make the
        # web process unhealthy, so a load balancer keeps sending it traffic.
        try:
            body["queues_last_seen_s"] = queue_heartbeats()
        except DatabaseError:
            body["queues_last_seen_s"] = None
    return JsonResponse(body, status=200 if report.healthy else 503)
