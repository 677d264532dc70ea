"""Crash safety of the upload at every step (docs/sealbid.md, "Crash safety"): a real Daphne is
killed with SIGKILL at each named step of `sealbid submit` (``KAIBIAO_CRASH_AT``), restarted, and
the same running `sealbid submit` resumes and finishes every time. Afterwards: every receipt the
client saved verifies and names a submission that is present with its file, each envelope was
submitted exactly once (a resumed client does not submit twice), no file is stored without its
row, and the sweeper finds nothing left to repair."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from common.crash import STEPS
from tests.test_smoke_demo import ROOT, demo_env, free_port, manage

CHUNK = 512 * 1024
# PATCH steps die at the second chunk, so one chunk was acknowledged before the crash.
AT = {"patch-before-write": "patch-before-write:2", "patch-after-write": "patch-after-write:2"}

SETUP = """
import json, os
from datetime import timedelta
from accounts.models import ApiToken, Organisation, User
from bidding import certificates
from bidding.models import Lot, Project
from common import clock
from common.actor import Actor
from crypto import ca, envelope, keys
from tests.conftest import make_code
agency = Organisation.objects.create(name="乙招标代理", kind="agency", credit_code=make_code("91320100AG1"))
co = Organisation.objects.create(name="Alice 建设有限公司", kind="bidder", credit_code=make_code("91320100AL1"))
host = User.objects.create(username="host", role="host", organisation=agency)
alice = User.objects.create(username="alice", role="bidder", organisation=co)
project = Project.objects.create(code="ZB-2026-0099", title="道路工程", tenderee=agency, agency=agency)
deadline = clock.now() + timedelta(days=2)
lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=deadline,
                         signin_opens_at=deadline, status="published")
key = keys.generate_bidder_key()
csr = ca.make_csr(key, organisation=co.name, credit_code=co.credit_code).decode()
cert = certificates.request_certificate(alice, Actor.of(alice), csr_pem=csr, now=clock.now())
certificates.decide_certificate(host, Actor.of(host), cert.pk, approve=True, now=clock.now())
out = os.environ["ENVELOPES"]
for step in os.environ["STEPS"].split(","):
    data = envelope.seal_bytes(os.urandom(3 * 512 * 1024 - 1000), tender_id=project.code, lot_id=lot.code,
                               bidder_id=co.credit_code, recipients=[envelope.Recipient("bidder", key.public_key())])
    open(os.path.join(out, step + ".tenv"), "wb").write(data)
print(json.dumps({"lot": lot.pk, "alice": ApiToken.issue(alice, "cli")[1]}))
"""

CHECK = """
import json, hashlib
from bidding import storage
from bidding.models import BidSubmission
out = []
for s in BidSubmission.objects.all():
    path = storage.absolute(s.path)
    out.append({"id": str(s.pk), "sha256": s.sha256, "receipt": s.receipt, "status": s.status,
                "file": path.exists() and storage.sha256_of(path)[0] == s.sha256})
files = sorted(str(p.relative_to(storage.root().parent)) for p in storage.root().glob("*/*/*.tenv"))
print(json.dumps({"submissions": out, "files": files}))
"""


SPAWNED: list[subprocess.Popen] = []


@pytest.fixture
def servers():
    yield
    for proc in SPAWNED:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    SPAWNED.clear()


def spawn(env, port, crash_at=None):
    env = dict(env)
    env.pop("KAIBIAO_CRASH_AT", None)
    if crash_at:
        env["KAIBIAO_CRASH_AT"] = crash_at
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "config.asgi:application"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SPAWNED.append(proc)
    return proc, port


def ready(spawned):
    proc, port = spawned
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return proc
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "daphne did not start"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    envelopes = tmp_path_factory.mktemp("envelopes")
    env = demo_env(var)
    manage(env, "migrate", "--noinput", "-v", "0")
    info = json.loads(manage({**env, "ENVELOPES": str(envelopes), "STEPS": ",".join(STEPS)},
                             "shell", "-v", "0", "-c", SETUP).stdout.strip().splitlines()[-1])
    return {**info, "env": env, "envelopes": envelopes}


def test_sealbid_resumes_after_a_kill_at_every_step_and_nothing_is_lost(scene, servers):
    # Each step on its own port, so the next step's server starts while this one's restarts.
    upcoming = spawn(scene["env"], free_port(), crash_at=AT.get(STEPS[0], STEPS[0]))
    for i, step in enumerate(STEPS):
        path = scene["envelopes"] / f"{step}.tenv"
        server = ready(upcoming)
        port = upcoming[1]
        base = f"http://127.0.0.1:{port}"
        client_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBID_")}
        client_env.update({"SEALBID_SERVER": base, "SEALBID_TOKEN": scene["alice"]})
        client = subprocess.Popen([sys.executable, "-m", "sealbid.cli", "submit", "--lot",
                                   str(scene["lot"]), "--chunk-size", str(CHUNK), "--quiet",
                                   "--backoff", "0.1", "--max-backoff", "0.3", "--retries", "100",
                                   str(path)],
                                  cwd=ROOT, env=client_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            assert server.wait(timeout=30) == -9, f"{step}: the server was not killed at its step"
            restarted = spawn(scene["env"], port)
            if i + 1 < len(STEPS):
                upcoming = spawn(scene["env"], free_port(), crash_at=AT.get(STEPS[i + 1], STEPS[i + 1]))
            restarted = ready(restarted)
            try:
                out, err = client.communicate(timeout=60)
            finally:
                restarted.terminate()
                restarted.wait(timeout=10)
        finally:
            if client.poll() is None:
                client.kill()
        assert client.returncode == 0, f"{step}: sealbid exited {client.returncode}: {err}"
        assert "receipt verified" in out, f"{step}: {out} {err}"
        assert not path.with_name(path.name + ".upload.json").exists(), step

    state = json.loads(manage(scene["env"], "shell", "-v", "0", "-c", CHECK).stdout.strip()
                       .splitlines()[-1])
    by_sha = {}
    for sub in state["submissions"]:
        by_sha.setdefault(sub["sha256"], []).append(sub)
        assert sub["file"], f"submission {sub['id']} has no file with its SHA-256"
    for step in STEPS:
        path = scene["envelopes"] / f"{step}.tenv"
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        # Acknowledged => present: the receipt the client saved names a stored submission.
        receipt = json.loads(path.with_name(path.name + ".receipt.json").read_text())
        assert receipt["receipt"]["envelope"]["sha256"] == sha, step
        assert len(by_sha.get(sha, [])) == 1, f"{step}: submitted {len(by_sha.get(sha, []))} times"
    # No stored file without its row, and nothing for the sweeper to repair.
    assert len(state["files"]) == len(state["submissions"]) == len(STEPS)
    swept = manage(scene["env"], "sweep_uploads", "--dry-run", "--json").stdout.strip().splitlines()
    assert swept == ["0 finding(s); 0 repaired"], swept
