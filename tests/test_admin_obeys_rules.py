"""The Django admin is a window onto the same rules. This walks every ModelAdmin registered with
``admin.site`` — its add form, the change form of each object below (every field shown changed in
turn, every field it hides posted anyway, as an attacker would), its delete and every action — and
asserts that each change either is refused (nothing stored) or is stored and audited with the old
and new value of every field it changed. Tender rules are checked by name: a published lot with a
sealed bid keeps its deadline (change form and the project's inline), a cancelled lot keeps its
fields, a project keeps its code once a lot was published.

A model registered later without a case here fails ``test_every_registered_admin_is_known``.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.test import Client

from audit.models import AuditEntry
from common import clock
from tests.bidding.conftest import bid_storage, certify, fast_hashing, seal, token_client, upload  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]


# --- the admin's HTML form, as a browser would submit it ----------------------------------------

class FormFields(HTMLParser):
    """The named controls of the page's main form: [(name, kind, value, options)]."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.controls = form_id, False, []
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "checkbox":
                self.controls.append([a["name"], "checkbox", "checked" in a, None])
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.controls.append([a["name"], kind, a.get("value", ""), None])
        elif tag == "select" and a.get("name"):
            self._select = [a["name"], "multiple" if "multiple" in a else "select", [], []]
        elif tag == "option" and self._select is not None:
            self._select[3].append(a.get("value", ""))
            if "selected" in a:
                self._select[2].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], "textarea", "", None]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[2] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select is not None:
            self.controls.append(self._select)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._textarea[2] = self._textarea[2].removeprefix("\n")
            self.controls.append(self._textarea)
            self._textarea = None


def form_controls(html: str, form_id: str) -> list:
    parser = FormFields(form_id)
    parser.feed(html)
    return parser.controls


def post_data(controls) -> dict:
    data: dict = {}
    for name, kind, value, _ in controls:
        if kind == "checkbox":
            if value:
                data[name] = "on"
        elif kind == "multiple":
            data[name] = list(value)
        elif kind == "select":
            data[name] = value[0] if value else ""
        else:
            data[name] = value
    return data


def mutated(kind: str, value, options):
    """A different value for a control, or None when there is none to try."""
    if kind == "checkbox":
        return not value
    if kind == "select":
        others = [o for o in options if o and o not in value]
        return others[0] if others else None
    if kind == "multiple":
        others = [o for o in options if o not in value]
        return list(value) + others[:1] if others else list(value)[1:] if value else None
    if kind == "hidden" or kind == "password":
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        return (date.fromisoformat(value) + timedelta(days=1)).isoformat()
    if re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", value or ""):
        return "23:59:00" if not value.startswith("23:59") else "00:01:00"
    if kind == "number" or re.fullmatch(r"-?\d+", value or ""):
        return str(int(value or 0) + 1)
    return (value or "") + "改"


# --- what the database holds, and what the log says about it -------------------------------------

def state(obj) -> dict:
    """Every concrete and many-to-many field of the stored row, by field name (relations as ids)."""
    model = type(obj)
    row = model._default_manager.filter(pk=obj.pk).values().first()
    if row is None:
        return {}
    out = {}
    for field in model._meta.get_fields():
        if field.many_to_many and not field.auto_created:
            out[field.name] = sorted(getattr(model._default_manager.get(pk=obj.pk), field.name)
                                     .values_list("pk", flat=True))
        elif field.concrete:
            out[field.name] = row[field.attname]
    return out


def same(logged, stored) -> bool:
    if isinstance(stored, (datetime, date)):
        try:
            return type(stored).fromisoformat(logged) == stored
        except (TypeError, ValueError):
            return False
    return logged == stored or (isinstance(stored, list) and logged == sorted(stored))


SECRET_FIELDS = {"password", "secret_hash", "session_key"}


def entries_since(index: int, obj) -> list[dict]:
    rows = AuditEntry.objects.filter(index__gt=index, object_type=obj._meta.label_lower,
                                     object_id=str(obj.pk))
    return [json.loads(row.body) for row in rows]


def assert_audited(entries: list[dict], before: dict, after: dict, where: str) -> None:
    changed = {k for k in after if before.get(k) != after[k]}
    for name in changed:
        pairs = [e["data"].get(name) for e in entries if isinstance(e.get("data"), dict)]
        pairs += [e["data"].get("changes", {}).get(name) for e in entries
                  if isinstance(e.get("data", {}).get("changes"), dict)]
        pairs = [p for p in pairs if isinstance(p, list) and len(p) == 2]
        if name in SECRET_FIELDS:
            assert pairs and str(after[name]) not in json.dumps(pairs), f"{where}: {name} unaudited or leaked"
            continue
        assert any(same(old, before.get(name)) and same(new, after[name]) for old, new in pairs), \
            f"{where}: {name} changed {before.get(name)!r} -> {after[name]!r}, audited as {entries}"


def last_index() -> int:
    last = AuditEntry.objects.order_by("-index").values_list("index", flat=True).first()
    return -1 if last is None else last


# --- the world every admin is walked against -----------------------------------------------------

@pytest.fixture
def world(people, orgs, make_lot):
    from axes.models import AccessAttempt

    from accounts.models import ApiToken, UserSession
    from bidding.models import Amendment, BidSubmission
    from evaluation.models import Expert, Region, Venue

    sealed = make_lot(status="published")
    key, _ = certify(people["alice"], people["host"])
    res = upload(token_client(people["alice"]), sealed.pk, seal(sealed, orgs["alice_co"], key, b"bid"))
    assert res.status_code == 201 and BidSubmission.objects.filter(lot=sealed).exists()
    cancelled = make_lot(status="cancelled")
    draft = make_lot(status="draft")
    completed = make_lot(status="completed")
    amendment = Amendment.objects.create(lot=sealed, number=1, reason="澄清", changes={},
                                         created_by=people["host"], created_at=clock.now())
    region = Region.objects.create(code="320100", name="南京")
    centre = orgs["tenderee"]
    venue = Venue.objects.create(name="南京主场", region=region, centre=centre)
    venue.staff.add(people["venue_staff"])
    expert = Expert.objects.create(user=people["expert"], region=region, specialties=["A01"])
    token, _ = ApiToken.issue(people["alice"], "集成")
    session = UserSession.objects.create(user=people["alice"], session_key="k" * 40, ip="10.0.0.9")
    attempt = AccessAttempt.objects.create(username="bob", ip_address="10.0.0.8", user_agent="x",
                                           http_accept="*/*", path_info="/accounts/login/", get_data="",
                                           post_data="", failures_since_start=5)
    return {"sealed": sealed, "cancelled": cancelled, "draft": draft, "completed": completed,
            "amendment": amendment, "region": region, "venue": venue, "expert": expert,
            "token": token, "session": session, "attempt": attempt, "people": people, "orgs": orgs}


def _access_log(world):
    from axes.models import AccessLog

    return [AccessLog.objects.create(username="bob", ip_address="10.0.0.8", user_agent="x",
                                     http_accept="*/*", path_info="/accounts/login/")]


def _failure_log(world):
    from axes.models import AccessFailureLog

    return [AccessFailureLog.objects.create(username="bob", ip_address="10.0.0.8", user_agent="x",
                                            http_accept="*/*", path_info="/accounts/login/",
                                            locked_out=False)]


def _audit_objects(world):
    from audit.checkpoints import issue_checkpoint
    from audit.models import AuditCheckpoint

    issue_checkpoint("admin walk")
    return [AuditEntry.objects.order_by("index").first(), AuditCheckpoint.objects.first()]


def _group(world):
    from django.contrib.auth.models import Group

    return [Group.objects.create(name="值班")]


# The objects whose change forms are walked, per model.
OBJECTS = {
    "auth.group": _group,
    "axes.accessattempt": lambda w: [w["attempt"]],
    "axes.accesslog": _access_log,
    "axes.accessfailurelog": _failure_log,
    "accounts.organisation": lambda w: [w["orgs"]["alice_co"]],
    "accounts.user": lambda w: [w["people"]["alice"]],
    "accounts.usersession": lambda w: [w["session"]],
    "accounts.apitoken": lambda w: [w["token"]],
    "audit.auditentry": lambda w: _audit_objects(w)[:1],
    "audit.auditcheckpoint": lambda w: _audit_objects(w)[1:],
    "bidding.project": lambda w: [w["sealed"].project, w["cancelled"].project, w["draft"].project,
                                  w["completed"].project],
    "bidding.lot": lambda w: [w["sealed"], w["cancelled"], w["draft"], w["completed"]],
    "bidding.amendment": lambda w: [w["amendment"]],
    "evaluation.region": lambda w: [w["region"]],
    "evaluation.venue": lambda w: [w["venue"]],
    "evaluation.expert": lambda w: [w["expert"]],
}

LOT_MATERIAL = {"code", "bid_deadline", "signin_opens_at", "decryption_window_minutes",
                "confirmation_window_minutes", "min_bids", "announced_fields", "evaluation_settings",
                "escrow_required", "max_bid_bytes"}
LOT_ALL = LOT_MATERIAL | {"title", "description", "status", "published_at", "project",
                          "amendment_notice_days", "created_at"}


def frozen_fields(label: str, obj, world) -> set[str]:
    """Fields the rules say the admin must never change on this object (written out by hand, not
    taken from the code under test)."""
    if label == "bidding.lot":
        if obj.status == "published":
            return LOT_ALL - {"title", "description"}
        if obj.status == "draft":
            return {"status", "published_at", "project", "amendment_notice_days", "created_at"}
        return LOT_ALL
    if label == "bidding.project":
        statuses = set(obj.lots.values_list("status", flat=True))
        if statuses & {"opening", "evaluating", "completed"}:
            return {"code", "tenderee", "agency", "title", "description", "created_by"}
        return {"code", "tenderee", "agency", "created_by"} if statuses - {"draft"} else {"created_by"}
    if label == "evaluation.expert":
        return {"signing_key", "user"}
    if label == "accounts.apitoken":
        return {"user", "key_id", "secret_hash", "name", "expires_at", "revoked_at", "last_used_at"}
    return set()


# Forms to add a row with, for the admins that allow adding (every other must refuse).
def add_data(label: str, world) -> dict | None:
    orgs, people = world["orgs"], world["people"]
    return {
        "auth.group": {"name": "新组"},
        "accounts.organisation": {"name": "监督二处", "kind": "supervisory", "credit_code": ""},
        "accounts.user": {"username": "newhost", "password1": "Long-enough-pw-7", "password2": "Long-enough-pw-7",
                          "usable_password": "true", "role": "host", "organisation": orgs["agency"].pk,
                          "display_name": "新主持人"},
        "evaluation.region": {"code": "310000", "name": "上海"},
        "evaluation.venue": {"name": "上海副场", "region": world["region"].pk, "centre": orgs["tenderee"].pk,
                             "seats": "7", "staff": [people["venue_staff"].pk]},
        "evaluation.expert": {"user": people["bob"].pk, "region": world["region"].pk, "specialties": '["B02"]',
                              "category": "economic", "title": "", "employer": "", "declared_relations": "[]",
                              "available": "on", "penalised_until": ""},
    }.get(label)


# --- the walk ------------------------------------------------------------------------------------

def admin_client(people) -> Client:
    client = Client()
    client.force_login(people["admin"])
    return client


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)


def test_every_registered_admin_is_known():
    unknown = [m._meta.label_lower for m, _ in registered() if m._meta.label_lower not in OBJECTS]
    assert not unknown, f"no rule check for the admin of {unknown}: add them to OBJECTS (and ACTIONS)"


def url(model, what, *args) -> str:
    from django.urls import reverse

    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{what}", args=args)


def walk_change_form(client, model, obj, label, world) -> int:
    """Change each shown field in turn, and post each hidden one; returns how many changes the
    admin accepted (each checked audited)."""
    page = client.get(url(model, "change", obj.pk))
    assert page.status_code == 200, (label, page.status_code)
    html = page.content.decode()
    controls = form_controls(html, f"{model._meta.model_name}_form")
    frozen = frozen_fields(label, obj, world)
    accepted = 0
    shown = {re.sub(r"_[01]$", "", c[0]) for c in controls}
    tries = [(i, None) for i in range(len(controls))]
    # What the form does not show, posted anyway (a crafted request), incl. the project's lot inline.
    hidden = [f for f in model._meta.fields if f.editable and f.name not in shown]
    tries += [(None, f) for f in hidden]
    if label == "bidding.project":
        tries.append(("inline", None))
    for index, hidden_field in tries:
        data = post_data(controls)
        if index == "inline":
            lot = obj.lots.first()
            when = (lot.bid_deadline + timedelta(minutes=1)).astimezone()
            data.update({"lots-TOTAL_FORMS": "1", "lots-INITIAL_FORMS": "1", "lots-MIN_NUM_FORMS": "0",
                         "lots-MAX_NUM_FORMS": "1000", "lots-0-id": str(lot.pk), "lots-0-project": str(obj.pk),
                         "lots-0-code": "99", "lots-0-title": "改", "lots-0-bid_deadline_0": when.date().isoformat(),
                         "lots-0-bid_deadline_1": when.time().isoformat("seconds")})
        elif index is not None:
            name, kind, value, options = controls[index]
            new = mutated(kind, value, options)
            if new is None:
                continue
            if kind == "checkbox":
                data.pop(name, None) if not new else data.__setitem__(name, "on")
            else:
                data[name] = new
        else:
            value = {"DateTimeField": None, "BooleanField": "on", "IntegerField": "7",
                     "PositiveIntegerField": "7", "BigIntegerField": "7"}.get(hidden_field.get_internal_type(), "注入")
            if value is None:
                data[f"{hidden_field.name}_0"], data[f"{hidden_field.name}_1"] = "2031-01-01", "10:00:00"
                data[hidden_field.name] = "2031-01-01T10:00:00"
            else:
                data[hidden_field.name] = value
        targets = [obj] + list(obj.lots.all()) if label == "bidding.project" else [obj]
        before = [state(t) for t in targets]
        mark = last_index()
        res = client.post(url(model, "change", obj.pk), {**data, "_save": "Save"})
        where = f"{label}#{obj.pk} {controls[index][0] if isinstance(index, int) else index or hidden_field.name}"
        assert res.status_code in (200, 302, 403), (where, res.status_code)
        for target, old in zip(targets, before):
            new_state = state(target)
            target_label = target._meta.label_lower
            rules = frozen if target is obj else frozen_fields(target_label, target, world)
            broken = {k for k in rules if old.get(k) != new_state.get(k)}
            assert not broken, f"{where}: changed {broken} against the rules"
            assert_audited(entries_since(mark, target), old, new_state, where)
            accepted += old != new_state
    return accepted


@pytest.mark.parametrize("label", sorted(OBJECTS))
def test_each_admin_change_form_obeys_the_rules_and_audits_what_it_changes(people, world, label):
    client = admin_client(people)
    model = next((m for m, _ in registered() if m._meta.label_lower == label), None)
    assert model is not None, f"{label} is no longer registered: remove it from OBJECTS"
    model_admin = admin.site._registry[model]
    request = client.get("/admin/").wsgi_request
    accepted = 0
    for obj in OBJECTS[label](world):
        accepted += walk_change_form(client, model, obj, label, world)
        deletable = model_admin.has_delete_permission(request, obj)
        assert deletable == (label in DELETABLE), f"{label}: deletion must be {label in DELETABLE}"
    # The walk changed something where the admin may (so the audit checks ran), and nothing elsewhere.
    assert (accepted > 0) == (label in EDITABLE), f"{label}: {accepted} changes accepted"


# Models with fields the admin may change (each change audited); the others are view-only.
EDITABLE = {"auth.group", "accounts.organisation", "accounts.user", "bidding.project", "bidding.lot",
            "evaluation.region", "evaluation.venue", "evaluation.expert"}


# Models whose rows the admin may delete, and what a deletion means.
DELETABLE = {"axes.accessattempt"}  # a failed-sign-in counter: deleting it unlocks the user


@pytest.mark.parametrize("label", sorted(OBJECTS))
def test_each_admin_add_form_is_refused_or_audited(people, world, label):
    client = admin_client(people)
    model = next(m for m, _ in registered() if m._meta.label_lower == label)
    data = add_data(label, world)
    page = client.get(url(model, "add"))
    if data is None:
        assert page.status_code == 403, f"{label}: adding a row is not one of the admin's changes"
        return
    assert page.status_code == 200
    ids = set(model._default_manager.values_list("pk", flat=True))
    mark = last_index()
    res = client.post(url(model, "add"), {**data, "_save": "Save"})
    assert res.status_code == 302, res.content.decode()[-3000:]
    created = model._default_manager.exclude(pk__in=ids).get()
    after = state(created)
    after.pop(model._meta.pk.name)  # the entry's object id
    assert_audited(entries_since(mark, created), {}, {k: v for k, v in after.items() if v not in (None, "", [])},
                   f"{label} add")
    assert [e["action"] for e in entries_since(mark, created)].count("admin.record.created") == 1


def run_action(client, model, name, pks, **extra):
    return client.post(url(model, "changelist"), {"action": name, "_selected_action": [str(p) for p in pks],
                                                  "index": "0", **extra})


def check_end_all_sessions(client, model, world):
    from accounts.models import UserSession

    alice, mark = world["people"]["alice"], last_index()
    run_action(client, model, "end_all_sessions", [alice.pk])
    assert not UserSession.objects.filter(user=alice).exists()
    [entry] = [e for e in entries_since(mark, alice) if e["action"] == "accounts.session.ended_by_admin"]
    assert entry["data"]["count"] == 1


def check_revoke_tokens(client, model, world):
    token, mark = world["token"], last_index()
    run_action(client, model, "revoke_tokens", [token.pk])
    token.refresh_from_db()
    assert token.revoked_at is not None
    [entry] = [e for e in entries_since(mark, token) if e["action"] == "accounts.token.revoked"]
    assert same(entry["data"]["revoked_at"][1], token.revoked_at) and entry["data"]["revoked_at"][0] is None


def check_delete_attempt(client, model, world):
    attempt, mark = world["attempt"], last_index()
    before = state(attempt)
    run_action(client, model, "delete_selected", [attempt.pk], post="yes")
    assert not model.objects.filter(pk=attempt.pk).exists()
    [entry] = [e for e in entries_since(mark, attempt) if e["action"] == "admin.record.deleted"]
    assert entry["data"]["username"] == [before["username"], None]
    assert entry["data"]["failures_since_start"] == [5, None]


# Every action each admin offers, and the check that it went through the rules and the log.
ACTIONS = {
    ("accounts.user", "end_all_sessions"): check_end_all_sessions,
    ("accounts.apitoken", "revoke_tokens"): check_revoke_tokens,
    ("axes.accessattempt", "delete_selected"): check_delete_attempt,
}


@pytest.mark.parametrize("label", sorted(OBJECTS))
def test_each_admin_action_is_known_and_audited(people, world, label):
    client = admin_client(people)
    model = next(m for m, _ in registered() if m._meta.label_lower == label)
    request = client.get("/admin/").wsgi_request
    offered = sorted(admin.site._registry[model].get_actions(request))
    unknown = [name for name in offered if (label, name) not in ACTIONS]
    assert not unknown, f"{label}: no check for the actions {unknown}: add them to ACTIONS"
    for name in offered:
        ACTIONS[(label, name)](client, model, world)


def test_the_admin_deletes_a_counter_one_by_one_audited_too(people, world):
    from axes.models import AccessAttempt

    attempt, mark = world["attempt"], last_index()
    client = admin_client(people)
    assert client.post(url(AccessAttempt, "delete", attempt.pk), {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert [e["action"] for e in entries_since(mark, attempt)] == ["admin.record.deleted"]


def test_a_published_lot_with_a_sealed_bid_keeps_its_deadline_in_the_admin(people, world):
    lot = world["sealed"]
    deadline, code = lot.bid_deadline, lot.project.code
    client = admin_client(people)
    walk_change_form(client, type(lot), lot, "bidding.lot", world)
    walk_change_form(client, type(lot.project), lot.project, "bidding.project", world)
    lot.refresh_from_db()
    assert lot.bid_deadline == deadline and lot.project.code == code and lot.status == "published"


def test_the_admin_edits_a_published_lots_title_through_edit_lot(people, world):
    lot, mark = world["sealed"], last_index()
    client = admin_client(people)
    data = post_data(form_controls(client.get(url(type(lot), "change", lot.pk)).content.decode(), "lot_form"))
    assert set(data) & {"bid_deadline_0", "code", "min_bids"} == set()  # read-only, not inputs
    res = client.post(url(type(lot), "change", lot.pk), {**data, "title": "施工（一标段）", "_save": "Save"})
    assert res.status_code == 302
    [entry] = [e for e in entries_since(mark, lot) if e["action"] == "bidding.lot.edited"]
    assert entry["data"] == {"title": ["施工", "施工（一标段）"]} and entry["tender"] == lot.pk


def test_the_admin_changes_a_drafts_project_code_audited_and_not_once_a_lot_was_published(people, world):
    client = admin_client(people)
    for lot, allowed in ((world["draft"], True), (world["sealed"], False), (world["cancelled"], False)):
        project, mark = lot.project, last_index()
        data = post_data(form_controls(client.get(url(type(project), "change", project.pk)).content.decode(),
                                       "project_form"))
        old = project.code
        client.post(url(type(project), "change", project.pk), {**data, "code": old + "-X", "_save": "Save"})
        project.refresh_from_db()
        assert (project.code == old + "-X") is allowed
        edited = [e["data"] for e in entries_since(mark, project) if e["action"] == "bidding.project.edited"]
        assert edited == ([{"code": [old, old + "-X"]}] if allowed else [])


def test_a_password_set_in_the_admin_is_audited_without_the_hash(people):
    alice, mark = people["alice"], last_index()
    client = admin_client(people)
    old_hash = alice.password
    from django.urls import reverse

    res = client.post(reverse("admin:auth_user_password_change", args=[alice.pk]),
                      {"password1": "An0ther-long-pw", "password2": "An0ther-long-pw", "usable_password": "true",
                       "set-password": "1"})
    assert res.status_code == 302
    alice.refresh_from_db()
    assert alice.password != old_hash
    [entry] = [e for e in entries_since(mark, alice) if e["action"] == "admin.record.changed"]
    assert set(entry["data"]) == {"password"} and old_hash not in json.dumps(entry) \
        and alice.password not in json.dumps(entry)


def test_a_user_deactivated_in_the_admin_is_signed_out_everywhere(people, world):
    from accounts.models import UserSession

    alice, client = people["alice"], admin_client(people)
    data = post_data(form_controls(client.get(url(type(alice), "change", alice.pk)).content.decode(), "user_form"))
    data.pop("is_active", None)
    mark = last_index()
    assert client.post(url(type(alice), "change", alice.pk), {**data, "_save": "Save"}).status_code == 302
    assert not UserSession.objects.filter(user=alice).exists()
    actions = [e["action"] for e in entries_since(mark, alice)]
    assert "admin.record.changed" in actions and "accounts.session.ended_by_admin" in actions


def test_an_action_refusing_an_admin_save_says_why_and_keeps_nothing(people, world):
    lot, client = world["draft"], admin_client(people)
    data = post_data(form_controls(client.get(url(type(lot), "change", lot.pk)).content.decode(), "lot_form"))
    before, mark = state(lot), last_index()
    res = client.post(url(type(lot), "change", lot.pk),
                      {**data, "bid_deadline_0": "2020-01-01", "bid_deadline_1": "10:00:00", "_save": "Save"},
                      follow=True)
    assert res.status_code == 200 and state(lot) == before
    assert "bidding.lot.edited" not in [e["action"] for e in entries_since(mark, lot)]
    assert any(m.level_tag == "error" for m in res.context["messages"])


def test_a_drafts_code_taken_by_another_lot_of_the_project_is_refused_not_a_500(people, world, make_lot):
    from bidding.models import Lot

    lot, client = world["draft"], admin_client(people)
    Lot.objects.create(project=lot.project, code="02", title="监理", bid_deadline=lot.bid_deadline,
                       signin_opens_at=lot.signin_opens_at)
    data = post_data(form_controls(client.get(url(type(lot), "change", lot.pk)).content.decode(), "lot_form"))
    res = client.post(url(type(lot), "change", lot.pk), {**data, "code": "02", "_save": "Save"}, follow=True)
    assert res.status_code == 200
    lot.refresh_from_db()
    assert lot.code == "01"
