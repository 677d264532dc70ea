"""Pushing checkpoints to witnesses (C2SP tlog-witness), storing their cosignatures, and alerting
when a checkpoint lacks the quorum; the same timer asks the TSA for timestamps (``audit.timestamps``).

Off the append's critical path: ``issue_checkpoint`` only marks the push timer due (one row
UPDATE under the head lock it already holds); the ticker then pushes the newest checkpoint to each
configured witness (``AUDIT_WITNESSES``: ``"<witness vkey> <submission URL prefix>"`` items) with a
consistency proof from the size that witness last cosigned, and stores each cosignature line it
gets back after verifying it. A witness answering 409 with a size larger than the log's, or 422, is
a log that was cut or rewritten: alert at once. A checkpoint still short of
``AUDIT_WITNESS_QUORUM`` cosignatures ``AUDIT_WITNESS_GRACE`` seconds after it was issued raises
``audit.witness.quorum_missed`` (a critical console alert), once per checkpoint.
"""

from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from common.actor import Actor
from crypto.checkpoint import CheckpointError
from crypto.cosignature import CosignatureVerifier

from . import timestamps
from .log import log_action
from .models import AuditCheckpoint, AuditCosignature, AuditWitnessFeed
from .tree import consistency_proof

log = logging.getLogger(__name__)

QUORUM_ACTION = "audit.witness.quorum_missed"
REFUSED_ACTION = "audit.witness.refused"
TIMEOUT = 3.0
RETRY = timedelta(seconds=5)


@dataclass(frozen=True)
class WitnessConfig:
    verifier: CosignatureVerifier
    url: str

    @property
    def name(self) -> str:
        return self.verifier.name


def parse_witnesses(items: list[str] | tuple[str, ...]) -> tuple[WitnessConfig, ...]:
    configs = []
    for item in items:
        vkey, _, url = item.strip().partition(" ")
        try:
            verifier = CosignatureVerifier.from_vkey(vkey)
        except CheckpointError as exc:
            raise ImproperlyConfigured(f"AUDIT_WITNESSES: {exc}") from None
        if not url.strip().startswith(("http://", "https://")):
            raise ImproperlyConfigured("AUDIT_WITNESSES items are '<witness vkey> <URL prefix>'")
        configs.append(WitnessConfig(verifier, url.strip().rstrip("/")))
    return tuple(configs)


@lru_cache(maxsize=8)
def _cached(items: tuple[str, ...]) -> tuple[WitnessConfig, ...]:
    return parse_witnesses(items)


def witnesses() -> tuple[WitnessConfig, ...]:
    return _cached(tuple(getattr(settings, "AUDIT_WITNESSES", ())))


def quorum() -> int:
    configured = getattr(settings, "AUDIT_WITNESS_QUORUM", None)
    return len(witnesses()) if configured is None else configured


def mark_due(now: datetime) -> None:
    """After a checkpoint (head lock held): the ticker pushes it to the witnesses and asks the TSA
    for a timestamp. Nothing when neither is configured."""
    if witnesses() or timestamps.configured():
        AuditWitnessFeed.objects.update_or_create(pk=1, defaults={"next_check": now})


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/add-checkpoint", data=body, method="POST",
                                     headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
            return reply.status, reply.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(4096).decode("utf-8", "replace")


def _request(old: int, checkpoint: AuditCheckpoint) -> bytes:
    proof = consistency_proof(old, checkpoint.size) if 0 < old < checkpoint.size else []
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{checkpoint.note}".encode()


def _alert(action: str, now: datetime, **data) -> None:
    log_action(action, actor=Actor.system("audit.witness"), object_type="audit.checkpoint",
               object_id=str(data.get("checkpoint", "")), data=data, now=now)


def push(witness: WitnessConfig, checkpoint: AuditCheckpoint, now: datetime) -> bool:
    """Ask one witness to cosign ``checkpoint``; True once its cosignature is stored."""
    if checkpoint.cosignatures.filter(witness=witness.name).exists():
        return True
    last = (AuditCosignature.objects.filter(witness=witness.name).order_by("-checkpoint__size")
            .values_list("checkpoint__size", flat=True).first()) or 0
    for _ in range(2):  # a 409 tells the size it holds: one retry from there
        try:
            status, text = _post(witness.url, _request(last, checkpoint))
        except (OSError, ValueError) as exc:
            log.warning("witness %s unreachable: %s", witness.name, exc)
            return False
        if status == 200:
            try:
                timestamp = witness.verifier.verify(checkpoint.note + text)
            except CheckpointError as exc:
                log.warning("witness %s answered with no valid cosignature: %s", witness.name, exc)
                return False
            line = next(li + "\n" for li in text.splitlines() if li.split(" ")[1:2] == [witness.name])
            AuditCosignature.objects.create(checkpoint=checkpoint, witness=witness.name, line=line,
                                            timestamp=timestamp, created_at=now)
            return True
        if status == 409 and text.strip().isdigit():
            held = int(text.strip())
            if held > checkpoint.size or held == last:
                _alert(REFUSED_ACTION, now, checkpoint=checkpoint.number, witness=witness.name,
                       status=409, witness_size=held, size=checkpoint.size,
                       reason="the witness has cosigned a larger tree, or another root at this size: "
                              "the log was cut back or rewritten")
                return False
            last = held
            continue
        if status == 422:
            _alert(REFUSED_ACTION, now, checkpoint=checkpoint.number, witness=witness.name, status=422,
                   size=checkpoint.size, from_size=last,
                   reason="the witness found the checkpoint inconsistent with the one it cosigned")
        else:
            log.warning("witness %s refused checkpoint %s: %s %s", witness.name, checkpoint.number,
                        status, text[:200])
        return False
    return False


def push_latest(now: datetime) -> bool:
    """Push the newest checkpoint to every witness lacking it; True when all of them cosigned."""
    latest = AuditCheckpoint.objects.exclude(number=None).order_by("-number").first()
    if latest is None:
        return True
    return all([push(w, latest, now) for w in witnesses()])


def _on_tick(feed: AuditWitnessFeed, now: datetime) -> None:
    done = push_latest(now)
    done = timestamps.stamp_pending(now) and done
    latest = AuditCheckpoint.objects.exclude(number=None).order_by("-number").first()
    grace = timedelta(seconds=getattr(settings, "AUDIT_WITNESS_GRACE", 60))
    if latest is not None and latest.cosignatures.count() < quorum():
        if now - latest.created_at >= grace and feed.alerted_number != latest.number:
            _alert(QUORUM_ACTION, now, checkpoint=latest.number, size=latest.size,
                   cosignatures=latest.cosignatures.count(), quorum=quorum())
            feed.alerted_number = latest.number
    feed.next_check = None if done else now + RETRY
    feed.save(update_fields=["next_check", "alerted_number"])


def register() -> None:
    from realtime.timers import register_timer

    register_timer("audit.witness", AuditWitnessFeed, _on_tick)
