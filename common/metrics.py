"""What an operator watches during an opening, as Prometheus metrics (docs/operations.md, "Metrics").

The definitions live here, below every layer, so realtime, bidding and the ticker count without
importing each other; ``/metrics`` (``config/metrics.py``) exposes them with the figures it reads
from the database at scrape time (audit sequencing lag, checkpoint age).

With ``PROMETHEUS_MULTIPROC_DIR`` set (production: the workers and the ticker share one directory,
emptied when the stack starts), prometheus_client writes each process's values to files there and
the endpoint sums them, so whichever worker answers the scrape reports all of them. Gauges of one
worker carry its ``pid`` label (``liveall``: only live processes), the ticker's heartbeat is the
latest of any (``max``). Without the variable (tests, a first run) the values stay in the process.
"""

from __future__ import annotations

import atexit
import os

from prometheus_client import Counter, Gauge, Histogram

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# --- realtime (each worker) --------------------------------------------------------------------
SOCKETS = Gauge("kaibiao_websocket_connections", "Open WebSocket connections of this worker",
                multiprocess_mode="liveall")
ROOM_SOCKETS = Gauge("kaibiao_room_sockets", "Sockets joined to rooms of this kind in this worker",
                     ["kind"], multiprocess_mode="liveall")
PUSH_LATENCY = Histogram(
    "kaibiao_push_latency_seconds",
    "From an event's commit timestamp to its frame handed to every local member's socket",
    ["kind"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SEND_BACKLOG = Gauge("kaibiao_send_backlog_bytes",
                     "Bytes queued for sockets that have not taken them yet (sum and largest)",
                     ["stat"], multiprocess_mode="liveall")
JOINS = Counter("kaibiao_room_joins_total", "Room joins by how the client caught up", ["mode"])
REPLAYED = Counter("kaibiao_replayed_events_total", "Events replayed from the room log at joins and repairs")
RESYNCS = Counter("kaibiao_resyncs_total", "Resync notices sent (the client takes a snapshot)", ["reason"])

# --- bids and the opening ----------------------------------------------------------------------
UPLOAD_BYTES = Counter("kaibiao_upload_bytes_total", "Bytes of sealed bids written by upload chunks")
UPLOAD_FAILURES = Counter("kaibiao_upload_failures_total", "Refused upload requests by error code",
                          ["code"])
BODIES_REFUSED = Counter("kaibiao_request_bodies_refused_total",
                        "Request bodies refused at the edge (413) by error code and where",
                        ["code", "edge"])
DECRYPTION_FAILURES = Counter("kaibiao_decryption_failures_total",
                              "Failed decryptions at openings, by error code and whose fault",
                              ["code", "fault"])

SIGNING_FAILURES = Counter("kaibiao_signing_failures_total",
                           "Signatures of the platform's HSM-held key whose first attempt failed: "
                           "recovered by a reset of the token's module, or unavailable (refused)",
                           ["key", "outcome"])

# --- the ticker and time -----------------------------------------------------------------------
TICKER_HEARTBEAT = Gauge("kaibiao_ticker_heartbeat_timestamp_seconds",
                         "Unix time of the last completed ticker round", multiprocess_mode="max")
TIMERS_HELD = Counter("kaibiao_timers_held_total",
                      "Ticker rounds that applied no deadline because the clock is unsynchronised")
CLOCK_STATE = Gauge("kaibiao_clock_synchronised",
                    "1 synchronised, 0 known unsynchronised beyond CLOCK_MAX_OFFSET_MS, -1 unknown",
                    multiprocess_mode="liveall")
CLOCK_OFFSET = Gauge("kaibiao_clock_offset_seconds", "The clock's offset from its time source, when known",
                     multiprocess_mode="liveall")


def room_kind(key: str) -> str:
    """The label of a room key: its kind only (``hall:42`` → ``hall``), so the series stay few."""
    return key.split(":", 1)[0]


if MULTIPROCESS:
    def _dead() -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())

    atexit.register(_dead)
