"""``sealbid`` end to end against a live Daphne for what issue 14 adds: a 国密 tender (keygen --suite
gm → SM2 CSR → approval → key-check → seal (gm-v1) → submit, a P-256 key refused for it), and a key
on a PKCS#11 token (SoftHSM2) for an international tender: keygen, CSR, key-check and sealing
through the token, a wrong PIN, and the token pulled out and put back."""

from __future__ import annotations

import json
import subprocess
import urllib.error

import pytest

from crypto import envelope
from tests.sealbid import test_sealbid_live as live

GM_SETUP = live.PEOPLE + """
project = Project.objects.create(code="ZB-2026-GM01", title="国密工程", tenderee=agency, agency=agency)
lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=deadline,
                         signin_opens_at=deadline, status="published", cipher_suite="gm")
intl = Lot.objects.create(project=project, code="02", title="监理", bid_deadline=deadline,
                          signin_opens_at=deadline, status="published")
print(json.dumps({"lot": lot.pk, "credit_code": co.credit_code, "intl_lot": intl.pk,
                  "bob_credit_code": bob_co.credit_code, "bob": ApiToken.issue(bob, "cli")[1],
                  "alice": ApiToken.issue(alice, "cli")[1], "host": ApiToken.issue(host, "ui")[1]}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from live.serve(tmp_path_factory, GM_SETUP)


def test_a_gm_bid_through_sealbid(server, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("正确的密码 horse\n")
    p256 = tmp_path / "p256.json"
    key = tmp_path / "sm2.json"
    assert live.sealbid(server, "keygen", "--out", str(p256), "--password-file", str(pw),
                        "--iterations", "100000").returncode == 0
    r = live.sealbid(server, "keygen", "--suite", "gm", "--out", str(key), "--password-file", str(pw),
                     "--iterations", "100000")
    assert r.returncode == 0, r.stderr
    assert json.loads(key.read_text())["format"] == "tender-key/sm2-v1"
    r = live.sealbid(server, "csr", "--key", str(key), "--organisation", "Alice 建设有限公司",
                     "--credit-code", server["credit_code"], "--password-file", str(pw), "--submit")
    assert r.returncode == 0, r.stderr
    pending = live.api(server, "GET", "/certificates?status=pending")
    assert [c["suite"] for c in pending] == ["gm"]
    assert live.api(server, "POST", f"/certificates/{pending[0]['id']}/approve")["status"] == "issued"
    # Before the deadline: the key that will open the bid opens a test envelope to the certificate.
    r = live.sealbid(server, "key-check", "--lot", str(server["lot"]), "--key", str(key), "--password-file", str(pw))
    assert r.returncode == 0 and "key check passed" in r.stdout, r.stderr
    r = live.sealbid(server, "key-check", "--lot", str(server["lot"]), "--key", str(p256), "--password-file", str(pw))
    assert r.returncode == 4 and "does NOT open" in r.stderr
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "商务标.txt").write_text("商务标内容\n" * 1000)
    out = tmp_path / "bid.tenv"
    fields = ["--field", "price=1234567.89", "--field", "duration_days=180", "--field", "quality=合格"]
    r = live.sealbid(server, "seal", "--lot", str(server["lot"]), "--key", str(p256), *fields,
                     "--out", str(out), str(docs))
    assert r.returncode == 4 and "cipher suite is 'gm'" in r.stderr
    r = live.sealbid(server, "seal", "--lot", str(server["lot"]), "--key", str(key), *fields,
                     "--out", str(out), str(docs))
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        assert envelope.read_header(f).version == "tender-envelope/gm-v1"
    r = live.sealbid(server, "submit", "--lot", str(server["lot"]), "--quiet", str(out))
    assert r.returncode == 0 and "receipt verified" in r.stdout, r.stderr


def test_a_key_on_a_token_through_sealbid(server, tmp_path):
    import shutil

    from tests.conftest import need_tool

    util = need_tool("softhsm2-util")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run([util, "--init-token", "--free", "--label", "bob-lock", "--pin", "123456", "--so-pin",
                    "12345678"], env={**env, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True, timeout=30)
    pin, wrong = tmp_path / "pin", tmp_path / "wrong-pin"
    pin.write_text("123456\n")
    wrong.write_text("000000\n")
    on_token = ["--pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label", "bob-lock",
                "--key-label", "bidder"]

    def run(*args, pin_file=pin):
        return live.sealbid(server, *args, *on_token, "--pin-file", str(pin_file), token="bob", extra_env=env)

    r = run("keygen")
    assert r.returncode == 0 and "generated on token" in r.stdout, r.stderr
    r = run("csr", "--organisation", "Bob 工程有限公司", "--credit-code", server["bob_credit_code"], "--submit")
    assert r.returncode == 0, r.stderr
    pending = [c for c in live.api(server, "GET", "/certificates?status=pending") if c["suite"] == "intl"]
    assert len(pending) == 1
    assert live.api(server, "POST", f"/certificates/{pending[0]['id']}/approve")["status"] == "issued"
    lot = str(server["intl_lot"])
    r = run("key-check", "--lot", lot, pin_file=wrong)
    assert r.returncode == 3 and "wrong PIN" in r.stderr
    r = run("key-check", "--lot", lot)
    assert r.returncode == 0 and "key check passed" in r.stdout, r.stderr
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "技术标.txt").write_text("技术方案\n" * 100)
    out = tmp_path / "bid.tenv"
    r = run("seal", "--lot", lot, "--field", "price=1000.00", "--field", "duration_days=90",
            "--field", "quality=合格", "--out", str(out), str(docs))
    assert r.returncode == 0, r.stderr
    r = live.sealbid(server, "submit", "--lot", lot, "--quiet", str(out), token="bob")
    assert r.returncode == 0, r.stderr
    # The lock pulled out: a clear error, nothing done; put back, the same command works.
    aside = tmp_path / "pulled-out"
    shutil.move(str(tokens), str(aside))
    tokens.mkdir()
    r = run("key-check", "--lot", lot)
    assert r.returncode == 12 and "insert it" in r.stderr, (r.returncode, r.stderr)
    shutil.rmtree(tokens)
    shutil.move(str(aside), str(tokens))
    r = run("key-check", "--lot", lot)
    assert r.returncode == 0 and "key check passed" in r.stdout, r.stderr


def test_a_company_with_both_suites_certificates_seals_each_tender_to_its_own(server, tmp_path):
    """A dual-certificate company: a P-256 and an SM2 certificate current at once (neither
    supersedes the other); `sealbid seal` and `key-check` take the tender's suite's certificate,
    and the key of the other suite is refused for it."""
    pw = tmp_path / "pw"
    pw.write_text("正确的密码 horse\n")
    made = {}
    for suite in ("intl", "gm"):
        made[suite] = tmp_path / f"{suite}.json"
        r = live.sealbid(server, "keygen", "--suite", suite, "--out", str(made[suite]), "--password-file", str(pw),
                         "--iterations", "100000")
        assert r.returncode == 0, r.stderr
        r = live.sealbid(server, "csr", "--key", str(made[suite]), "--organisation", "Alice 建设有限公司",
                         "--credit-code", server["credit_code"], "--password-file", str(pw), "--submit")
        assert r.returncode == 0, r.stderr
        pending = [c for c in live.api(server, "GET", "/certificates?status=pending") if c["suite"] == suite]
        assert live.api(server, "POST", f"/certificates/{pending[-1]['id']}/approve")["status"] == "issued"
    current = live.api(server, "GET", "/certificates/current", token="alice")
    assert sorted(c["suite"] for c in current) == ["gm", "intl"]
    with pytest.raises(urllib.error.HTTPError) as err:
        live.api(server, "GET", "/certificates/current?suite=rsa", token="alice")
    assert err.value.code == 400 and json.loads(err.value.read())["error"]["code"] == "invalid_suite"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "商务标.txt").write_text("商务标内容\n" * 100)
    fields = ["--field", "price=1000.00", "--field", "duration_days=90", "--field", "quality=合格"]
    for suite, lot in (("intl", server["intl_lot"]), ("gm", server["lot"])):
        other = made["gm" if suite == "intl" else "intl"]
        r = live.sealbid(server, "key-check", "--lot", str(lot), "--key", str(made[suite]), "--password-file", str(pw))
        assert r.returncode == 0 and "key check passed" in r.stdout, r.stderr
        r = live.sealbid(server, "key-check", "--lot", str(lot), "--key", str(other), "--password-file", str(pw))
        assert r.returncode == 4 and "does NOT open" in r.stderr
        out = tmp_path / f"bid-{suite}.tenv"
        r = live.sealbid(server, "seal", "--lot", str(lot), "--key", str(other), *fields, "--out", str(out), str(docs))
        assert r.returncode == 4 and f"cipher suite is '{suite}'" in r.stderr
        r = live.sealbid(server, "seal", "--lot", str(lot), "--key", str(made[suite]), *fields, "--out", str(out),
                         str(docs))
        assert r.returncode == 0, r.stderr
        with open(out, "rb") as f:
            version = envelope.read_header(f).version
        assert (version == "tender-envelope/gm-v1") == (suite == "gm")
        r = live.sealbid(server, "submit", "--lot", str(lot), "--quiet", str(out))
        assert r.returncode == 0 and "receipt verified" in r.stdout, r.stderr
    # Both bids stand, each sealed to its suite's current certificate.
    for lot in (server["intl_lot"], server["lot"]):
        assert live.api(server, "GET", f"/lots/{lot}/bid", token="alice")["sealed_to_current_certificate"] is True
