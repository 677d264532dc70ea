"""Batched sequencing on PostgreSQL: committed pending entries move into the tree in batches.

Why: when ``log_action`` assigned the index in the caller's transaction, the head's row lock was
held until the caller committed, so appends serialised on commit latency (about 1,000 entries/s
here, whatever the number of writers). In batched mode ``log_action`` only inserts an
``AuditPending`` row — no shared lock, so the entry commits or rolls back with the caller's change —
and a sequencer gives committed rows their index in its own short transaction: one head lock and
one commit per batch instead of per entry (SQL ``audit_sequence``, migration 0006).

Who sequences, so that nothing waits long and nothing is lost:

- every worker process runs one sequencer thread (its own connection), woken by the
  ``on_commit`` of each transaction that queued an entry: entries are sequenced milliseconds after
  their commit. The thread takes the head lock blocking (not ``SKIP LOCKED``), so a batch running
  elsewhere delays it but never makes it skip rows committed after that batch's snapshot;
- the ticker drains whatever is left (a worker that died between commit and sequencing) through
  the ``audit.sequencer`` timer, due exactly while pending rows exist;
- ``issue_checkpoint`` and ``log_action(..., sequenced=True)`` sequence everything visible in the
  caller's own transaction, so a checkpoint covers the entries of the change it follows and a
  receipt can carry its entry's inclusion proof;
- ``manage.py audit_check`` reports pending rows older than a few seconds (no sequencer running).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from datetime import datetime, timezone

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from .models import AuditPending, AuditSequencer
from .sql import execute_prepared

log = logging.getLogger(__name__)

BATCHED, IMMEDIATE = "batched", "immediate"
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)  # the timer row's due time: past for any test clock
BATCH = 1000  # rows per sequencing transaction (a backlog drains in several)
TICK_LIMIT = 20_000  # rows the ticker sequences per tick; the timer stays due while more remain
# Batches start at most this often per process: under a steady stream each one collects the entries
# committed meanwhile (one head lock and one commit for many) instead of racing every single commit;
# after a quiet spell the first entry is sequenced at once. Adds at most this much to the lag.
# ``settings.AUDIT_SEQUENCER_INTERVAL_MS``; bench/bench_proofs.py sweeps it (docs/audit.md).
DEFAULT_INTERVAL_MS = 10


def min_interval() -> float:
    """Seconds between the starts of two batches of this process."""
    value = getattr(settings, "AUDIT_SEQUENCER_INTERVAL_MS", DEFAULT_INTERVAL_MS)
    if not isinstance(value, int) or not 0 <= value <= 1000:
        raise ImproperlyConfigured(f"AUDIT_SEQUENCER_INTERVAL_MS is 0-1000 milliseconds, not {value!r}")
    return value / 1000
IDLE_SECONDS = 5.0  # an idle sequencer thread gives its connection back after this long
LAG_SAMPLES = 100_000
STALE_SECONDS = 5.0  # audit_check: pending longer than this means no sequencer is running


def sequencing_mode() -> str:
    """``settings.AUDIT_SEQUENCING`` on PostgreSQL; other databases always sequence immediately."""
    mode = getattr(settings, "AUDIT_SEQUENCING", IMMEDIATE)
    if mode not in (BATCHED, IMMEDIATE):
        raise ImproperlyConfigured(f"AUDIT_SEQUENCING is {BATCHED!r} or {IMMEDIATE!r}, not {mode!r}")
    return mode if connection.vendor == "postgresql" else IMMEDIATE


def sequence_pending(limit: int | None = BATCH) -> list[tuple[int, int, datetime]]:
    """Sequence up to ``limit`` (None: all) visible pending rows in id order; returns
    ``(pending_id, index, queued_at)`` of each. Joins the caller's transaction if there is one (the
    head lock is then held until it ends), else is a transaction of its own."""
    if connection.vendor != "postgresql":
        return []
    return execute_prepared("SELECT r_pending, r_index, r_queued_at FROM audit_sequence(%s)", [limit],
                            all_rows=True)


def drain(limit: int | None = None) -> int:
    """Sequence batch after batch, each its own transaction when called outside one, until nothing
    visible is pending (or ``limit`` rows are done); returns how many were sequenced."""
    done = 0
    while limit is None or done < limit:
        batch = BATCH if limit is None else min(BATCH, limit - done)
        rows = sequence_pending(batch)
        done += len(rows)
        if len(rows) < batch:
            break
    return done


def pending_count() -> int:
    return AuditPending.objects.count()


def stale_pending(older_than: float = STALE_SECONDS) -> tuple[int, float]:
    """How many pending rows were queued more than ``older_than`` seconds ago (by the database's
    clock, which also stamped them), and the oldest one's age in seconds."""
    if connection.vendor != "postgresql":
        return 0, 0.0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(queued_at)), 0) "
            "FROM audit_auditpending WHERE queued_at < now() - make_interval(secs => %s)",
            [older_than])
        count, oldest = cursor.fetchone()
    return int(count), float(oldest)


def wait_until_sequenced(timeout: float = 30.0, poll: float = 0.005, *, up_to: int | None = None) -> bool:
    """Wait until no pending row is visible — or none with an id up to ``up_to``, e.g. the last
    one this caller queued (tests and benches); False on timeout."""
    deadline = time.monotonic() + timeout
    rows = AuditPending.objects.all() if up_to is None else AuditPending.objects.filter(id__lte=up_to)
    # By the primary key (``exists()`` would drop the ordering): the heap is mostly dead rows.
    while list(rows.order_by("id").values_list("id", flat=True)[:1]):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


class Sequencer:
    """This process's sequencer thread, started on the first kick (and again after a fork)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._dirty = False  # kicked since the last drain started: flushed at exit
        self._last_batch = 0.0  # time.monotonic() when the last drain started
        self._at_exit_registered = False
        self.lags: deque[float] = deque(maxlen=LAG_SAMPLES)  # seconds, queued -> sequenced+committed
        self.sequenced = 0
        self.batches = 0  # drains started by this thread (each takes one head lock per BATCH rows)
        self.skipped = 0  # drains that found this process's entries already sequenced by another
        self._noted = 0  # the highest pending id this process queued
        self._noted_lock = threading.Lock()

    def note(self, pending_id: int) -> None:
        """``log_action`` queued ``pending_id`` (not yet committed): see ``_drain_once``."""
        with self._noted_lock:
            if pending_id > self._noted:
                self._noted = pending_id

    def kick(self) -> None:
        """A transaction that queued entries committed: sequence them soon. Cheap, never raises
        into the caller (it runs in ``on_commit``)."""
        try:
            self._dirty = True
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._start()
            self._wake.set()
        except Exception:  # noqa: BLE001 - the ticker drains what a failed kick leaves
            log.exception("could not wake the audit sequencer; the ticker will sequence the entries")

    def _start(self) -> None:
        with self._guard:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._wake = threading.Event()
            self._thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)
            self._thread.start()
            if not self._at_exit_registered:
                atexit.register(self.flush_at_exit)
                self._at_exit_registered = True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (tests; exit). Pending rows stay for the next kick or the ticker."""
        with self._guard:
            thread, self._thread = self._thread, None  # the thread sees it is no longer current
            self._wake.set()
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    def flush_at_exit(self) -> None:
        """A short-lived process (a management command) sequences what it queued before it goes."""
        self.stop()
        if self._dirty and self._pid == os.getpid():
            try:
                drain()
            except Exception:  # noqa: BLE001 - the ticker sequences them instead
                log.warning("audit entries left pending at exit; the ticker will sequence them")

    def _current(self) -> bool:
        return self._thread is threading.current_thread()

    def _run(self) -> None:
        backoff = 0.05
        try:
            while self._current():
                if not self._wake.wait(IDLE_SECONDS):
                    connection.close()  # idle: no connection held between bursts
                    continue
                pause = self._last_batch + min_interval() - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                self._wake.clear()
                if not self._current():
                    break
                self._dirty = False
                self._last_batch = time.monotonic()
                self.batches += 1
                try:
                    self._drain_once()
                    backoff = 0.05
                except Exception:  # noqa: BLE001 - retried; the ticker is the backstop
                    log.exception("audit sequencing failed; retrying in %.1f s", backoff)
                    self._dirty = True
                    connection.close()
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    self._wake.set()
        finally:
            connection.close()

    def _drain_once(self) -> None:
        # Every batch sequences all the committed entries it sees, whichever process queued them,
        # and costs its fixed part (head lock, head update, commit) however few they are. With a
        # sequencer in each worker, most wake-ups found their entries taken by another's batch and
        # ran one more for the few committed since. Skip when nothing this process queued is still
        # visibly pending: a pending row is deleted only by a committed sequencing, and every entry
        # this process queued has an id up to ``_noted`` (noted before its commit, whose kick wakes
        # this thread again), so none of them waits. Others' entries are theirs to wake for.
        noted = self._noted
        if noted and not execute_prepared(_PENDING_UP_TO, [noted]):
            self.skipped += 1
            return
        while True:
            rows = sequence_pending(BATCH)  # autocommit: committed when it returns
            if rows:
                done = time.time()
                self.lags.extend(done - queued_at.timestamp() for _, _, queued_at in rows)
                self.sequenced += len(rows)
            if len(rows) < BATCH:
                return


# By the primary key, as everywhere on the queue (its heap is mostly dead rows).
_PENDING_UP_TO = "SELECT 1 FROM audit_auditpending WHERE id <= %s ORDER BY id LIMIT 1"

sequencer = Sequencer()


def _drain_on_tick(row: AuditSequencer, now: datetime) -> None:
    """The ticker's timer: sequence what no worker did (it died after its callers committed)."""
    done = drain(TICK_LIMIT)
    if done:
        log.info("the ticker sequenced %d pending audit entries", done)


def register() -> None:
    from realtime.timers import register_timer

    # Due exactly while a pending row exists: ``id IN (SELECT 1 FROM audit_auditpending LIMIT 1)``.
    any_pending = (AuditPending.objects.annotate(one=models.Value(1, output_field=models.IntegerField()))
                   .order_by("id").values("one")[:1])  # by the primary key: the heap is mostly dead rows
    register_timer("audit.sequencer", AuditSequencer, _drain_on_tick, pk__in=models.Subquery(any_pending))
