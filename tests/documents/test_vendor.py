"""The vendored browser modules are exactly what their packages published (tools/vendor_js.py)."""

from __future__ import annotations

import shutil

from tools import vendor_js


def test_the_vendored_files_are_the_recorded_ones():
    assert vendor_js.check() == []


def test_each_vendored_package_names_its_version_licence_and_integrity():
    for pkg in vendor_js.load()["packages"]:
        assert pkg["version"] and pkg["license"] and pkg["integrity"].startswith("sha512-")
        # The licence's text travels with the files: its own LICENSE, or (a package without one)
        # the file whose header carries it.
        license_file = pkg.get("license_file", "LICENSE")
        assert license_file in pkg["files"] and pkg["dir"].endswith(pkg["version"])
        text = (vendor_js.VENDOR / pkg["dir"] / license_file).read_text(encoding="utf-8")[:3000]
        assert f"{pkg['license']} License" in text or "Permission is hereby granted" in text


def test_the_check_finds_an_edited_a_missing_and_an_added_file(tmp_path):
    shutil.copytree(vendor_js.VENDOR, tmp_path / "vendor")
    folder = tmp_path / "vendor" / "hash-wasm-4.13.0"
    wasm = folder / "dist" / "sha256.umd.min.js"  # one byte of the embedded WebAssembly (base64)
    wasm.write_bytes(wasm.read_bytes().replace(b'data:"AGFzbQEAAAAB', b'data:"AGFzbQEAAAAC', 1))
    (folder / "LICENSE").unlink()
    (folder / "extra.js").write_text("export {};")
    problems = vendor_js.check(vendor_dir=tmp_path / "vendor")
    assert problems == ["hash-wasm: LICENSE is missing",
                        "hash-wasm: dist/sha256.umd.min.js differs from 4.13.0 as published",
                        "hash-wasm: extra.js is not part of the record"]


def test_a_tarball_that_is_not_the_recorded_one_is_refused(tmp_path, monkeypatch):
    import pytest

    monkeypatch.setattr(vendor_js, "VENDOR", tmp_path)
    pkg = vendor_js.load()["packages"][0]
    with pytest.raises(SystemExit, match="refusing it"):
        vendor_js.vendor(pkg, b"not the package")
    assert not (tmp_path / pkg["dir"]).exists()
