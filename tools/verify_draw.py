#!/usr/bin/env python3
"""Verify an expert draw from its published record alone (docs/draw.md), with the standard library.

    python tools/verify_draw.py record.json        # GET /api/v1/evaluation/draws/{id}/published
    python tools/verify_draw.py contribute DRAW_ID PARTY   # a value and its commitment, for a party

This file is written from docs/draw.md only and imports nothing of the platform: it checks the
snapshot's hash, every commitment against its reveal, derives the seed, redraws the committee,
replays the declines and compares. Exit status 0 and the committee on stdout when everything
matches; 1 and the first mismatch on stderr otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import unicodedata

PARTIES = ("platform", "supervisor", "host")
COMMIT_LABEL = b"kaibiao/draw-commit/v1\x00"
DRAW_LABEL = b"kaibiao/expert-draw/v1\x00"


class Mismatch(Exception):
    """The record does not verify; the message says what differs."""


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def commitment(draw_id: int, party: str, value: bytes) -> str:
    return hashlib.sha256(COMMIT_LABEL + str(draw_id).encode() + b"\x00" + party.encode() + b"\x00"
                          + value).hexdigest()


def seed_of(record: dict) -> bytes:
    reveals = {r["party"]: r["value"] for r in record["reveals"]}
    if not any(reveals.get(p) for p in PARTIES if p != "platform"):
        raise Mismatch("no contribution besides the platform's: the draw lapses, there is no seed")
    body = {"format": "kaibiao/draw-seed/v1", "draw": record["draw_id"], "snapshot_sha256": record["snapshot_sha256"],
            "reveals": [[p, reveals.get(p)] for p in PARTIES], "beacon": record.get("beacon")}
    return hashlib.sha256(canonical(body)).digest()


def norm(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def avoided(expert: dict, bidders: list[dict]) -> bool:
    orgs = {b["org"] for b in bidders}
    managers = {norm(m) for b in bidders for m in b["managers"]}
    return bool((expert["employer"] is not None and expert["employer"] in orgs)
                or orgs & set(expert["related_orgs"])
                or managers & {norm(p) for p in expert["related_people"]}
                or expert["authority_staff"] or expert["penalised"] or not expert["available"])


def key(seed: bytes, expert_id: str) -> bytes:
    return hmac.new(seed, DRAW_LABEL + expert_id.encode("utf-8"), hashlib.sha256).digest()


def committee_of(snapshot: dict, quotas: dict, seed: bytes, declined: list[str]) -> list[str]:
    """The selection of docs/draw.md: avoidance, HMAC order, specialties first, then each region,
    at most size // 3 "other" experts; then each decline replaced in turn."""
    size = sum(quotas.values())
    max_other = size // 3
    required = snapshot["required_specialties"]
    by_id = {e["id"]: e for e in snapshot["experts"]}
    order = {r: sorted((e for e in snapshot["experts"] if e["region"] == r and not avoided(e, snapshot["bidders"])),
                       key=lambda e: key(seed, e["id"])) for r in quotas}
    chosen: list[dict] = []
    left = dict(quotas)

    def allowed(e):
        return e not in chosen and (e["category"] != "other" or
                                    sum(1 for c in chosen if c["category"] == "other") < max_other)

    for spec in sorted(required):
        while sum(1 for e in chosen if spec in e["specialties"]) < required[spec]:
            candidates = [e for r in sorted(order) if left[r] > 0 for e in order[r]
                          if spec in e["specialties"] and allowed(e)]
            if not candidates:
                raise Mismatch(f"the pool cannot meet specialty {spec}")
            pick = min(candidates, key=lambda e: key(seed, e["id"]))
            chosen.append(pick)
            left[pick["region"]] -= 1
    for r in sorted(quotas):
        for e in order[r]:
            if left[r] and allowed(e):
                chosen.append(e)
                left[r] -= 1
        if left[r]:
            raise Mismatch(f"the pool cannot fill region {r}")
    ids = [e["id"] for e in chosen]
    gone: list[str] = []
    for d in declined:
        if d not in ids:
            raise Mismatch(f"{d} declined but was not a member")
        gone.append(d)
        staying = [i for i in ids if i != d]
        region = by_id[d]["region"]
        for cand in order[region]:
            if cand["id"] in ids or cand["id"] in gone:
                continue
            members = [by_id[i] for i in staying] + [cand]
            if (sum(1 for m in members if m["category"] == "other") <= max_other and
                    all(sum(1 for m in members if s in m["specialties"]) >= n for s, n in required.items())):
                ids = staying + [cand["id"]]
                break
        else:
            raise Mismatch(f"no replacement for {d}")
    position = {e["id"]: n for r in order for n, e in enumerate(order[r])}
    return sorted(ids, key=lambda i: (by_id[i]["region"], position[i]))


def verify(record: dict) -> list[str]:
    """The committee the record's material gives, after every check; ``Mismatch`` otherwise."""
    if record.get("format") != "kaibiao/draw-record/v1":
        raise Mismatch("not a kaibiao/draw-record/v1 record")
    text = record["snapshot"]
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != record["snapshot_sha256"]:
        raise Mismatch("the snapshot does not give its published SHA-256")
    snapshot = json.loads(text)
    if snapshot.get("format") != "kaibiao/expert-draw/v1" or canonical(snapshot).decode("utf-8") != text:
        raise Mismatch("the snapshot is not canonical kaibiao/expert-draw/v1 JSON")
    commitments = {c["party"]: c["commitment"] for c in record["commitments"]}
    if set(commitments) != set(PARTIES) or not all(commitments.values()):
        raise Mismatch("every party commits before the snapshot")
    for r in record["reveals"]:
        if r["value"] is not None:
            if commitment(record["draw_id"], r["party"], bytes.fromhex(r["value"])) != commitments[r["party"]]:
                raise Mismatch(f"the {r['party']}'s reveal does not give its commitment")
    seed = seed_of(record)
    if seed.hex() != record["seed"]:
        raise Mismatch("the seed is not the one the reveals give")
    committee = committee_of(snapshot, record["quotas"], seed, record["declined"])
    if committee != record["committee"]:
        raise Mismatch(f"the committee is not the one the draw gives: expected {committee}")
    return committee


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "contribute":
        value = secrets.token_bytes(32)
        print(json.dumps({"value": value.hex(), "commitment": commitment(int(argv[2]), argv[3], value)}))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        record = json.load(f)
    try:
        committee = verify(record)
    except (Mismatch, KeyError, ValueError, TypeError) as error:
        print(f"NOT VERIFIED: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"verified": True, "draw_id": record["draw_id"], "committee": committee}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
