"""The witness: C2SP tlog-cosignature lines, and tlog-witness add-checkpoint refusing every
checkpoint that does not extend the last one it cosigned — across restarts."""

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import merkle, signing
from crypto.checkpoint import Checkpoint, CheckpointError, NoteSigner
from crypto.cosignature import COSIGNATURE_TYPE, Cosigner, CosignatureVerifier, cosigner_key_id
from witness.core import StateFile, Witness

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "kaibiao.test/audit"


class Log:
    """A log the test controls: its tree, its key."""

    def __init__(self):
        self.signer = NoteSigner(ORIGIN, signing.generate_signing_key())
        self.leaves = []

    def grow(self, n, tag=b"e"):
        self.leaves += [merkle.leaf_hash(tag + str(len(self.leaves) + i).encode()) for i in range(n)]

    def note(self, size=None):
        size = len(self.leaves) if size is None else size
        return self.signer.sign(Checkpoint(ORIGIN, size, merkle.root_from_leaf_hashes(self.leaves[:size])).to_body())

    def request(self, old, size=None, proof=None):
        size = len(self.leaves) if size is None else size
        if proof is None:
            proof = merkle.consistency_proof(old, size, merkle.MemoryTree(self.leaves[:size])) if old else []
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        return f"old {old}\n{lines}\n{self.note(size)}".encode()


@pytest.fixture
def cosigner():
    return Cosigner("witness.test/w1", signing.generate_signing_key())


@pytest.fixture
def log():
    return Log()


def make(cosigner, log, path, clock=lambda: 1_700_000_000):
    return Witness(cosigner, [log.signer.verifier], StateFile(path), clock=clock)


def test_a_cosignature_is_a_timestamped_note_signature_over_the_checkpoint(cosigner, log):
    log.grow(5)
    note = log.note()
    body = note[:note.index("\n\n") + 1]
    line = cosigner.cosign(body, 1_679_315_147)
    raw = base64.b64decode(line.split(" ")[2].strip())
    assert raw[:4] == cosigner_key_id(cosigner.name, cosigner.verifier.public_key_bytes)
    assert int.from_bytes(raw[4:12], "big") == 1_679_315_147 and len(raw) == 4 + 8 + 64
    signing.verify(cosigner.verifier.public_key, raw[12:],
                   b"cosignature/v1\ntime 1679315147\n" + body.encode())
    verifier = CosignatureVerifier.from_vkey(cosigner.vkey)
    assert base64.b64decode(cosigner.vkey.split("+", 2)[2])[:1] == COSIGNATURE_TYPE
    assert verifier.verify(note + line) == 1_679_315_147
    # The log's own signature is no cosignature, and a flipped timestamp breaks it.
    with pytest.raises(CheckpointError, match="not cosigned"):
        verifier.verify(note)
    forged = base64.b64encode(raw[:11] + bytes([raw[11] ^ 1]) + raw[12:]).decode()
    with pytest.raises(CheckpointError, match="bad cosignature"):
        verifier.verify(note + line.rsplit(" ", 1)[0] + " " + forged + "\n")


def test_it_cosigns_extensions_and_refuses_everything_else(cosigner, log, tmp_path):
    witness = make(cosigner, log, tmp_path / "state.json")
    log.grow(5)
    first = witness.add_checkpoint(log.request(0))
    assert first.status == 200 and first.body.startswith("— witness.test/w1 ")
    CosignatureVerifier.from_vkey(cosigner.vkey).verify(log.note() + first.body)
    log.grow(8)
    # The old size must be the one it cosigned: 409 with its size.
    stale = witness.add_checkpoint(log.request(0))
    assert (stale.status, stale.body, stale.content_type) == (409, "5\n", "text/x.tlog.size")
    # A wrong proof: 422.
    assert witness.add_checkpoint(log.request(5, proof=[b"\x00" * 32] * 3)).status == 422
    assert witness.add_checkpoint(log.request(5)).status == 200
    # The same size with another root (a rewritten log): 409.
    rewritten = Log()
    rewritten.signer = log.signer  # the platform's own key: only the witness's memory catches it
    rewritten.grow(13, tag=b"forged")
    assert witness.add_checkpoint(rewritten.request(13, proof=[])).status == 409
    # Another key for the same origin: 403; an unknown origin: 404; garbage: 400.
    assert witness.add_checkpoint(Log().request(13, proof=[])).status == 403
    other = Witness(cosigner, [NoteSigner("other.test/log", signing.generate_signing_key()).verifier],
                    StateFile(tmp_path / "s2.json"))
    assert other.add_checkpoint(log.request(13, proof=[])).status == 404
    assert witness.add_checkpoint(b"old 01\n\n" + log.note().encode()).status == 400
    assert witness.add_checkpoint(b"hello").status == 400
    # Old size beyond the checkpoint: 400.
    assert witness.add_checkpoint(log.request(13, size=5, proof=[])).status == 400


def test_a_truncated_log_can_no_longer_collect_a_cosignature(cosigner, log, tmp_path):
    witness = make(cosigner, log, tmp_path / "state.json")
    log.grow(20)
    assert witness.add_checkpoint(log.request(0)).status == 200
    # The platform's database is cut back to 12 entries and regrown with other ones.
    cut = Log()
    cut.signer, cut.leaves = log.signer, log.leaves[:12]
    cut.grow(10, tag=b"after-the-cut")
    refused = witness.add_checkpoint(cut.request(12))
    assert refused.status == 409 and refused.body == "20\n"  # it has seen 20: more than the cut log
    assert witness.add_checkpoint(cut.request(20, proof=merkle.consistency_proof(
        20, 22, merkle.MemoryTree(cut.leaves)))).status == 422


def test_a_restarted_witness_keeps_its_state(cosigner, log, tmp_path):
    path = tmp_path / "state.json"
    log.grow(9)
    assert make(cosigner, log, path).add_checkpoint(log.request(0)).status == 200
    restarted = make(cosigner, log, path)
    assert restarted.add_checkpoint(log.request(0)).status == 409  # it remembers size 9
    log.grow(3)
    assert restarted.add_checkpoint(log.request(9)).status == 200
    assert StateFile(path).load()[ORIGIN]["size"] == 12
    assert not (tmp_path / "state.json.tmp").exists()


def test_the_command_serves_add_checkpoint_over_http(cosigner, log, tmp_path):
    import urllib.error
    import urllib.request

    key = tmp_path / "w.pem"
    key.write_bytes(signing.signing_key_to_pem(signing.generate_signing_key(), None))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no Django anywhere
    vkey = subprocess.run([sys.executable, "-m", "witness.server", "vkey", "--name", "w.test/1", "--key", str(key)], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    server = subprocess.Popen([sys.executable, "-m", "witness.server", "serve", "--name", "w.test/1", "--key", str(key), "--state",
                                         str(tmp_path / "st.json"), "--log", log.signer.vkey, "--port", "0"],
                              env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split(" listening on ")[1].strip() + "add-checkpoint"
        log.grow(4)
        with urllib.request.urlopen(urllib.request.Request(url, data=log.request(0)), timeout=10) as r:
            line = r.read().decode()
        assert CosignatureVerifier.from_vkey(vkey).verify(log.note() + line)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=log.request(0)), timeout=10)
        assert refused.value.code == 409 and refused.value.read() == b"4\n"
    finally:
        server.terminate()
        server.wait(10)
