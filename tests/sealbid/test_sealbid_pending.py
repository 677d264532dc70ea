"""``sealbid submit`` when the platform cannot sign the receipt (503 ``signing_unavailable``): the
completion is pending, not lost (docs/envelope.md, "A completion that could not be signed"), so
sealbid says so and asks again with backoff; after its retries it exits 7 keeping its state file,
and any other refusal is not retried. Against a stand-in for the API (the live journeys are in
test_sealbid_live.py; the server's side in tests/bidding/test_pending_completion.py)."""

from __future__ import annotations

import pytest

from sealbid import errors, upload
from sealbid.errors import CliError


class Platform:
    """Answers the upload API as the platform does; ``complete`` fails with ``failures`` first."""

    def __init__(self, failures):
        self.base = "https://platform.example"
        self.failures = list(failures)
        self.completes = 0
        self.offset = 0

    def json(self, method, path, body=None, **kwargs):
        if method == "POST" and path.endswith("/uploads"):
            return {"id": "u1"}
        return {"status": "open", "offset": self.offset, "max_chunk_bytes": 1 << 20}

    def request(self, method, path, *, data=None, headers=None, body=None):
        if method == "PATCH":
            self.offset += len(data)
            return 200, {"Upload-Offset": str(self.offset)}, {}
        assert (method, path) == ("POST", "/uploads/u1/complete")
        self.completes += 1
        if self.failures:
            code = self.failures.pop(0)
            raise CliError(f"HSM away [{code}]", errors.SERVER_ERROR if code == "signing_unavailable"
                           else errors.DEADLINE_PASSED, code=code)
        return 201, {}, {"id": "s1", "receipt": {}}


@pytest.fixture
def envelope(tmp_path, monkeypatch):
    monkeypatch.setattr(upload.time, "sleep", lambda s: None)
    path = tmp_path / "bid.tenv"
    path.write_bytes(b"sealed" * 1000)
    return path


def test_it_asks_again_while_the_platform_cannot_sign_and_says_the_bid_is_kept(envelope, capsys):
    platform = Platform(["signing_unavailable"] * 3)
    assert upload.submit(platform, 7, envelope, retries=4, progress=False) == {"id": "s1", "receipt": {}}
    assert platform.completes == 4
    err = capsys.readouterr().err
    assert err.count("the platform cannot sign now") == 3 and "kept even past the deadline" in err
    assert not upload.state_path(envelope).exists()


def test_after_its_retries_it_exits_7_and_keeps_its_state_to_run_again(envelope):
    platform = Platform(["signing_unavailable"] * 5)
    with pytest.raises(CliError) as err:
        upload.submit(platform, 7, envelope, retries=2, progress=False)
    assert err.value.exit_code == errors.SERVER_ERROR and err.value.code == "signing_unavailable"
    assert "run the same command again" in err.value.message and platform.completes == 3
    assert upload.state_path(envelope).exists()
    assert upload.submit(platform, 7, envelope, retries=2, progress=False)["id"] == "s1"  # run again


def test_another_refusal_is_not_asked_again(envelope):
    platform = Platform(["deadline_passed"])
    with pytest.raises(CliError) as err:
        upload.submit(platform, 7, envelope, retries=5, progress=False)
    assert err.value.exit_code == errors.DEADLINE_PASSED and platform.completes == 1
