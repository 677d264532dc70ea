"""The transactional outbox (events for other platforms and their deliveries per endpoint) and the
announcements received from other trading systems (docs/data-exchange.md)."""

from __future__ import annotations

import uuid

from django.db import models


class OutboxEvent(models.Model):
    """One event, written in the transaction of the change it reports (``exchange.events``). ``key``
    is the idempotency key every push of it carries; ``id`` orders the events."""

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40)
    tender_id = models.BigIntegerField(null=True, db_index=True)  # the lot
    payload = models.JSONField()
    created_at = models.DateTimeField()


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        DEAD = "dead"  # out of attempts: on the dead-letter list, later events of its tender wait

    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="deliveries")
    endpoint = models.CharField(max_length=60)
    tender_id = models.BigIntegerField(null=True)  # the event's, copied for the ordering queries
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_unique")]
        indexes = [models.Index(fields=["endpoint", "state", "event"], name="delivery_queue")]


class EndpointLock(models.Model):
    """One row per endpoint: a delivering process holds its row lock, so one process at a time
    pushes to an endpoint and the per-tender order holds."""

    name = models.CharField(max_length=60, primary_key=True)


class InboundAnnouncement(models.Model):
    """A tender announcement received from another trading system; ``(source, external_id)`` makes
    a repeated push idempotent."""

    source = models.CharField(max_length=60)
    external_id = models.CharField(max_length=100)
    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="+")
    payload_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="inbound_unique")]
