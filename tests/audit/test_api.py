import pytest
from django.db import transaction
from django.test import Client

from audit.log import log_action
from common.actor import Actor
from crypto import merkle
from crypto.checkpoint import NoteVerifier, open_checkpoint

pytestmark = pytest.mark.django_db


def append(n, actor=Actor(username="t")):
    for i in range(n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=actor, data={"i": i})


def test_anyone_can_check_a_checkpoint_and_a_consistency_proof_with_the_published_key(people):
    append(5)
    operator = Client()
    operator.force_login(people["admin"])
    first = operator.post("/api/v1/audit/checkpoints").json()
    append(4)
    second = operator.post("/api/v1/audit/checkpoints").json()
    public = Client()
    verifier = NoteVerifier.from_vkey(public.get("/api/v1/audit/key").json()["vkey"])
    a, b = open_checkpoint(first["note"], verifier), open_checkpoint(second["note"], verifier)
    # Signing in is itself an entry: 5 + 1 and the checkpoint's record, then 4 more and a record.
    assert (a.size, b.size) == (7, 12) == (first["size"], second["size"])
    assert public.get("/api/v1/audit/checkpoints/latest").json()["size"] == 12
    proof = public.get("/api/v1/audit/consistency", {"first": 7, "second": 12}).json()["proof"]
    merkle.verify_consistency(7, 12, [bytes.fromhex(h) for h in proof], a.root_hash, b.root_hash)


def test_supervisors_read_and_filter_entries_and_get_inclusion_proofs(people):
    append(6)
    client = Client()
    client.force_login(people["supervisor"])
    rows = client.get("/api/v1/audit/entries", {"after": 1, "limit": 3}).json()
    assert [r["index"] for r in rows] == [2, 3, 4]
    rows = client.get("/api/v1/audit/entries", {"action": "accounts.session"}).json()
    assert [r["action"] for r in rows] == ["accounts.session.signed_in"]
    proof = client.get("/api/v1/audit/entries/3/inclusion", {"size": 6}).json()
    merkle.verify_inclusion(bytes.fromhex(proof["leaf_hash"]), 3, 6,
                            [bytes.fromhex(h) for h in proof["proof"]], bytes.fromhex(proof["root"]))


def test_bidders_cannot_read_the_log_but_can_prove_their_own_entries(people):
    alice, bob = Client(), Client()
    alice.force_login(people["alice"])  # entry 0
    bob.force_login(people["bob"])  # entry 1
    append(1, actor=Actor.of(people["alice"]))  # entry 2
    assert alice.get("/api/v1/audit/entries").status_code == 403
    assert alice.post("/api/v1/audit/checkpoints").status_code == 403
    assert alice.get("/api/v1/audit/entries/2/inclusion").status_code == 200
    assert bob.get("/api/v1/audit/entries/2/inclusion").status_code == 404
    assert alice.get("/api/v1/audit/entries/1/inclusion").status_code == 404
