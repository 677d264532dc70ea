"""OpenSSL's SM4-GCM in WebAssembly (tools/build_sm4_wasm.py) is what its record says, and rebuilding
it from the pinned source with the pinned compiler gives the committed bytes."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import need_service, need_tool
from tools import build_sm4_wasm as b
from tools import vendor_js


def committed() -> dict:
    [entry] = [e for e in vendor_js.load().get("builds", []) if e["name"] == b.NAME]
    return entry


def test_the_record_names_the_pinned_source_compiler_flags_and_shim():
    entry = committed()
    assert entry["source"]["sha256"] == b.SOURCE_SHA256 and entry["source"]["fetch"] == b.FETCH
    assert set(entry["source"]["members"]) == set(b.MEMBERS)
    assert entry["compiler"].startswith(b.COMPILER) and entry["linker"].startswith(b.LINKER)
    assert entry["cflags"] == b.CFLAGS and entry["ldflags"] == b.LDFLAGS
    assert entry["shim"] == b.shim_files(), "the shim changed: rebuild (python -m tools.build_sm4_wasm)"
    assert set(entry["files"]) == {b.WASM, "LICENSE.txt"} and entry["license"] == "Apache-2.0"
    text = (vendor_js.VENDOR / entry["dir"] / "LICENSE.txt").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0" in text
    b._check_module((vendor_js.VENDOR / entry["dir"] / b.WASM).read_bytes())  # no import, the exports


def test_rebuilding_from_the_pinned_source_gives_the_committed_bytes():
    clang, wasm_ld = need_tool(b.CLANG), need_tool(b.WASM_LD)
    source = b.find_source()
    if source is None:
        need_service(b.SOURCE_FILE, f"run `python -m tools.build_sm4_wasm --fetch` ({b.FETCH})")
    wasm, built = b.build(source, clang, wasm_ld)
    entry = committed()
    assert wasm == (vendor_js.VENDOR / entry["dir"] / b.WASM).read_bytes()
    assert built["record"] == entry


def test_a_source_that_is_not_the_pinned_one_is_refused_before_anything_runs(tmp_path):
    fake = tmp_path / b.SOURCE_FILE
    fake.write_bytes(b"not openssl")
    with pytest.raises(b.BuildError, match="not the pinned"):
        b.build(fake, "/nonexistent/clang", "/nonexistent/wasm-ld")


def test_the_check_finds_a_changed_module_and_a_changed_shim(tmp_path, monkeypatch):
    shutil.copytree(vendor_js.VENDOR, tmp_path / "vendor")
    shutil.copytree(b.SHIM, tmp_path / "tools" / "sm4_wasm")
    monkeypatch.setattr(vendor_js, "ROOT", tmp_path)
    assert vendor_js.check(vendor_dir=tmp_path / "vendor") == []
    wasm = tmp_path / "vendor" / b.DIR / b.WASM
    data = bytearray(wasm.read_bytes())
    data[-1] ^= 1
    wasm.write_bytes(bytes(data))
    shim = tmp_path / "tools" / "sm4_wasm" / "sm4gcm.c"
    shim.write_text(shim.read_text() + "\n")
    assert vendor_js.check(vendor_dir=tmp_path / "vendor") == [
        f"{b.NAME}: {b.WASM} differs from {b.VERSION} as published",
        f"{b.NAME}: tools/sm4_wasm/sm4gcm.c changed since the build (python -m tools.build_sm4_wasm)"]
