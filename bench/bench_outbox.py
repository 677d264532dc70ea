"""Outbox and open-data benchmarks (issue 17).

(a) 10,000 events queued for 100 tenders, then delivered by one process (``exchange.delivery``:
    RFC 9421-signed pushes, one kept-alive HTTP connection, batches of 100) to a local receiver in
    another process that verifies every signature with the public key and keeps each idempotency
    key once. Figures: queueing rate, delivery throughput, the oldest event's lag (queued → its
    delivery committed), every event kept exactly once.
(b) OCDS export of 1,000 generated tenders at every stage (``manage.py export_ocds``: the record
    package, streamed): seconds and size.
Run: ``nice -n 10 python -m bench.bench_outbox``. Needs PostgreSQL at ``BENCH_OUTBOX_DATABASE_URL``
(default postgres://postgres@127.0.0.1:5432/kaibiao_outbox_bench, dropped and created here).
Figures in bench/results/outbox.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PY, ROOT, free_port, loadavg, save, wait_port

DB_URL = os.environ.get("BENCH_OUTBOX_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kaibiao_outbox_bench")
EVENTS, TENDERS, OCDS_TENDERS = 10_000, 100, 1_000

RECEIVER = r"""
import json, sys, time, base64
from http.server import BaseHTTPRequestHandler, HTTPServer
from crypto.httpsig import verify_request
key = base64.b64decode(sys.argv[2]); kept = set(); pushes = [0]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/stats":
            out = json.dumps({"kept": len(kept), "pushes": pushes[0]}).encode()
        else:
            verify_request(key, method="POST", target_uri=f"http://127.0.0.1:{sys.argv[1]}{self.path}",
                           headers=dict(self.headers.items()), body=body, now=int(time.time()), max_age=3600)
            kept.add(self.headers["Idempotency-Key"]); pushes[0] += 1; out = b""
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def fresh_database() -> None:
    name = DB_URL.rsplit("/", 1)[1]
    admin = DB_URL.rsplit("/", 1)[0] + "/postgres"
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)


def main() -> None:
    fresh_database()
    var = Path(tempfile.mkdtemp(prefix="kb-outbox-bench-"))
    port = free_port()
    os.environ.update(DATABASE_URL=DB_URL, DJANGO_SETTINGS_MODULE="config.settings", KAIBIAO_VAR_DIR=str(var),
                      EXCHANGE_ENDPOINTS=json.dumps([{"name": "bench", "url": f"http://127.0.0.1:{port}/events"}]))
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    from common import clock
    from exchange import keys
    from exchange.delivery import Sender, deliver_all
    from exchange.events import emit
    from exchange.models import Delivery

    import base64

    receiver = subprocess.Popen([PY, "-c", RECEIVER, str(port), base64.b64encode(keys.public_key()).decode()],
                                cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        wait_port(port)
        t0 = time.perf_counter()
        for start in range(0, EVENTS, 500):
            with transaction.atomic():
                for i in range(start, start + 500):
                    emit("tender.amended", tender_id=i % TENDERS + 1, now=clock.now(),
                         payload={"number": i // TENDERS + 1, "reason": "澄清", "changes": {"bid_deadline": ["a", "b"]}})
        queued = time.perf_counter() - t0
        sender = Sender()
        t1 = time.perf_counter()
        while Delivery.objects.filter(state="pending").exists():
            deliver_all(now=clock.now(), sender=sender, limit=100)
        delivered = time.perf_counter() - t1
        sender.close()
        lags = sorted((d.delivered_at - d.event.created_at).total_seconds()
                      for d in Delivery.objects.select_related("event"))
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("POST", "/stats", body=b"")
        stats = json.loads(conn.getresponse().read())
    finally:
        receiver.terminate()
        receiver.wait()

    from exchange.management.commands.export_ocds import export
    from exchange.testing import generate

    t2 = time.perf_counter()
    generate(OCDS_TENDERS, tag="BENCH")
    generated = time.perf_counter() - t2
    out = var / "records.json"
    t3 = time.perf_counter()
    count = export(str(out))
    exported = time.perf_counter() - t3
    data = {
        "machine": {"loadavg": loadavg(), "database": "postgresql"},
        "outbox": {"events": EVENTS, "tenders": TENDERS, "queue_seconds": round(queued, 2),
                   "queue_per_second": round(EVENTS / queued), "deliver_seconds": round(delivered, 2),
                   "delivered_per_second": round(EVENTS / delivered), "kept_by_receiver": stats["kept"],
                   "pushes": stats["pushes"], "oldest_event_lag_seconds": round(lags[-1], 2),
                   "median_lag_seconds": round(lags[len(lags) // 2], 2)},
        "ocds_export": {"tenders": count, "generate_seconds": round(generated, 2), "export_seconds": round(exported, 2),
                        "tenders_per_second": round(count / exported), "bytes": out.stat().st_size},
    }
    print(json.dumps(data, indent=2, ensure_ascii=False))
    print("saved", save("outbox", data))


if __name__ == "__main__":
    sys.exit(main())
