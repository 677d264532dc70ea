"""Delivering the outbox: signed pushes to each endpoint, in order per tender, retried with
backoff, dead-lettered after ``EXCHANGE_MAX_ATTEMPTS`` (docs/data-exchange.md, "Delivery").

One process at a time pushes to an endpoint: it holds the endpoint's row lock (``EndpointLock``,
``SKIP LOCKED``: another process simply passes) for one batch. A batch is the oldest due deliveries
of the endpoint whose tender has no earlier delivery waiting for a retry or dead; a failure in the
batch holds the rest of that tender's events back. States are committed with the batch, so a
process killed mid-batch leaves its deliveries pending: they are pushed again with the same
idempotency key, and the receiver keeps each key once (at least once on the wire, exactly once at
the receiver)."""

from __future__ import annotations

import http.client
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from common.actor import Actor
from crypto.httpsig import sign_request

from . import keys
from .models import Delivery, EndpointLock

log = logging.getLogger(__name__)
BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_MAX = timedelta(minutes=10)


def backoff(attempts: int, *, base: timedelta | None = None) -> timedelta:
    """After the ``attempts``-th failure: base × 2^(attempts-1), at most ten minutes."""
    base = base if base is not None else timedelta(milliseconds=settings.EXCHANGE_BACKOFF_MS)
    return min(base * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


@dataclass
class Push:
    url: str
    body: bytes
    headers: dict[str, str]


def build_push(url: str, event, *, created: int) -> Push:
    body = json.dumps(event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": str(event.key)}
    headers.update(sign_request(keys.exchange_signing_key(), method="POST", target_uri=url, headers=headers,
                                body=body, keyid=keys.key_id(), created=created))
    return Push(url=url, body=body, headers=headers)


class Sender:
    """Keeps one HTTP connection per endpoint; ``send`` returns None on a 2xx, else the error."""

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout if timeout is not None else settings.EXCHANGE_TIMEOUT_SECONDS
        self.connections: dict[str, http.client.HTTPConnection] = {}

    def _connection(self, url: str) -> http.client.HTTPConnection:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        conn = self.connections.get(key)
        if conn is None:
            cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = self.connections[key] = cls(parts.netloc, timeout=self.timeout)
        return conn

    def send(self, push: Push) -> str | None:
        parts = urlsplit(push.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(push.url)
        try:
            conn.request("POST", path or "/", body=push.body, headers=push.headers)
            response = conn.getresponse()
            response.read()
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self.connections.pop(f"{parts.scheme}://{parts.netloc}", None)
            return f"{type(exc).__name__}: {exc}"[:300]

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()
        self.connections.clear()


def _endpoint_url(name: str) -> str | None:
    return next((e["url"] for e in settings.EXCHANGE_ENDPOINTS if e["name"] == name), None)


def deliver_batch(name: str, *, now: datetime, sender: Sender, limit: int = 100) -> int:
    """Push one batch to endpoint ``name``; returns the number of deliveries attempted (0: nothing
    due, or another process holds the endpoint)."""
    url = _endpoint_url(name)
    if url is None:
        return 0
    EndpointLock.objects.get_or_create(name=name)
    with transaction.atomic():
        if EndpointLock.objects.select_for_update(skip_locked=True).filter(name=name).first() is None:
            return 0
        queue = Delivery.objects.filter(endpoint=name)
        held = set(queue.filter(state=Delivery.State.DEAD).values_list("tender_id", flat=True).distinct())
        held |= set(queue.filter(state=Delivery.State.PENDING, next_attempt_at__gt=now)
                    .values_list("tender_id", flat=True).distinct())
        due = (queue.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now).select_related("event")
               .order_by("event_id"))
        if held:
            due = due.exclude(tender_id__in=[t for t in held if t is not None])
            if None in held:
                due = due.exclude(tender_id__isnull=True)
        attempted = 0
        dead = []
        for d in due[:limit]:
            if d.tender_id in held:
                continue
            attempted += 1
            error = sender.send(build_push(url, d.event, created=int(now.timestamp())))
            if error is None:
                d.state, d.delivered_at, d.last_error = Delivery.State.DELIVERED, now, ""
            else:
                d.attempts += 1
                d.last_error = error
                d.next_attempt_at = now + backoff(d.attempts)
                held.add(d.tender_id)
                if d.attempts >= settings.EXCHANGE_MAX_ATTEMPTS:
                    d.state = Delivery.State.DEAD
                    dead.append(d)
            d.save(update_fields=["state", "delivered_at", "last_error", "attempts", "next_attempt_at"])
        for d in dead:
            _audit_dead(d, now)
    return attempted


def _audit_dead(d: Delivery, now: datetime) -> None:
    from audit.log import log_action

    log.warning("outbox: event %s to %s dead after %d attempts: %s", d.event.key, d.endpoint, d.attempts,
                d.last_error)
    log_action("exchange.delivery.dead", actor=Actor.system("exchange.delivery"), obj=d, tender_id=d.tender_id,
               now=now, data={"event": str(d.event.key), "kind": d.event.kind, "endpoint": d.endpoint,
                              "state": ["pending", "dead"], "attempts": d.attempts, "error": d.last_error})


def deliver_all(*, now: datetime, sender: Sender, limit: int = 100) -> int:
    from .events import endpoint_names

    return sum(deliver_batch(name, now=now, sender=sender, limit=limit) for name in endpoint_names())


def retry(user, actor: Actor, delivery_id, *, now: datetime) -> Delivery:
    """An administrator puts a dead delivery back in the queue (its attempts start again)."""
    from audit.log import log_action
    from common.access import deny, require_cap
    from common.roles import Cap

    require_cap(user, Cap.EXCHANGE_MANAGE)
    with transaction.atomic():
        d = Delivery.objects.select_for_update().filter(pk=delivery_id if str(delivery_id).isdigit() else -1).first()
        if d is None:
            raise deny("delivery", delivery_id, user, "missing")
        if d.state != Delivery.State.DEAD:
            from common.errors import ErrorCode, PlatformError

            raise PlatformError(ErrorCode.INVALID_STATE, "only a dead delivery is retried",
                                details={"state": d.state})
        attempts = d.attempts
        d.state, d.attempts, d.next_attempt_at = Delivery.State.PENDING, 0, now
        d.save(update_fields=["state", "attempts", "next_attempt_at"])
        log_action("exchange.delivery.retried", actor=actor, obj=d, tender_id=d.tender_id, now=now,
                   data={"event": str(d.event.key), "endpoint": d.endpoint, "state": ["dead", "pending"],
                         "attempts": [attempts, 0], "last_error": d.last_error})
    return d
