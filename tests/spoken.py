"""The spoken-lecture generator (eval/datasets/make_spoken.py) as a module: `eval/datasets/` is a folder of
data and scripts beside the `eval.datasets` module, so it is loaded from its path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "eval" / "datasets" / "make_spoken.py"


def load():
    """The make_spoken module (loaded once)."""
    name = "lecturelens_make_spoken"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
