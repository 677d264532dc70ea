"""Storage of the tamper-evident audit log: entries (the Merkle tree's leaves, each carrying the
perfect subtree hashes it completes, which make proofs cheap), the head (frontier of the tree), and
signed checkpoints.

Entries and checkpoints are append-only: on PostgreSQL a trigger refuses UPDATE and DELETE
(migration 0002). ``body`` is the canonical JSON that was hashed; the other columns are copies of
its fields for filtering, and ``manage.py audit_check`` proves they agree.
"""

from django.db import models
from django.db.models.functions import Now


class AuditEntry(models.Model):
    index = models.BigIntegerField(primary_key=True)  # gap-free, from 0, assigned under the head lock
    created_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    # Copies, not foreign keys: deleting a user must never touch the log.
    actor_id = models.BigIntegerField(null=True, db_index=True)
    actor_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, blank=True)
    organisation_id = models.BigIntegerField(null=True)
    organisation_name = models.CharField(max_length=200, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    tender_id = models.BigIntegerField(null=True, db_index=True)
    room = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    leaf_hash = models.BinaryField(max_length=32)
    # Hashes of the perfect subtrees this entry completes, levels 1, 2, ... concatenated: entry i
    # completes the subtree (level L, index (i+1)/2^L - 1) for every 2^L dividing i+1. Kept on the
    # row so an append is one INSERT, and a proof reads O(log n) rows.
    nodes = models.BinaryField(default=b"")

    class Meta:
        ordering = ["index"]
        # Plain b-trees for the equality filters (API, console, archive, recordings). Not
        # ``db_index=True``: on PostgreSQL that adds a second, pattern-matching (``_like``) index
        # per column, which no query uses and every sequenced entry paid for (issue 12).
        indexes = [models.Index(fields=["object_type"], name="audit_entry_object_type"),
                   models.Index(fields=["object_id"], name="audit_entry_object_id"),
                   models.Index(fields=["room"], name="audit_entry_room")]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"


class AuditHead(models.Model):
    """The single row every append locks: tree size, the frontier of perfect subtrees, the root."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    frontier = models.JSONField(default=list)  # [[subtree_size, hex_hash], ...] left to right
    root = models.BinaryField(max_length=32, default=b"")


class AuditPending(models.Model):
    """An entry committed with the caller's change but not yet in the tree (batched sequencing).

    Appending takes no lock: the row is inserted in the caller's transaction, so it commits or rolls
    back with the change. The sequencer (``audit.sequencer``, SQL ``audit_sequence``) later moves
    committed rows into ``AuditEntry`` in id order under the head lock, and deletes them here. A
    queue, not the log: rows are deleted once sequenced, but on PostgreSQL never updated (migration
    0006), so what the caller wrote is what gets hashed.
    """

    id = models.BigAutoField(primary_key=True)
    queued_at = models.DateTimeField(db_default=Now())  # the database's clock, for lag and audit_check
    created_at = models.DateTimeField()
    action = models.CharField(max_length=80)
    actor_id = models.BigIntegerField(null=True)
    actor_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, blank=True)
    organisation_id = models.BigIntegerField(null=True)
    organisation_name = models.CharField(max_length=200, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    tender_id = models.BigIntegerField(null=True)
    room = models.CharField(max_length=100, blank=True)
    # The canonical body around its index: body = prefix + str(index) + suffix.
    prefix = models.TextField()
    suffix = models.TextField()

    class Meta:
        ordering = ["id"]


class AuditSequencer(models.Model):
    """The ticker's timer row for draining pending entries a worker left behind (crash recovery).

    Due whenever ``AuditPending`` holds a row (see ``audit.sequencer.register``); ``next_check``
    stays in the past, so a clock moved by tests never hides it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    next_check = models.DateTimeField(null=True)


class AuditCheckpoint(models.Model):
    """A signed C2SP checkpoint (signed note) of the tree at ``size``.

    ``number`` counts checkpoints from 1 without gaps; the log itself records each one: the tree a
    checkpoint signs ends with its record entry (``audit.checkpoint.issued``, see
    ``audit.checkpoints``), so a deleted row leaves its record behind. Rows issued before records
    existed have no number.
    """

    number = models.BigIntegerField(null=True, unique=True)
    size = models.BigIntegerField(db_index=True)
    root = models.BinaryField(max_length=32)
    note = models.TextField()
    reason = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["size", "id"]


class AuditCheckState(models.Model):
    """The ticker's incremental check (``audit.integrity``): how far it has recomputed the log.

    ``frontier`` is its own recomputation (hex hashes, left to right) of the first ``size`` entries,
    so each tick costs only the entries since the last one; ``problems_digest`` remembers the
    findings it last raised an alert for, so one finding makes one alert, not one a tick."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    frontier = models.JSONField(default=list)
    record_number = models.BigIntegerField(default=0)  # the last checkpoint record it has seen
    problems_digest = models.CharField(max_length=64, blank=True)
    checked_at = models.DateTimeField(null=True)
    next_check = models.DateTimeField(null=True)


class AuditCosignature(models.Model):
    """A witness's cosignature (C2SP tlog-cosignature line) on a checkpoint, verified when stored."""

    checkpoint = models.ForeignKey(AuditCheckpoint, on_delete=models.PROTECT, related_name="cosignatures")
    witness = models.CharField(max_length=200)  # the witness's key name
    line = models.TextField()  # "— <name> <base64>\n", appended to the note it verifies
    timestamp = models.BigIntegerField()  # POSIX seconds the witness states
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["checkpoint", "witness"], name="one_cosignature_per_witness")]


class AuditTimestamp(models.Model):
    """An RFC 3161 timestamp reply (TimeStampResp, DER) over a checkpoint's signed note, verified
    against ``AUDIT_TSA_ROOTS`` when stored."""

    checkpoint = models.OneToOneField(AuditCheckpoint, on_delete=models.PROTECT, related_name="timestamp")
    token = models.BinaryField()
    gen_time = models.DateTimeField()  # the TSA's genTime
    created_at = models.DateTimeField()


class AuditWitnessFeed(models.Model):
    """The ticker's timer row for pushing checkpoints to witnesses (``audit.witnesses``)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    next_check = models.DateTimeField(null=True)
    alerted_number = models.BigIntegerField(default=0)  # the checkpoint last alerted for


class ConsoleFeed(models.Model):
    """How far the supervisors' console room has been fed (``audit.console``); a timer row."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    fed_up_to = models.BigIntegerField(default=-1)
    next_check = models.DateTimeField(null=True)
