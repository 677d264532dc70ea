"""Fuzzing the offline archive verifier (crypto/archive.py, docs/archive.md): a real exported
archive (a whole log, and a tender's), its members edited — bytes flipped, lines dropped,
duplicated or swapped, JSON values replaced by arbitrary JSON — and re-packed with every hash fixed
and the manifest re-signed with the platform's own key (an insider's forgery, which reaches every
parser behind the signature). ``verify_archive`` either verifies or raises ``ArchiveError`` (its
``NotVerified`` included), never anything else; random bytes are never an archive."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import IN_CI
from hypothesis import strategies as st

from crypto.archive import ArchiveError, verify_archive
from tests.audit.test_archive import repack
from tests.audit.test_archive_tender import tender  # noqa: F401 - the fixture

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
FUZZ = settings(max_examples=60, deadline=None, derandomize=IN_CI, database=None,
                suppress_health_check=list(HealthCheck))


def check(data: bytes, vkey: str) -> None:
    try:
        verify_archive(io.BytesIO(data), vkey=vkey)
    except ArchiveError as exc:
        # The verifier's last line of defence turns an unforeseen shape into an ArchiveError too;
        # reaching it means a check is missing that would have named the problem.
        assert not str(exc).startswith("the archive is malformed"), exc


def _edit_line(line: bytes, key: str, value) -> bytes:
    try:
        item = json.loads(line)
    except ValueError:
        return line
    if isinstance(item, dict):
        keys = sorted(item) or [key]
        item[keys[hash(key) % len(keys)]] = value
    else:
        item = value
    return (json.dumps(item) + "\n").encode()


EDIT = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("drop"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("duplicate"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("swap"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("value"), st.integers(0, 10**6), st.tuples(st.text(max_size=6), JSON)),
)


def edited(content: bytes, kind: str, at: int, arg) -> bytes:
    lines = content.splitlines(keepends=True)
    if not lines:
        return content + b"x"
    n = at % len(lines)
    if kind == "flip":
        data = bytearray(content)
        data[at % len(data)] ^= arg
        return bytes(data)
    if kind == "drop":
        return b"".join(lines[:n] + lines[n + 1:])
    if kind == "duplicate":
        return b"".join(lines[:n + 1] + lines[n:])
    if kind == "swap":
        m = (n + 1) % len(lines)
        lines[n], lines[m] = lines[m], lines[n]
        return b"".join(lines)
    return b"".join(lines[:n] + [_edit_line(lines[n], *arg)] + lines[n + 1:])


def members(data: bytes) -> list[str]:
    return sorted(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist()
                  if n not in ("archive.json", "archive.sig"))


@pytest.mark.django_db
def test_edited_and_resigned_archives_verify_or_raise_archive_error(tender):  # noqa: F811
    from audit.archive import export_archive
    from audit.keys import platform_vkey

    vkey = platform_vkey()
    whole = io.BytesIO()
    export_archive(whole)
    archives = [tender[2], whole.getvalue()]
    for data in archives:
        verify_archive(io.BytesIO(data), vkey=vkey)  # the unedited archive verifies
    names = [(i, n) for i, data in enumerate(archives) for n in members(data)]

    @given(st.sampled_from(names), st.lists(EDIT, min_size=1, max_size=3), st.booleans())
    @FUZZ
    def run(which, edits, resign):
        index, name = which
        data = archives[index]

        def change(content):
            for edit in edits:
                content = edited(content, *edit)
            return content

        check(repack(data, {name: change}, signer="platform" if resign else None), vkey)

    run()


@given(st.binary(max_size=3000))
@settings(max_examples=100, deadline=None, derandomize=IN_CI)
def test_random_bytes_are_not_an_archive(data):
    with pytest.raises(ArchiveError):
        verify_archive(io.BytesIO(data), vkey="kaibiao.local/audit+00000000+" + "A" * 44)


@given(st.dictionaries(st.sampled_from(["archive.json", "archive.sig", "log/checkpoints.jsonl",
                                        "log/entries.jsonl", "log/consistency.jsonl"]),
                       st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode())))
@settings(max_examples=100, deadline=None, derandomize=IN_CI)
def test_zips_of_arbitrary_members_are_not_an_archive(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    with pytest.raises(ArchiveError):
        verify_archive(io.BytesIO(out.getvalue()), vkey="kaibiao.local/audit+00000000+" + "A" * 44)
