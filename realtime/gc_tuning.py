"""Garbage-collector tuning of a worker process holding thousands of sockets (``RT_GC_TUNING``)."""

from __future__ import annotations

from django.conf import settings

_gc_tuned = False


def tune_gc() -> None:
    """Shorter and rarer garbage-collector pauses for a worker process holding thousands of
    sockets (each one a few hundred tracked objects: a full collection took 300 ms at 3,000 here
    and held every push back that long). Once per process, at its first socket:

    - ``gc.freeze()``: what exists now (Django, the apps, the modules) moves to the permanent
      generation, which collections no longer scan;
    - a young-generation threshold of ``RT_GC_GEN0`` (default 50,000) instead of 700 allocations:
      short-lived objects (a frame's, a command's) die by reference counting before a collection
      promotes them, so the old generation grows, and is fully collected, far less often.
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    import gc

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(settings.RT_GC_GEN0, gen1, gen2)
