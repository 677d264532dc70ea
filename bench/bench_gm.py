"""国密 envelope throughput: sealing and opening ``tender-envelope/gm-v1`` (SM4-GCM chunks, SM2 wrap)
on one core, against ``openssl speed -evp sm4-gcm`` measured in the same run (this OpenSSL CLI has
no SM4-GCM, so SM4-CTR, the same block cipher without the GHASH, is the reference then). Goal
(issue 14): a ratio of at least 0.6. And the peak RSS of a process that seals and opens a file,
for two file sizes: it must not grow with the size.

Run: ``python -m bench.bench_gm``. Data is generated on the fly; the RSS runs write a temporary
envelope, removed afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_envelope import MiB, Sink, Source
from crypto import envelope, gm

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SIZES = [64 * MiB, 256 * MiB]
RSS_SIZES = [16 * MiB, 512 * MiB]
REPEAT = 3
IDS = dict(tender_id="ZB-BENCH", lot_id="01", bidder_id="91320100BENCH0000X")


def openssl_mib_s() -> tuple[str, float]:
    for cipher in ("sm4-gcm", "sm4-ctr"):
        proc = subprocess.run(["openssl", "speed", "-seconds", "3", "-bytes", str(MiB), "-evp", cipher],
                              capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.lower().startswith(cipher)]
        if proc.returncode == 0 and lines:
            kbytes = float(re.findall(r"([\d.]+)k", lines[-1])[-1])
            return cipher, kbytes * 1000 / MiB
    raise RuntimeError("openssl speed knows neither sm4-gcm nor sm4-ctr")


def library_sm4_gcm_mib_s(size: int = 64 * MiB) -> float:
    """``cryptography``'s own SM4-GCM, one shot over ``size`` bytes: what the envelope is built on,
    so the envelope's own cost is the difference."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    data, best = os.urandom(size), 0.0
    for _ in range(REPEAT):
        start = time.perf_counter()
        enc = Cipher(algorithms.SM4(os.urandom(16)), modes.GCM(os.urandom(12))).encryptor()
        enc.update(data)
        enc.finalize()
        best = max(best, size / MiB / (time.perf_counter() - start))
    return best


def measure(size: int, key: gm.SM2PrivateKey) -> dict:
    recipients = [envelope.Recipient("bidder", key.public)]
    start = time.perf_counter()
    envelope.seal(Source(size), Sink(), recipients=recipients, suite="gm", **IDS)
    seal_s = time.perf_counter() - start
    with tempfile.NamedTemporaryFile(suffix=".tenv") as tmp:
        with open(tmp.name, "wb") as out:
            envelope.seal(Source(size), out, recipients=recipients, suite="gm", **IDS)
        with open(tmp.name, "rb") as f:
            file_key = envelope.unwrap_file_key(envelope.read_header(f), key)
        with open(tmp.name, "rb", buffering=MiB) as f:
            start = time.perf_counter()
            envelope.open_envelope(f, Sink(), file_key=file_key)
            open_s = time.perf_counter() - start
    return {"size_mib": size // MiB, "seal_mib_s": round(size / MiB / seal_s, 1),
            "open_mib_s": round(size / MiB / open_s, 1)}


def one_rss(size: int) -> int:
    """In a fresh process: seal ``size`` bytes to a file and open it; print the peak RSS (KiB)."""
    key = gm.generate_sm2_key()
    with tempfile.NamedTemporaryFile(suffix=".tenv") as tmp:
        with open(tmp.name, "wb") as out:
            envelope.seal(Source(size), out, recipients=[envelope.Recipient("bidder", key.public)],
                          suite="gm", **IDS)
        with open(tmp.name, "rb") as f:
            file_key = envelope.unwrap_file_key(envelope.read_header(f), key)
        with open(tmp.name, "rb") as f:
            envelope.open_envelope(f, Sink(), file_key=file_key)
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak at fork.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_kib(size: int) -> int:
    out = subprocess.run([sys.executable, "-m", "bench.bench_gm", "--rss", str(size)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def main() -> dict:
    key = gm.generate_sm2_key()
    cipher, openssl = openssl_mib_s()
    cases = []
    for size in SIZES:
        runs = [measure(size, key) for _ in range(REPEAT)]
        cases.append({"size_mib": size // MiB, "seal_mib_s": max(r["seal_mib_s"] for r in runs),
                      "open_mib_s": max(r["open_mib_s"] for r in runs)})
    openssl = max(openssl, openssl_mib_s()[1])
    library = library_sm4_gcm_mib_s()
    for case in cases:
        case["seal_ratio"] = round(case["seal_mib_s"] / openssl, 3)
        case["open_ratio"] = round(case["open_mib_s"] / openssl, 3)
        case["seal_vs_library"] = round(case["seal_mib_s"] / library, 3)
        case["open_vs_library"] = round(case["open_mib_s"] / library, 3)
    rss = {str(size // MiB): rss_kib(size) for size in RSS_SIZES}
    result = {"bench": "gm", "openssl_cipher": cipher, "openssl_mib_s": round(openssl, 1), "goal_ratio": 0.6,
              "library_sm4_gcm_mib_s": round(library, 1), "loadavg": list(os.getloadavg()),
              "goal_met": all(min(c["seal_ratio"], c["open_ratio"]) >= 0.6 for c in cases),
              "openssl_cli": subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip(),
              "cases": cases, "peak_rss_kib_by_file_mib": rss,
              "rss_flat": max(rss.values()) - min(rss.values()) < 16 * 1024,
              "cpu": platform.processor() or platform.machine(),
              "note": "best of 3 runs each; openssl best of 2 (before and after); 1 MiB chunks; "
                      "RSS: a fresh process seals to a temporary file and opens it",
              "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gm.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


run = main  # bench.run_all calls run()

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss":
        print(one_rss(int(sys.argv[2])))
    else:
        main()
