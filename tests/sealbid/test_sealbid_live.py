"""``sealbid`` end to end against a live Daphne (SQLite, a temporary var dir): keygen → csr →
approval by a host through the API → seal → submit, killed mid-upload and resumed → verify-receipt;
and the exit codes of the failures a bidder meets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_smoke_demo import ROOT, demo_env, free_port, manage

# Who every live sealbid test meets: an agency with its host, Alice's and Bob's companies with a
# bidder each, and a deadline two days on. A module's SETUP adds its project, lots and output.
PEOPLE = """
import json
from datetime import timedelta
from accounts.models import ApiToken, Organisation, User
from bidding.models import Lot, Project
from common import clock
from tests.conftest import make_code
agency = Organisation.objects.create(name="乙招标代理", kind="agency", credit_code=make_code("91320100AG1"))
co = Organisation.objects.create(name="Alice 建设有限公司", kind="bidder", credit_code=make_code("91320100AL1"))
host = User.objects.create(username="host", role="host", organisation=agency)
alice = User.objects.create(username="alice", role="bidder", organisation=co)
bob_co = Organisation.objects.create(name="Bob 工程有限公司", kind="bidder", credit_code=make_code("91320100BB1"))
bob = User.objects.create(username="bob", role="bidder", organisation=bob_co)
deadline = clock.now() + timedelta(days=2)
"""

SETUP = PEOPLE + """
project = Project.objects.create(code="ZB-2026-0042", title="道路工程", tenderee=agency, agency=agency)
lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=deadline,
                         signin_opens_at=deadline, status="published")
custodians = [User.objects.create(username=n, role=r) for n, r in
              (("supervisor", "supervisor"), ("venue_staff", "venue_staff"), ("expert", "expert"))]
backup = Lot.objects.create(project=project, code="02", title="监理", bid_deadline=deadline,
                            signin_opens_at=deadline, status="published", escrow_required=True)
print(json.dumps({"lot": lot.pk, "credit_code": co.credit_code, "backup_lot": backup.pk,
                  "bob_credit_code": bob_co.credit_code, "bob": ApiToken.issue(bob, "cli")[1],
                  "custodian_ids": [u.pk for u in custodians[:2]],
                  **{u.username: ApiToken.issue(u, "cli")[1] for u in custodians},
                  "alice": ApiToken.issue(alice, "cli")[1], "host": ApiToken.issue(host, "ui")[1]}))
"""


def serve(tmp_path_factory, setup: str):
    """A fresh var dir (SQLite) migrated, ``setup`` run in ``manage.py shell`` (its last output
    line is JSON), then Daphne on a free port: yields that JSON with ``base``, ``env`` and ``var``,
    and stops Daphne afterwards. Each module's ``server`` fixture is this with its own setup."""
    var = tmp_path_factory.mktemp("var")
    env = demo_env(var)
    manage(env, "migrate", "--noinput", "-v", "0")
    info = json.loads(manage(env, "shell", "-v", "0", "-c", setup).stdout.strip().splitlines()[-1])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "config.asgi:application"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5)
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "daphne did not start"
            time.sleep(0.2)
    yield {**info, "base": base, "env": env, "var": var}
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve(tmp_path_factory, SETUP)


def sealbid(server, *args, token="alice", extra_env=None, base=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBID_")}
    env.update({"SEALBID_SERVER": base or server["base"], "SEALBID_TOKEN": server[token] if token else ""})
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "sealbid.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def api(server, method, path, token="host", body=None):
    req = urllib.request.Request(server["base"] + "/api/v1" + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {server[token]}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read())


def test_keygen_csr_seal_submit_resume_verify(server, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("正确的密码 horse\n")
    key = tmp_path / "key.json"
    r = sealbid(server, "keygen", "--out", str(key), "--password-file", str(pw), "--iterations", "100000")
    assert r.returncode == 0, r.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    r = sealbid(server, "csr", "--key", str(key), "--organisation", "Alice 建设有限公司",
                "--credit-code", server["credit_code"], "--password-file", str(wrong), "--submit")
    assert r.returncode == 3 and "wrong password" in r.stderr
    # Sealing before any certificate: a clear certificate error.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "商务标.txt").write_text("商务标内容\n" * 1000)
    (docs / "big.bin").write_bytes(os.urandom(3 * 2**20))
    env_path = tmp_path / "bid.tenv"
    seal_args = ["seal", "--lot", str(server["lot"]), "--key", str(key), "--field", "price=1234567.89",
                 "--field", "duration_days=180", "--field", "quality=合格", "--out", str(env_path),
                 str(docs)]
    r = sealbid(server, *seal_args)
    assert r.returncode == 4, r.stderr
    r = sealbid(server, "csr", "--key", str(key), "--organisation", "Alice 建设有限公司",
                "--credit-code", server["credit_code"], "--password-file", str(pw), "--submit")
    assert r.returncode == 0, r.stderr
    pending = api(server, "GET", "/certificates?status=pending")
    assert len(pending) == 1
    assert api(server, "POST", f"/certificates/{pending[0]['id']}/approve")["status"] == "issued"
    r = sealbid(server, *seal_args[:-3], "--field", "price=1.234", *seal_args[-3:])
    assert r.returncode == 2 and "two decimals" in r.stderr
    r = sealbid(server, *seal_args)
    assert r.returncode == 0, r.stderr
    # Submit, killed after three chunks; the state file remembers the upload.
    r = sealbid(server, "submit", "--lot", str(server["lot"]), "--chunk-size", "524288", "--quiet",
                str(env_path), extra_env={"SEALBID_TEST_DIE_AFTER_CHUNKS": "3"})
    assert r.returncode == -9
    state = json.loads((tmp_path / "bid.tenv.upload.json").read_text())
    status = api(server, "GET", f"/uploads/{state['upload']}", token="alice")
    assert status["offset"] == 3 * 524288 and status["status"] == "open"
    r = sealbid(server, "submit", "--lot", str(server["lot"]), "--chunk-size", "524288", "--quiet",
                str(env_path))
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "bid.tenv.upload.json").exists()
    assert api(server, "GET", f"/uploads/{state['upload']}", token="alice")["status"] == "complete"
    receipt = tmp_path / "bid.tenv.receipt.json"
    r = sealbid(server, "platform-keys", "--out", str(tmp_path / "platform.json"))
    assert r.returncode == 0, r.stderr
    r = sealbid(server, "verify-receipt", str(receipt), "--vkey-file", str(tmp_path / "platform.json"),
                "--envelope", str(env_path), base="http://127.0.0.1:9", token=None)
    assert r.returncode == 0 and "receipt OK" in r.stdout, r.stderr
    doc = json.loads(receipt.read_text())
    doc["receipt"]["envelope"]["size"] += 1
    receipt.write_text(json.dumps(doc))
    r = sealbid(server, "verify-receipt", str(receipt), "--vkey-file", str(tmp_path / "platform.json"))
    assert r.returncode == 9
    r = sealbid(server, "status", "--lot", str(server["lot"]))
    assert r.returncode == 0 and '"status": "current"' in r.stdout
    # At the opening: the hall is not there yet, and the tool says so.
    r = sealbid(server, "open", "--lot", str(server["lot"]), "--key", str(key), "--password-file", str(pw))
    assert r.returncode == 10 and "key releases" in r.stderr
    r = sealbid(server, "withdraw", "--lot", str(server["lot"]))
    assert r.returncode == 0, r.stderr
    r = sealbid(server, "status", "--lot", str(server["lot"]))
    assert "no current bid" in r.stdout


def test_failures_have_distinct_exit_codes(server, tmp_path):
    r = sealbid(server, "status", "--lot", str(server["lot"]), base=f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 6 and "network" in r.stderr
    r = sealbid(server, "status", "--lot", str(server["lot"]), token=None,
                extra_env={"SEALBID_TOKEN": "kbt_0000_bad"})
    assert r.returncode == 11
    junk = tmp_path / "junk.tenv"
    junk.write_bytes(b"PK\x03\x04 not an envelope" * 10)
    r = sealbid(server, "submit", "--lot", str(server["lot"]), "--quiet", str(junk))
    assert r.returncode in (4, 8), r.stderr  # refused: not an envelope (or no certificate yet)
    assert "invalid_envelope" in r.stderr or "certificate" in r.stderr


def test_custodians_make_their_own_keys_and_sealbid_splits_the_file_key_among_them(server, tmp_path):
    from crypto import envelope, keys

    pw = tmp_path / "pw"
    pw.write_text("保管人的密码 battery\n")
    kids = []
    for name in ("supervisor", "venue_staff"):
        out = tmp_path / f"{name}.json"
        r = sealbid(server, "custodian", "keygen", "--out", str(out), "--password-file", str(pw),
                    "--iterations", "100000", "--register", token=name)
        assert r.returncode == 0 and "registered custodian key" in r.stdout, r.stderr
        kid, _ = keys.read_key_file_public(out.read_bytes())
        assert kid in r.stdout
        kids.append(kid)
    r = sealbid(server, "custodian", "keygen", "--out", str(tmp_path / "e.json"), "--password-file", str(pw),
                "--iterations", "100000", "--register", token="expert")
    assert r.returncode != 0 and "expert" in r.stderr and "bidders cannot hold" not in r.stderr
    lot = server["backup_lot"]
    escrow = api(server, "POST", f"/lots/{lot}/escrow",
                 body={"custodian_user_ids": server["custodian_ids"], "threshold": 2})
    assert escrow["scheme"] == "shares" and [c["key_id"] for c in escrow["custodians"]] == kids
    key = tmp_path / "bob.json"
    assert sealbid(server, "keygen", "--out", str(key), "--password-file", str(pw), "--iterations", "100000",
                   token="bob").returncode == 0
    r = sealbid(server, "csr", "--key", str(key), "--organisation", "Bob 工程有限公司", "--credit-code",
                server["bob_credit_code"], "--password-file", str(pw), "--submit", token="bob")
    assert r.returncode == 0, r.stderr
    pending = [c for c in api(server, "GET", "/certificates?status=pending")
               if c["credit_code"] == server["bob_credit_code"]]
    assert api(server, "POST", f"/certificates/{pending[-1]['id']}/approve")["status"] == "issued"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "技术标.txt").write_text("监理方案\n" * 100)
    env_path = tmp_path / "bid.tenv"
    seal_args = ["seal", "--lot", str(lot), "--key", str(key), "--field", "price=99.50", "--field",
                 "duration_days=90", "--field", "quality=合格", "--out", str(env_path)]
    r = sealbid(server, *seal_args, "--custodian-key-ids", ",".join(reversed(kids)), str(docs), token="bob")
    assert r.returncode == 8 and "other custodians" in r.stderr and not env_path.exists(), r.stderr
    r = sealbid(server, *seal_args, "--custodian-key-ids", ",".join(kids), str(docs), token="bob")
    assert r.returncode == 0, r.stderr
    with open(env_path, "rb") as f:
        header = envelope.read_header(f)
    assert header.version == "tender-envelope/v3" and header.threshold == 2
    assert header.share_key_ids() == tuple(kids)
    r = sealbid(server, "submit", "--lot", str(lot), "--quiet", str(env_path), token="bob")
    assert r.returncode == 0 and "receipt verified" in r.stdout, r.stderr
    # before the deadline no bid is in its backup window
    r = sealbid(server, "custodian", "recoveries", token="supervisor")
    assert r.returncode == 0 and "no bid is in its backup window" in r.stdout, r.stderr
    r = sealbid(server, "custodian", "release", "--lot", str(lot), "--recovery",
                "00000000-0000-0000-0000-000000000000", "--key", str(tmp_path / "supervisor.json"),
                "--password-file", str(pw), token="supervisor")
    assert r.returncode == 10, r.stderr
