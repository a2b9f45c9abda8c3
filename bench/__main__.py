"""`make bench`: run every benchmark in bench/ and write JSON + a short table to bench/results/."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    (here / "results").mkdir(exist_ok=True)
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")]
    if not names:
        print("no benchmarks yet")
        return 0
    for name in sorted(names):
        mod = importlib.import_module(f"bench.{name}")
        if hasattr(mod, "main"):
            print(f"== bench.{name}")
            mod.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
