"""LectureLens benchmarks (`make bench`): each writes bench/results/<name>.json and a line of the summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUN_FILE = "run"  # bench/results/run.json: wall and CPU time of each benchmark in the last full `make bench`


def save_result(out: Path, res: dict[str, Any], note: str, echo: bool = False) -> dict[str, Any]:
    """Stamp a result with the machine's load at the end (these machines are shared) and a note, write it."""
    res["load_avg_end"] = os.getloadavg()
    res["note"] = note
    out.write_text(json.dumps(res, indent=1))
    if echo:
        print(json.dumps(res, indent=1))
    return res
