"""The resident memory of this process's Chromium renderers, sampled from /proc (Linux), for the
browser tests and benchmarks that bound it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def renderer_rss() -> dict[str, int]:
    """Resident memory of this process's Chromium renderers by pid, in bytes (Linux only). A
    renderer's dedicated Workers are threads of its process, so their memory counts here."""
    me, found = str(os.getpid()), {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if b"--type=renderer" not in (entry / "cmdline").read_bytes():
                continue
            pid, rss = entry.name, 0
            while pid not in {me, "0", "1"}:  # is it a descendant of this process?
                status = (Path("/proc") / pid / "status").read_text()
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                rss = rss or int(fields["VmRSS"].split()[0]) * 1024
                pid = fields["PPid"].strip()
            if pid == me:
                found[entry.name] = rss
        except (OSError, KeyError, ValueError):
            continue
    return found


def _rss(pid: str) -> int | None:
    try:
        for line in (Path("/proc") / pid / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class PeakSampler(threading.Thread):
    """The largest growth of any one renderer's RSS over its value when sampling started (a renderer
    that appears later, after a reload to another process, over its first sample)."""

    def __init__(self, interval: float = 0.02):
        super().__init__(daemon=True)
        self.interval = interval
        self.baseline, self.peak, self.stop = renderer_rss(), {}, threading.Event()
        self.samples = 0
        self.timeline: list[tuple[float, int]] = []  # (monotonic time, the largest growth then)

    def run(self):
        pids: list[str] = []
        while not self.stop.is_set():
            # Finding the renderers walks all of /proc: once a second; in between, read their status.
            if self.samples % 50 == 0:
                now = renderer_rss()
                pids = list(now)
            else:
                now = {pid: rss for pid in pids if (rss := _rss(pid)) is not None}
            for pid, rss in now.items():
                self.baseline.setdefault(pid, rss)
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
            self.samples += 1
            self.timeline.append((time.monotonic(), max((rss - self.baseline[pid] for pid, rss in now.items()),
                                                        default=0)))
            self.stop.wait(self.interval)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()

    @property
    def growth(self) -> int:
        return max((rss - self.baseline[pid] for pid, rss in self.peak.items()), default=0)

    def growth_between(self, start: float, end: float) -> int:
        """The largest growth sampled between two ``time.monotonic()`` moments."""
        return max((g for t, g in self.timeline if start <= t <= end), default=0)
