"""`make bench`: run every benchmark in bench/ and write JSON + a short table to bench/results/."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

# Helpers, not benchmarks: the course generator (called by ingest_throughput) and the table (run last).
NOT_BENCHMARKS = {"capture_course", "summary"}


def main() -> int:
    here = Path(__file__).parent
    (here / "results").mkdir(exist_ok=True)
    only = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else None
    names = [m.name for m in pkgutil.iter_modules([str(here)])
             if not m.name.startswith("_") and m.name not in NOT_BENCHMARKS and (only is None or m.name in only)]
    if not names:
        print("no benchmarks yet")
        return 0
    for name in sorted(names):
        mod = importlib.import_module(f"bench.{name}")
        if hasattr(mod, "main"):
            print(f"== bench.{name}")
            mod.main([]) if "argv" in mod.main.__code__.co_varnames else mod.main()
    from bench import summary

    summary.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
