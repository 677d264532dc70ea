"""``GET /metrics``: the Prometheus exposition of ``common.metrics`` — summed over the workers and
the ticker in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) — and the audit log's figures read
at scrape time (``audit.metrics``). Protected by a bearer token: ``Authorization: Bearer
<METRICS_TOKEN>``. No token configured: 404 ``not_found`` (the endpoint does not exist); a missing
or wrong token: 401 ``unauthenticated``. docs/operations.md, "Metrics"."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from common import clock, metrics
from common.errors import ErrorCode, error_body

AUDIT = {
    "pending": ("kaibiao_audit_pending_entries", "Audit entries committed but not yet indexed"),
    "oldest_pending_age": ("kaibiao_audit_sequencing_lag_seconds",
                           "Age of the oldest audit entry waiting for its index"),
    "size": ("kaibiao_audit_log_entries", "Entries in the audit log's tree"),
    "unsigned": ("kaibiao_audit_entries_since_checkpoint", "Entries not covered by the last checkpoint"),
    "checkpoint_age": ("kaibiao_audit_checkpoint_age_seconds", "Age of the last signed checkpoint"),
}


class AuditCollector:
    def collect(self):
        from audit.metrics import figures

        for key, value in figures(clock.now()).items():
            name, text = AUDIT[key]
            family = GaugeMetricFamily(name, text)
            family.add_metric([], value)
            yield family


def exposition() -> bytes:
    if metrics.MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    audit = CollectorRegistry(auto_describe=False)
    audit.register(AuditCollector())
    return text + generate_latest(audit)


def metrics_view(request):
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        return JsonResponse(error_body(ErrorCode.NOT_FOUND, "not found"), status=404)
    given = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        response = JsonResponse(error_body(ErrorCode.UNAUTHENTICATED, "a bearer token is required"), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
