"""``python -m bench.run_all``: run every bench module (a module with ``run()`` or ``main()``; each
saves its figures in bench/results/<name>.json) and print what they return. ``python -m bench.run_all fanout`` runs one."""

import importlib
import json
import pkgutil
import resource
import sys
import time

import bench

SKIP = {"common", "run_all", "ws_clients", "floor_server", "make_sessions"}


def main(argv: list[str]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    names = [m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in SKIP]
    if argv:
        names = [n for n in names if n in argv]
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        entry = getattr(module, "run", None) or getattr(module, "main", None)
        if entry is not None:
            start = time.time()
            print(f"== bench.{name}", flush=True)
            figures = entry()
            if isinstance(figures, dict):
                print(json.dumps(figures, indent=1, ensure_ascii=False, default=str)[:4000], flush=True)
            print(f"== bench.{name} done in {time.time() - start:.0f} s (figures in bench/results/)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
