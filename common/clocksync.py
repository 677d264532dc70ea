"""Is the server's clock synchronised? Deadlines are the server's clock by law (EBM 27, Law 34), so
``/healthz`` and the supervisors' console report it and the ticker applies no deadline while the
clock is *known* to be off (docs/operations.md, "Time").

The state comes from ``chronyc tracking`` (chrony: the offset from its source and the leap status)
or else ``timedatectl show`` (systemd: ``NTPSynchronized``, no offset), and is one of:

- ``synchronised``: chrony reports an offset within ``CLOCK_MAX_OFFSET_MS``, or systemd says
  synchronised;
- ``unsynchronised``: chrony reports "Not synchronised" or an offset beyond ``CLOCK_MAX_OFFSET_MS``,
  or systemd says not synchronised (the kernel's own estimate of its error is then beyond 16 s);
- ``unknown``: neither tool is installed or answers (a container, a machine without systemd).

The probe is injectable (``use_probe``) so tests simulate any clock; results are cached for
``CLOCK_PROBE_SECONDS`` so the ticker's twice-a-second rounds do not each start a program.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

from common.tools import find_tool

SYNCHRONISED, UNSYNCHRONISED, UNKNOWN = "synchronised", "unsynchronised", "unknown"
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Reading:
    """What a tool said, before it is judged against the allowed offset."""

    source: str  # "chrony" | "timedatectl" | "none"
    synchronised: bool | None  # None: the tool does not know
    offset_ms: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class ClockState:
    state: str
    source: str
    offset_ms: float | None
    max_offset_ms: float
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def hold_deadlines(self) -> bool:
        return self.state == UNSYNCHRONISED


def parse_chronyc_tracking(text: str) -> Reading | None:
    """``chronyc tracking``'s output: ``System time : 0.000123 seconds slow of NTP time`` and
    ``Leap status : Normal`` (or ``Not synchronised``)."""
    leap = re.search(r"^Leap status\s*:\s*(.+)$", text, re.M)
    system = re.search(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow)", text, re.M)
    if leap is None:
        return None
    if "not synchronised" in leap.group(1).lower():
        return Reading("chrony", False, None, leap.group(1).strip())
    offset = round(float(system.group(1)) * 1000 * (1 if system.group(2) == "fast" else -1), 6) if system else None
    return Reading("chrony", True if offset is not None else None, offset, leap.group(1).strip())


def parse_timedatectl_show(text: str) -> Reading | None:
    """``timedatectl show``'s ``KEY=value`` lines; ``NTPSynchronized=yes|no``."""
    found = re.search(r"^NTPSynchronized=(yes|no)$", text, re.M)
    if found is None:
        return None
    return Reading("timedatectl", found.group(1) == "yes", None, f"NTPSynchronized={found.group(1)}")


def _stdout(run: Callable[[], subprocess.CompletedProcess]) -> str | None:
    try:
        done = run()
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def system_probe() -> Reading:
    """Ask chrony, else systemd; ``Reading("none", None)`` when neither answers."""
    chronyc = find_tool("chronyc")
    if chronyc is not None:
        out = _stdout(lambda: subprocess.run([chronyc, "tracking"], capture_output=True, text=True,
                                             timeout=TIMEOUT_S))
        reading = parse_chronyc_tracking(out) if out else None
        if reading is not None:
            return reading
    timedatectl = find_tool("timedatectl")
    if timedatectl is not None:
        out = _stdout(lambda: subprocess.run([timedatectl, "show"], capture_output=True, text=True,
                                             timeout=TIMEOUT_S))
        reading = parse_timedatectl_show(out) if out else None
        if reading is not None:
            return reading
    return Reading("none", None, None, "neither chronyc nor timedatectl answered")


def judge(reading: Reading, max_offset_ms: float) -> ClockState:
    if reading.synchronised is False:
        state = UNSYNCHRONISED
    elif reading.offset_ms is not None:
        state = SYNCHRONISED if abs(reading.offset_ms) <= max_offset_ms else UNSYNCHRONISED
    elif reading.synchronised:
        state = SYNCHRONISED
    else:
        state = UNKNOWN
    offset = round(reading.offset_ms, 3) if reading.offset_ms is not None else None
    return ClockState(state, reading.source, offset, max_offset_ms, reading.detail)


_probe: Callable[[], Reading] = system_probe
_cache: tuple[float, ClockState] | None = None
_lock = threading.Lock()


def use_probe(probe: Callable[[], Reading] | None) -> Callable[[], Reading]:
    """Replace the probe (None: the system's); returns the previous one. Clears the cache."""
    global _probe, _cache
    with _lock:
        previous, _probe, _cache = _probe, probe or system_probe, None
    return previous


def current(*, max_offset_ms: float | None = None, cache_seconds: float | None = None) -> ClockState:
    """The clock's state now (cached ``CLOCK_PROBE_SECONDS``), judged against ``CLOCK_MAX_OFFSET_MS``."""
    global _cache
    from django.conf import settings

    limit = float(settings.CLOCK_MAX_OFFSET_MS if max_offset_ms is None else max_offset_ms)
    ttl = float(settings.CLOCK_PROBE_SECONDS if cache_seconds is None else cache_seconds)
    with _lock:
        cached = _cache
        probe = _probe
    if cached is not None and time.monotonic() - cached[0] < ttl and cached[1].max_offset_ms == limit:
        return cached[1]
    state = judge(probe(), limit)
    with _lock:
        _cache = (time.monotonic(), state)
    from common import metrics

    metrics.CLOCK_STATE.set({SYNCHRONISED: 1, UNSYNCHRONISED: 0}.get(state.state, -1))
    if state.offset_ms is not None:
        metrics.CLOCK_OFFSET.set(state.offset_ms / 1000)
    return state
