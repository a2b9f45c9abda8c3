"""Render a run: report.json (machines), report.md (tables), report.png (chart); baseline diffs; CI floors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.metrics import FLAGS, hit_curve

TABLE = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "tiou", "decline_accuracy", "answered")
ANSWER_TABLE = ("citation_precision", "citation_recall", "must_mention", "declined_correctly",
                "declined_wrongly", "answer_latency_p50_ms", "answer_latency_p95_ms")
COUNTS = ("cases", "answerable", "unanswerable")
EPS = 1e-9


# -- diff -------------------------------------------------------------------------------------------
def _delta(new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for key in dict.fromkeys([*new, *old]):
        a, b = new.get(key), old.get(key)
        if isinstance(a, int | float) or isinstance(b, int | float):
            d = a - b if isinstance(a, int | float) and isinstance(b, int | float) else None
            out[key] = {"old": b, "new": a, "delta": None if d is None else round(d, 4)}
    return out


def _flag(m: Mapping[str, Any], key: str) -> bool | None:
    v = m.get(key)
    return None if v is None else bool(v)


def diff(new: Mapping[str, Any], old: Mapping[str, Any], baseline: str = "") -> dict[str, Any]:
    """Metric deltas (overall and per family) and the cases whose pass/fail flags flipped."""
    fams = dict.fromkeys([*new.get("families", {}), *old.get("families", {})])
    flipped = []
    old_cases = {c["id"]: c for c in old.get("cases", [])}
    for c in new.get("cases", []):
        prev = old_cases.get(c["id"])
        if prev is None:
            continue
        now_m, was_m = _merged(c), _merged(prev)
        for key in FLAGS:
            a, b = _flag(now_m, key), _flag(was_m, key)
            if a is not None and b is not None and a != b:
                flipped.append({"id": c["id"], "metric": key, "old": b, "new": a})
    new_ids = {c["id"] for c in new.get("cases", [])}
    return {"baseline": baseline, "metrics": _delta(new.get("metrics", {}), old.get("metrics", {})),
            "families": {f: _delta(new.get("families", {}).get(f, {}), old.get("families", {}).get(f, {}))
                         for f in fams},
            "flipped": flipped, "added": sorted(new_ids - old_cases.keys()),
            "removed": sorted(old_cases.keys() - new_ids)}


def _merged(case: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(case.get("metrics") or {})
    out.update(((case.get("answer") or {}).get("metrics")) or {})
    return out


def changed(d: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(scope, metric, entry) for every non-zero delta, timings excluded (they are never equal twice)."""
    rows = [("overall", k, v) for k, v in d["metrics"].items()]
    rows += [(f, k, v) for f, m in d["families"].items() for k, v in m.items()]
    return [(s, k, v) for s, k, v in rows
            if not k.endswith("_ms") and (v["delta"] is None and v["old"] != v["new"]
                                          or v["delta"] is not None and abs(v["delta"]) > EPS)]


def diff_lines(d: Mapping[str, Any]) -> list[str]:
    """The diff for people: metrics up/down, then flipped cases."""
    lines = [f"Compared with {d['baseline']}:"]
    moved = changed(d)
    if not moved and not d["flipped"] and not d["added"] and not d["removed"]:
        return lines + ["  no metric changed, no case flipped (timings aside)"]
    for scope, key, v in moved:
        arrow = "▲" if (v["delta"] or 0) > 0 else "▼" if (v["delta"] or 0) < 0 else "·"
        lines.append(f"  {arrow} {scope:<8} {key:<20} {fmt(v['old'])} → {fmt(v['new'])} "
                     f"({_signed(v['delta'])})")
    for f in d["flipped"]:
        lines.append(f"  {'fixed' if f['new'] else 'broke'} {f['id']}: {f['metric']} "
                     f"{_yes(f['old'])} → {_yes(f['new'])}")
    if d["added"]:
        lines.append(f"  new cases: {', '.join(d['added'])}")
    if d["removed"]:
        lines.append(f"  cases gone: {', '.join(d['removed'])}")
    return lines


# -- gate -------------------------------------------------------------------------------------------
def parse_floor(text: str) -> tuple[str, str, float]:
    """`hit@5=0.8` → ("", "hit@5", 0.8); `img.hit@5=0.7` → ("img", "hit@5", 0.7) for a family floor."""
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise ValueError(f"--min {text!r}: write METRIC=VALUE, e.g. hit@5=0.8 (or FAMILY.METRIC=VALUE).")
    try:
        floor = float(value)
    except ValueError:
        raise ValueError(f"--min {text!r}: {value!r} is not a number.") from None
    family, _, metric = name.rpartition(".")
    return family, metric, floor


def check_floors(floors: Iterable[tuple[str, str, float]], known: Iterable[str],
                 families: Iterable[str]) -> None:
    """Raise ValueError for a floor on an unknown metric or family (before a long run, not after)."""
    known, families = list(known), list(families)
    for family, metric, _ in floors:
        if family and family not in families:
            raise ValueError(f"{family}.{metric}: no case family {family!r} "
                             f"(families: {', '.join(families)}).")
        if metric not in known:
            raise ValueError(f"{metric}: unknown metric. Known: {', '.join(known)}.")


def gate(report: Mapping[str, Any], floors: Iterable[tuple[str, str, float]]) -> list[str]:
    """The floors the report misses, as messages (empty = pass)."""
    misses = []
    for family, metric, floor in floors:
        scope = report["families"].get(family, {}) if family else report["metrics"]
        value = scope.get(metric)
        where = f"{family}.{metric}" if family else metric
        if value is None:
            misses.append(f"{where} was not measured (no case it applies to), floor {floor:g}")
        elif value < floor - EPS:
            misses.append(f"{where} = {value:.4g} is below its floor {floor:g}")
    return misses


# -- markdown -----------------------------------------------------------------------------------------
def fmt(v: Any) -> str:
    """A metric value for tables: 3 decimals, whole numbers for counts and milliseconds."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return _yes(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"


def _signed(v: float | None) -> str:
    return "–" if v is None else f"{v:+.3f}"


def _yes(v: Any) -> str:
    return "✓" if v else "✗"


def _table(rows: Sequence[tuple[str, Mapping[str, Any]]], cols: Sequence[str]) -> list[str]:
    out = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    out += ["| " + name + " | " + " | ".join(fmt(m.get(c)) for c in cols) + " |" for name, m in rows]
    return out


def markdown(report: Mapping[str, Any], d: Mapping[str, Any] | None = None) -> str:
    """report.md: overall, per family, per expected kind, answers, failures, and the baseline diff."""
    fams = sorted(report["families"].items())
    lines = [f"# Eval: {report['dataset']}", "",
             f"- index: `{report['index']}`", f"- embedder: {report['embedder']}", f"- k: {report['k']}",
             f"- cases: {report['metrics']['cases']} ({report['metrics']['answerable']} answerable, "
             f"{report['metrics']['unanswerable']} unanswerable)", "",
             "![hit@k per family](report.png)", "", "## Overall", ""]
    lines += _table([("all", report["metrics"])], (*COUNTS[:1], *TABLE, "latency_p50_ms", "latency_p95_ms"))
    lines += ["", "## Per case family", ""] + _table(fams, (*COUNTS, *TABLE))
    lines += ["", "## Per expected kind", "",
              "A case that expects a moment scores only hits on moments (video/audio); one that expects "
              "a page, only page hits.", ""]
    lines += _table(sorted(report.get("kinds", {}).items()), ("cases", "hit@1", "hit@5", "hit@10", "mrr@10"))
    if report.get("answers"):
        lines += ["", "## Answers", ""] + _table([("all", report["metrics"]), *fams], ANSWER_TABLE)
    rows = [(c, _problems(c)) for c in report["cases"]]
    if any(p for _, p in rows):
        lines += ["", "## Cases to look at", "", "| case | problem | top hit |", "|---|---|---|"]
        for c, problem in rows:
            if problem:
                top = c["hits"][0]["display"] if c["hits"] else "–"
                lines.append(f"| {c['id']} | {problem} | {top} |")
    if d is not None:
        lines += ["", "## Compared with baseline", "", "```", *diff_lines(d), "```"]
    return "\n".join(lines) + "\n"


def _problems(case: Mapping[str, Any]) -> str:
    m = case["metrics"]
    if case["unanswerable"]:
        return "" if m["declined_ok"] else "not declined"
    found = []
    if not case["hits"]:
        found = ["no hits"]
    elif not m.get("hit@5"):
        found = [f"first correct hit at rank {m['rank']}" if m.get("rank") else "no correct hit in the top k"]
    return "; ".join(found + ([] if m["declined_ok"] else ["declined"]))


# -- chart ------------------------------------------------------------------------------------------
def _ranks(report: Mapping[str, Any]) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {}
    for c in report["cases"]:
        if not c["unanswerable"]:
            out.setdefault(c["family"], []).append(c["metrics"].get("rank"))
    return out


BAR_COLS = {"hit@1": "#4c72b0", "hit@5": "#55a868", "mrr@10": "#8172b2", "decline_accuracy": "#c44e52"}


def _bars(ax: Any, report: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> None:
    """Per-family scores (or deltas vs the baseline); a metric that does not apply to a family gets no bar."""
    fams = sorted(report["families"])
    width = 0.8 / len(BAR_COLS)
    for j, (col, color) in enumerate(BAR_COLS.items()):
        xs, vals = [], []
        for i, f in enumerate(fams):
            new = report["families"][f].get(col)
            old = baseline.get("families", {}).get(f, {}).get(col) if baseline else None
            val = (None if new is None or old is None else new - old) if baseline else new
            if val is not None:
                xs.append(i + (j - (len(BAR_COLS) - 1) / 2) * width)
                vals.append(val)
        bars = ax.bar(xs, vals, width, label=col, color=color)
        labels = [(f"{v:+.2f}" if abs(v) > 0.005 else "") if baseline else f"{v:.2f}" for v in vals]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=1)
    ax.set_xticks(range(len(fams)), fams)
    if baseline:
        top = max([0.05, *(abs(b.get_height()) * 1.25 for b in ax.patches)])
        ax.set_ylim(-top, top)
        ax.axhline(0, color="black", lw=0.8)
        ax.set(title="change vs baseline per family (no bar: unchanged)", ylabel="new − baseline")
    else:
        ax.set(title="scores per family", ylabel="score", ylim=(0, 1.12))


def plot(report: Mapping[str, Any], path: Path, baseline: Mapping[str, Any] | None = None) -> None:
    """report.png: hit@k curves per family; beside them the per-family scores, or deltas vs a baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k_max = max(1, int(report["k"]))
    ks = list(range(1, k_max + 1))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
    ranks = _ranks(report)
    old_ranks = _ranks(baseline) if baseline else {}
    colors = plt.get_cmap("tab10")
    everything = [r for rs in ranks.values() for r in rs]
    curves: list[tuple[str, list[int | None], Any]] = [("all answerable", everything, "black")]
    curves += [(f, rs, colors(i)) for i, (f, rs) in enumerate(sorted(ranks.items()))]
    for name, rs, color in curves:
        left.plot(ks, hit_curve(rs, k_max), marker="o", ms=4, lw=2.2 if name.startswith("all") else 1.6,
                  color=color, label=f"{name} (n={len(rs)})")
        fam_old = ([r for v in old_ranks.values() for r in v] if name.startswith("all")
                   else old_ranks.get(name))
        if fam_old:
            left.plot(ks, hit_curve(fam_old, k_max), ls="--", lw=1, color=color, alpha=0.6)
    left.set(title="hit@k per case family" + (" (dashed: baseline)" if baseline else ""), xlabel="k",
             ylabel="share of answerable cases with a correct hit in the top k", ylim=(0, 1.02), xticks=ks)
    left.grid(alpha=0.3)
    left.legend(loc="lower right", fontsize=8)

    _bars(right, report, baseline)
    right.legend(fontsize=8, ncols=len(BAR_COLS), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    right.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{report['dataset']} · {report['embedder']} · k={report['k']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(report: dict[str, Any], out: Path, baseline: Mapping[str, Any] | None = None,
          baseline_path: str = "") -> dict[str, Any] | None:
    """Write report.json, report.md and report.png into `out`; the diff when a baseline is given."""
    out.mkdir(parents=True, exist_ok=True)
    d = diff(report, baseline, baseline_path) if baseline is not None else None
    if d is not None:
        report["diff"] = d
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n")
    (out / "report.md").write_text(markdown(report, d), encoding="utf-8")
    plot(report, out / "report.png", baseline)
    return d
