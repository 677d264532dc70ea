"""Regions, venues and the expert pool. The draw, sessions and scoring arrive with the evaluation
issue; these are the records the demo and the access rules need from the start."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation


class Region(models.Model):
    code = models.CharField(_("region code"), max_length=12, unique=True)  # 行政区划代码
    name = models.CharField(_("region name"), max_length=50)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class Venue(models.Model):
    """An evaluation site of a trading centre. Main (主场) or sub (副场) is per evaluation session."""

    name = models.CharField(_("venue name"), max_length=100, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="venues")
    centre = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="venues",
                               verbose_name=_("trading centre"))
    seats = models.PositiveIntegerField(_("seats"), default=9)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="venues",
                                   verbose_name=_("venue staff"))

    class Meta:
        verbose_name = _("venue")
        verbose_name_plural = _("venues")

    def __str__(self) -> str:
        return self.name


class Expert(models.Model):
    class Category(models.TextChoices):
        TECHNICAL = "technical", _("Technical")
        ECONOMIC = "economic", _("Economic")
        OTHER = "other", _("Other")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="expert_profile")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="experts")
    specialties = models.JSONField(_("specialties"), default=list)  # 专业 codes
    category = models.CharField(_("category"), max_length=20, choices=Category.choices,
                                default=Category.TECHNICAL)
    title = models.CharField(_("professional title"), max_length=50, blank=True)
    employer = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="employed_experts", verbose_name=_("employer"))
    declared_relations = models.JSONField(_("declared relations"), default=list, blank=True)
    available = models.BooleanField(_("available"), default=True)
    penalised_until = models.DateField(_("penalised until"), null=True, blank=True)
    # Ed25519 public key (raw 32 bytes, base64) the expert signs evaluation reports with.
    signing_key = models.CharField(_("signing public key"), max_length=64, blank=True)
    # SM2 public key (65-byte uncompressed point, base64) it signs the reports of gm tenders with
    # (sm2-sm3, default user ID: docs/cryptography.md).
    sm2_signing_key = models.CharField(_("SM2 signing public key"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("expert")
        verbose_name_plural = _("experts")

    def __str__(self) -> str:
        return str(self.user)


# --- The evaluation of a lot (issue 5) ------------------------------------------------------------
# Sessions, the draw and the record of every decision. Rules live in ``evaluation.rules``; the
# workflows that change these rows are ``evaluation.actions*``; the rows are the record.

class EvaluationBid(models.Model):
    """The seam to the opening: one decrypted, valid-to-evaluate bid of a lot (``inputs.py``).

    The opening fills it from the decrypted bids; tests and the demo create rows directly."""

    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="evaluation_bids")
    bidder_org = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    bidder_name = models.CharField(max_length=200)
    credit_code = models.CharField(max_length=18, blank=True)
    price_fen = models.BigIntegerField()
    announced = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lot", "bidder_org"], name="evalbid_unique")]


class Draw(models.Model):
    """The verifiable expert draw of a lot (``rules/draw.py``, ``rules/draw_seed.py``, docs/draw.md).

    ``committing``: the parameters are fixed and the platform, the supervisor and the host commit to
    their contributions; ``revealing``: the pool snapshot is published (commitments closed) and the
    parties reveal until ``reveal_deadline``; ``drawn``: the seed and the committee are computed;
    ``lapsed``: no party besides the platform revealed; ``superseded``: replaced by an approved redraw."""

    class State(models.TextChoices):
        COMMITTING = "committing"
        REVEALING = "revealing"
        DRAWN = "drawn"
        LAPSED = "lapsed"
        SUPERSEDED = "superseded"

    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="draws")
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAWN)
    params = models.JSONField(default=dict)  # {"required_specialties": {...}, "min_size": n}
    reveal_minutes = models.PositiveIntegerField(default=30)
    snapshot = models.TextField(blank=True)  # canonical JSON (rules.draw.canonical_snapshot)
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    reveal_deadline = models.DateTimeField(null=True, blank=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    quotas = models.JSONField()  # region code -> seats
    seed_commitment = models.CharField(max_length=64, blank=True)  # the single-seed draws before v1 seeds
    seed_hex = models.CharField(max_length=128, blank=True)  # the derived seed, set when drawn
    committee = models.JSONField(default=list)  # expert ids (str), region then draw order
    excluded = models.JSONField(default=dict)  # expert id -> avoidance reasons
    order_per_region = models.JSONField(default=dict)
    declined = models.JSONField(default=list)  # expert ids, in order
    replacements = models.JSONField(default=list)  # [declined, replacement]
    redraw_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="redrawn_by")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    revealed_at = models.DateTimeField(null=True, blank=True)


class DrawContribution(models.Model):
    """One party's commit-reveal contribution to a draw's seed (``rules.draw_seed``). The platform's
    value is stored at commit time and published with the snapshot; the others' values arrive at
    their reveal and are published when the draw is computed."""

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="contributions")
    party = models.CharField(max_length=12)  # platform | supervisor | host
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    commitment = models.CharField(max_length=64)
    value_hex = models.CharField(max_length=64, blank=True)
    committed_at = models.DateTimeField()
    revealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["draw", "party"], name="one_contribution_per_party")]


class Redraw(models.Model):
    """A request to replace a lot's draw with a new one, for a reason the rules allow, decided by a
    supervisor (docs/draw.md)."""

    class Reason(models.TextChoices):
        TOO_FEW_ACCEPTED = "too_few_accepted"
        LEGAL_RECUSAL = "legal_recusal"
        REVEALS_MISSING = "reveals_missing"

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="redraws")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved = models.BooleanField(null=True, blank=True)  # None: waiting for a supervisor
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)


class EvaluationSession(models.Model):
    """One evaluation of a lot by a drawn committee, in one main and several sub venues.

    ``state`` is ``rules.steps.State`` as JSON (``evaluation.state.dump_state``); ``next_check`` is
    the venue-presence timer (``realtime.timers``), ``signing_deadline`` the report-signing timer."""

    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="evaluation_sessions")
    draw = models.OneToOneField(Draw, on_delete=models.PROTECT, related_name="session")
    main_venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+")
    rules_settings = models.JSONField()  # the lot's validated evaluation settings, frozen at creation
    scoring = models.JSONField()  # {"items": [...], "criteria": [...]} (docs/evaluation.md)
    blind = models.BooleanField(default=False)  # 暗标: experts see bidders by codes only
    k_percent = models.CharField(max_length=20, blank=True)  # construction formula's drawn K
    tie_seed_hex = models.CharField(max_length=64)  # revealed in the report
    tie_seed_commitment = models.CharField(max_length=64)
    state = models.JSONField()
    step_deadline = models.DateTimeField(null=True, blank=True)
    document = models.JSONField(default=dict, blank=True)  # the document shown in every venue
    compliance = models.JSONField(null=True, blank=True)  # the decided review
    summary = models.JSONField(null=True, blank=True)
    ranking = models.JSONField(null=True, blank=True)
    report = models.JSONField(null=True, blank=True)
    report_sha256 = models.CharField(max_length=64, blank=True)
    signing_deadline = models.DateTimeField(null=True, blank=True)
    signing_check = models.DateTimeField(null=True, blank=True, db_index=True)  # the signing timer
    next_check = models.DateTimeField(null=True, blank=True, db_index=True)
    # The committee's decision on rejecting all bids (R12 27; actions_outcome), the claims that the
    # time is insufficient and the extensions (Reg 48), and the lowest-evaluated-price adjustments.
    reject_all = models.JSONField(null=True, blank=True)
    timing = models.JSONField(default=dict, blank=True)
    adjustments = models.JSONField(default=dict, blank=True)
    # The price review (issue 13): bids rejected above the ceiling, SME declarations and rates,
    # abnormally low flags with the committee's decisions, and 清标 corrections awaiting the
    # bidder's confirmation (``actions_price_review``).
    price_review = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()


class SessionVenue(models.Model):
    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="venues")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+")
    is_main = models.BooleanField(default=False)
    absent_since = models.DateTimeField(null=True, blank=True)
    down = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "venue"], name="sessionvenue_unique")]


class ActiveMemberManager(models.Manager):
    """The sitting committee: members not replaced. The default manager, so ``session.members`` and
    every access check (``evaluation.access.session_role``) see only sitting members; a replaced
    member's rows stay in the record and are read with ``Member.all_members``."""

    def get_queryset(self):
        return super().get_queryset().filter(replaced_at__isnull=True)


class Member(models.Model):
    """A committee member in a session, seated at one venue, known in rooms by ``code`` (E1...).

    A member replaced mid-session (Reg 48, ``actions_replace``) keeps its row with ``replaced_at``;
    its votes and scores stay in the record and leave every decision. Its replacement has a new code
    and ``replaces`` pointing back."""

    objects = ActiveMemberManager()
    all_members = models.Manager()

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="members")
    expert = models.ForeignKey(Expert, on_delete=models.PROTECT, related_name="+")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=8)
    seat = models.PositiveIntegerField()
    tenderer_rep = models.BooleanField(default=False)  # cannot chair (F87 45)
    signed_in_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    pledged_at = models.DateTimeField(null=True, blank=True)
    recusal = models.TextField(blank=True)  # a declared interest (回避); non-empty blocks the step
    replaced_at = models.DateTimeField(null=True, blank=True)
    replaces = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        base_manager_name = "all_members"
        constraints = [models.UniqueConstraint(fields=["session", "code"], name="member_code_unique"),
                       models.UniqueConstraint(fields=["session", "expert"], name="member_unique")]


class SessionBidder(models.Model):
    """A bid under evaluation, copied from ``inputs.bids_for_evaluation`` at session creation."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="bidders")
    code = models.CharField(max_length=8)  # B01...: random order, the 暗标 code
    bidder_org = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    credit_code = models.CharField(max_length=18, blank=True)
    price_fen = models.BigIntegerField()
    announced = models.JSONField(default=dict)
    rejected = models.JSONField(null=True, blank=True)  # failed criteria, once decided

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "code"], name="sessionbidder_code_unique")]


class ChairVote(models.Model):
    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="chair_votes")
    round = models.PositiveIntegerField()
    voter = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "round", "voter"], name="chairvote_unique")]


class ComplianceVote(models.Model):
    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="compliance_votes")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    bidder = models.ForeignKey(SessionBidder, on_delete=models.CASCADE, related_name="+")
    criterion = models.CharField(max_length=40)
    passed = models.BooleanField()
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "bidder", "criterion"],
                                               name="compliancevote_unique")]


class ScoreSheet(models.Model):
    """One expert's scores for one bidder: ``values`` item id -> decimal string."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="sheets")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    bidder = models.ForeignKey(SessionBidder, on_delete=models.CASCADE, related_name="+")
    values = models.JSONField()
    submitted_total = models.CharField(max_length=20, blank=True)
    returned = models.JSONField(null=True, blank=True)  # an open return: {item, reason, by, at}
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "bidder"], name="scoresheet_unique")]


class Correction(models.Model):
    """A score returned by the chair and corrected by its expert (F87 64)."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="corrections")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    bidder = models.ForeignKey(SessionBidder, on_delete=models.CASCADE, related_name="+")
    item = models.CharField(max_length=40)
    reason = models.CharField(max_length=40)
    old = models.CharField(max_length=20)
    new = models.CharField(max_length=20)
    requested_by = models.CharField(max_length=8)  # the chair's member code
    at = models.DateTimeField()


class Clarification(models.Model):
    """A question of the committee to one bidder (澄清) and its answer. Who asked stays internal."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="clarifications")
    bidder = models.ForeignKey(SessionBidder, on_delete=models.CASCADE, related_name="clarifications")
    question = models.TextField()
    asked_by = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    asked_at = models.DateTimeField()
    deadline = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)
    # What the question is for: a plain question, an abnormally low price to explain (87号令 Art. 60),
    # or a correction of the bid's arithmetic to confirm (R12 Art. 19; ``proposal`` holds it and
    # ``confirmed`` the bidder's yes or no).
    purpose = models.CharField(max_length=20, default="question")
    proposal = models.JSONField(null=True, blank=True)
    confirmed = models.BooleanField(null=True, blank=True)


class BidBill(models.Model):
    """The seam for 清标: a bid's priced bill (xlsx bytes) as decrypted, or the tender's own bill
    (``bidder_org`` empty). The opening fills it from the decrypted package's bill document; tests and
    the demo create rows directly, as for ``EvaluationBid``."""

    lot = models.ForeignKey("bidding.Lot", on_delete=models.PROTECT, related_name="bills")
    bidder_org = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    data = models.BinaryField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lot", "bidder_org"], name="bidbill_unique"),
                       models.UniqueConstraint(fields=["lot"], condition=models.Q(bidder_org__isnull=True),
                                               name="bidbill_one_tender_bill")]


class BillReport(models.Model):
    """The 清标 report of one bid in a session (``rules.bills``): advisory findings and the proposed
    correction; the committee's decision is in the session's ``price_review``."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="bill_reports")
    bidder = models.ForeignKey(SessionBidder, on_delete=models.CASCADE, related_name="+")
    bill_sha256 = models.CharField(max_length=64)
    report = models.JSONField()
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "bidder"], name="billreport_unique")]


class ReportSignature(models.Model):
    class Kind(models.TextChoices):
        SIGNED = "signed"
        DISSENT = "dissent"
        DEEMED = "deemed"  # no signature and no reasons by the deadline: agreement (Reg 53)

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="signatures")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    report_sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    signature = models.TextField(blank=True)  # base64, over the signing message
    algorithm = models.CharField(max_length=16, blank=True)  # "ed25519" | "sm2-sm3" (the lot's suite)
    public_key = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "member"], name="signature_unique")]


class Replacement(models.Model):
    """Replacing a member mid-session (Reg 48): requested by venue staff with a reason, approved by a
    supervisor, then one expert drawn afresh and verifiably (``rules.draw.draw_replacement``): the
    snapshot and the seed's commitment are recorded before the draw, the seed in the report after."""

    class Reason(models.TextChoices):
        RECUSAL = "recusal"  # must withdraw (回避, Reg 46)
        ILLNESS = "illness"
        ABSENT = "absent"
        MISCONDUCT = "misconduct"
        OTHER = "other"

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="replacements")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved = models.BooleanField(null=True)  # None while waiting for the supervisor
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.TextField(blank=True)  # canonical JSON (rules.draw.canonical_replacement)
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    seed_commitment = models.CharField(max_length=64, blank=True)
    seed_hex = models.CharField(max_length=128, blank=True)  # in the report only
    drawn = models.CharField(max_length=20, blank=True)  # the drawn expert's id
    new_member = models.ForeignKey(Member, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
