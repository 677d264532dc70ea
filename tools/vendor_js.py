"""Vendor third-party browser modules from the npm registry, reproducibly.

The pages load plain ES modules with no build step, so a library the browser needs is copied into
``frontend/static/vendor/<dir>/`` as the package publishes it, byte for byte, with its licence.
``frontend/static/vendor/vendor.json`` is the record: for each package its name, version, licence,
the registry's ``integrity`` of the tarball (SRI, sha512) and the SHA-256 of every file copied.

    python -m tools.vendor_js            # fetch each package (npm pack), check, copy, write the record
    python -m tools.vendor_js --check    # offline: the files on disk are exactly the recorded ones

The record's ``builds`` are files compiled here from a pinned source rather than copied from a
package (OpenSSL's SM4-GCM in WebAssembly: ``tools/build_sm4_wasm.py`` writes that entry): this
tool never fetches them, and ``--check`` covers them too — each file's SHA-256, no file beside
them, and the shim they were built from unchanged since (its SHA-256s are in the entry).

Fetching uses the ordinary client (``npm pack <name>@<version>``) and refuses a tarball whose
sha512 is not the recorded integrity; a new package or version is added to the record with
``"integrity": null`` and gets its integrity written on the first fetch (review that diff). The
result is the same files whoever runs it: nothing is built or rewritten, only extracted.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "frontend" / "static" / "vendor"
RECORD = VENDOR / "vendor.json"


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load() -> dict:
    return json.loads(RECORD.read_text(encoding="utf-8"))


def check(record: dict | None = None, vendor_dir: Path = VENDOR) -> list[str]:
    """Problems with the vendored files (empty when every file is exactly the recorded one and no
    other file lies in a package's folder)."""
    record = record or load()
    problems = []
    for pkg in record["packages"] + record.get("builds", []):
        folder = vendor_dir / pkg["dir"]
        on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        for name, digest in pkg["files"].items():
            path = folder / name
            if not path.is_file():
                problems.append(f"{pkg['name']}: {name} is missing")
            elif _sha256(path.read_bytes()) != digest:
                problems.append(f"{pkg['name']}: {name} differs from {pkg['version']} as published")
        for extra in sorted(on_disk - set(pkg["files"])):
            problems.append(f"{pkg['name']}: {extra} is not part of the record")
        for name, digest in pkg.get("shim", {}).items():
            path = ROOT / name
            if not path.is_file() or _sha256(path.read_bytes()) != digest:
                problems.append(f"{pkg['name']}: {name} changed since the build (python -m tools.build_sm4_wasm)")
    return problems


def fetch(pkg: dict, workdir: Path) -> bytes:
    spec = f"{pkg['name']}@{pkg['version']}"
    out = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", str(workdir)],
                         cwd=workdir, capture_output=True, text=True, check=True)
    filename = json.loads(out.stdout)[0]["filename"]
    return (workdir / filename).read_bytes()


def vendor(pkg: dict, tarball: bytes) -> dict:
    """Check ``tarball`` against the record and copy the recorded files out of it."""
    integrity = _sri(tarball)
    if pkg.get("integrity") not in (None, integrity):
        raise SystemExit(f"{pkg['name']}@{pkg['version']}: the tarball's integrity {integrity} is not "
                         f"the recorded {pkg['integrity']}: refusing it")
    folder = VENDOR / pkg["dir"]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        manifest = json.loads(tar.extractfile("package/package.json").read())
        if manifest.get("version") != pkg["version"] or manifest.get("license") != pkg["license"]:
            raise SystemExit(f"{pkg['name']}: package.json says {manifest.get('version')} / "
                             f"{manifest.get('license')}, the record {pkg['version']} / {pkg['license']}")
        for name in pkg["files"]:
            member = tar.getmember(f"package/{name}")
            if not member.isfile():
                raise SystemExit(f"{pkg['name']}: {name} is not a regular file in the tarball")
            data = tar.extractfile(member).read()
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files[name] = _sha256(data)
    return {**pkg, "integrity": integrity, "files": files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files on disk (offline)")
    args = parser.parse_args(argv)
    record = load()
    if not args.check:
        with tempfile.TemporaryDirectory() as tmp:
            record["packages"] = [vendor(pkg, fetch(pkg, Path(tmp))) for pkg in record["packages"]]
        RECORD.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    problems = check(record)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        for pkg in record["packages"]:
            print(f"{pkg['name']}@{pkg['version']} ({pkg['license']}, {pkg['integrity']}): "
                  f"{len(pkg['files'])} files in frontend/static/vendor/{pkg['dir']}/")
        for pkg in record.get("builds", []):
            print(f"{pkg['name']}@{pkg['version']} ({pkg['license']}, built from {pkg['source']['file']} "
                  f"sha256 {pkg['source']['sha256']}): {len(pkg['files'])} files in "
                  f"frontend/static/vendor/{pkg['dir']}/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
