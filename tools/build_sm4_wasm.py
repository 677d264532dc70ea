"""Build OpenSSL's SM4 and GCM to WebAssembly, reproducibly, for the browser's SM4 workers.

The browser seals gm-v1 chunks (SM4-GCM) with ``frontend/static/frontend/crypto/sm4_wasm.js``,
which runs ``frontend/static/vendor/openssl-sm4-gcm-3.0.20/sm4gcm.wasm``: OpenSSL's own C —
``crypto/sm4/sm4.c`` (the T-table SM4), ``crypto/modes/gcm128.c`` (GCM, 4-bit-table GHASH) and,
for its ``CRYPTO_memcmp`` tag check, ``crypto/cpuid.c`` — and our thin shim
``tools/sm4_wasm/sm4gcm.c`` (set a key, seal or open one chunk in the module's memory). The
tiny headers in ``tools/sm4_wasm/include/`` stand in for the parts of OpenSSL's headers that
Configure generates or that bring the rest of the library; each says what it replaces.

    python -m tools.build_sm4_wasm --fetch   # apt-get source --download-only openssl=3.0.20-1~deb12u2
    python -m tools.build_sm4_wasm           # build, write the .wasm and its record in vendor.json
    python -m tools.build_sm4_wasm --source PATH/openssl_3.0.20.orig.tar.gz

The source is OpenSSL's release tarball as Debian ships it (``openssl_3.0.20.orig.tar.gz``, the
upstream tarball, signed by OpenSSL: its ``.asc`` comes with it), refused unless its SHA-256 is
``SOURCE_SHA256``; only the members in ``MEMBERS`` are read. The compiler is Debian's clang 14 and
lld 14 (``apt-get install clang lld``), refused if another version; the flags are fixed
(``CFLAGS``, ``LDFLAGS``), the build runs in a temporary folder with relative paths and strips
every custom section, so the bytes depend only on the source, the shim and the compiler: the same
bytes on every machine with those (``tests/documents/test_sm4_wasm_build.py`` rebuilds and compares).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "tools" / "sm4_wasm"
VENDOR = ROOT / "frontend" / "static" / "vendor"
RECORD = VENDOR / "vendor.json"

NAME = "openssl-sm4-gcm"
VERSION = "3.0.20"
DIR = f"{NAME}-{VERSION}"
WASM = "sm4gcm.wasm"
SOURCE_FILE = "openssl_3.0.20.orig.tar.gz"
SOURCE_SHA256 = "c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f"
DEBIAN_VERSION = "3.0.20-1~deb12u2"
FETCH = f"apt-get source --download-only openssl={DEBIAN_VERSION}"
PREFIX = "openssl-3.0.20/"
SOURCES = ["crypto/sm4/sm4.c", "crypto/modes/gcm128.c", "crypto/cpuid.c"]
MEMBERS = SOURCES + ["include/crypto/sm4.h", "include/crypto/modes.h", "include/internal/endian.h",
                     "LICENSE.txt"]
CLANG, WASM_LD = "clang-14", "wasm-ld-14"
COMPILER = "Debian clang version 14.0.6"
LINKER = "Debian LLD 14.0.6"
CFLAGS = ["--target=wasm32-unknown-unknown", "-O2", "-nostdlib", "-mbulk-memory",
          "-DOPENSSL_NO_ASM", "-DOPENSSL_NO_OCB", "-DOPENSSL_NO_SIV", "-Wall", "-Werror",
          "-Ishim/include", "-Iopenssl/include"]
LDFLAGS = ["--no-entry", "--strip-all", "-z", "stack-size=65536", "--stack-first"]
EXPORTS = ["memory", "sm4gcm_heap_base", "sm4gcm_set_key", "sm4gcm_block", "sm4gcm_clear", "sm4gcm_seal",
           "sm4gcm_open"]
CACHE = Path(os.environ.get("KAIBIAO_SRC_CACHE", Path.home() / ".cache" / "kaibiao" / "src"))
WHY = ("SM4-GCM of gm-v1 chunks in the browser's SM4 workers (crypto/sm4_wasm.js, only in "
       "sm4_worker.js): OpenSSL's own SM4 (T-table) and GCM (4-bit GHASH) compiled to WebAssembly "
       "by tools/build_sm4_wasm.py, about twice sm-crypto-v2's SM4-GCM in JavaScript; sm-crypto-v2 "
       "stays the fallback")


class BuildError(SystemExit):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shim_files() -> dict[str, str]:
    """The shim and its headers, as ``{path from the repository root: SHA-256}``."""
    return {p.relative_to(ROOT).as_posix(): _sha256(p.read_bytes())
            for p in sorted(SHIM.rglob("*")) if p.is_file() and p.suffix in (".c", ".h")}


def find_source(explicit: str | os.PathLike | None = None) -> Path | None:
    """The source tarball: ``explicit``, ``$KAIBIAO_OPENSSL_SOURCE``, or the one ``--fetch`` put in
    the cache (``$KAIBIAO_SRC_CACHE``, by default ``~/.cache/kaibiao/src``); None if none is there."""
    for candidate in (explicit, os.environ.get("KAIBIAO_OPENSSL_SOURCE"), CACHE / SOURCE_FILE):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def fetch(apt_get: str) -> Path:
    """Download the Debian source package of OpenSSL 3.0.20 into the cache with ``apt-get source
    --download-only`` (needs a ``deb-src`` line for bookworm in apt's sources) and check it. If the
    archive no longer has Debian revision ``DEBIAN_VERSION``, the current ``openssl`` source is
    asked for: a later 3.0.20-1~deb12uN carries the same upstream tarball (checked by its SHA-256),
    and a later upstream release is refused (its tarball is another file)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    pinned = subprocess.run([apt_get, "source", "--download-only", f"openssl={DEBIAN_VERSION}"], cwd=CACHE)
    if pinned.returncode != 0:
        subprocess.run([apt_get, "source", "--download-only", "openssl"], cwd=CACHE, check=True)
    path = CACHE / SOURCE_FILE
    if not path.is_file():
        raise BuildError(f"apt-get source brought no {SOURCE_FILE} (a later OpenSSL?): pass --source")
    check_source(path.read_bytes())
    return path


def check_source(data: bytes) -> None:
    digest = _sha256(data)
    if digest != SOURCE_SHA256:
        raise BuildError(f"{SOURCE_FILE}: SHA-256 {digest} is not the pinned {SOURCE_SHA256}: refusing it")


def _version(tool: str, expected: str) -> str:
    line = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    if not line.startswith(expected):
        raise BuildError(f"{tool}: {line!r} is not the pinned {expected} (apt-get install clang lld on Debian 12)")
    return line.strip()


def _check_module(wasm: bytes) -> None:
    """The module imports nothing (no libc, no host function) and exports exactly ``EXPORTS``."""
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise BuildError("not a WebAssembly module")

    def leb(at: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = wasm[at]
            value |= (byte & 0x7F) << shift
            at, shift = at + 1, shift + 7
            if byte < 0x80:
                return value, at

    at, exports = 8, []
    while at < len(wasm):
        section, at = wasm[at], at + 1
        size, at = leb(at)
        if section == 2:
            raise BuildError("the module imports something: a function the shim or OpenSSL needs is missing")
        if section == 7:
            count, p = leb(at)
            for _ in range(count):
                n, p = leb(p)
                exports.append(wasm[p:p + n].decode())
                p += n + 1
                _, p = leb(p)
        at += size
    if exports != EXPORTS:
        raise BuildError(f"the module exports {exports}, not {EXPORTS}")


def build(source: Path, clang: str, wasm_ld: str) -> tuple[bytes, dict]:
    """Compile the module from ``source`` with the given clang and wasm-ld: (its bytes, its record)."""
    data = source.read_bytes()
    check_source(data)
    compiler, linker = _version(clang, COMPILER), _version(wasm_ld, LINKER)
    members = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with tarfile.open(source) as tar:
            for name in MEMBERS:
                member = tar.getmember(PREFIX + name)
                if not member.isfile():
                    raise BuildError(f"{name} is not a regular file in {SOURCE_FILE}")
                content = tar.extractfile(member).read()
                members[name] = _sha256(content)
                (work / "openssl" / name).parent.mkdir(parents=True, exist_ok=True)
                (work / "openssl" / name).write_bytes(content)
        shutil.copytree(SHIM, work / "shim", ignore=shutil.ignore_patterns("__pycache__"))
        objects = []
        for src in [f"openssl/{s}" for s in SOURCES] + ["shim/sm4gcm.c"]:
            obj = src.replace("/", "_").removesuffix(".c") + ".o"
            subprocess.run([clang, *CFLAGS, "-c", src, "-o", obj], cwd=work, check=True)
            objects.append(obj)
        subprocess.run([wasm_ld, *LDFLAGS, *objects, "-o", WASM], cwd=work, check=True)
        wasm = (work / WASM).read_bytes()
        license_text = (work / "openssl" / "LICENSE.txt").read_bytes()
    _check_module(wasm)
    record = {
        "name": NAME, "version": VERSION, "license": "Apache-2.0", "dir": DIR, "why": WHY,
        "source": {"file": SOURCE_FILE, "sha256": SOURCE_SHA256, "fetch": FETCH,
                   "signature": f"{SOURCE_FILE}.asc (OpenSSL's, fetched with it)", "members": members},
        "compiler": compiler, "linker": linker,
        "cflags": CFLAGS, "ldflags": LDFLAGS, "shim": shim_files(),
        "files": {WASM: _sha256(wasm), "LICENSE.txt": _sha256(license_text)},
        "license_file": "LICENSE.txt",
    }
    return wasm, {"record": record, "license": license_text}


def write(wasm: bytes, built: dict) -> None:
    folder = VENDOR / DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / WASM).write_bytes(wasm)
    (folder / "LICENSE.txt").write_bytes(built["license"])
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    record["builds"] = [b for b in record.get("builds", []) if b["name"] != NAME] + [built["record"]]
    RECORD.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help=f"the path of {SOURCE_FILE}")
    parser.add_argument("--fetch", action="store_true", help=f"only fetch the source ({FETCH}) into {CACHE}")
    args = parser.parse_args(argv)
    if args.fetch:
        apt_get = shutil.which("apt-get") or sys.exit("apt-get not found")
        print(fetch(apt_get))
        return 0
    source = find_source(args.source)
    if source is None:
        sys.exit(f"{SOURCE_FILE} not found: run `python -m tools.build_sm4_wasm --fetch` or pass --source")
    tools = [shutil.which(t) for t in (CLANG, WASM_LD)]
    if None in tools:
        sys.exit(f"{CLANG} and {WASM_LD} are needed: apt-get install clang lld")
    wasm, built = build(source, *tools)
    write(wasm, built)
    print(f"{DIR}/{WASM}: {len(wasm)} bytes, SHA-256 {built['record']['files'][WASM]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
