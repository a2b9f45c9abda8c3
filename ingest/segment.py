"""Choose segment boundaries for a video/audio file: dynamic programming over candidate cut times.

Every segment lasts between `min_s` and `max_s` (a file shorter than `min_s` is one segment),
segments are contiguous and cover `[0, duration]`, and cuts land on the strongest candidates
(slide changes > sentence ends ≈ silences) with a mild pull towards the target length.
"""

from __future__ import annotations

import math

import numpy as np

# Candidate strengths used by the extractors (a guide; any value in [0, 1] works).
SLIDE_CHANGE = 0.9
SENTENCE_END = 0.5
PAUSE = 0.4  # a caption gap without sentence punctuation
SILENCE = 0.45

NEAR_S = 4.0  # grid points this close to a candidate inherit part of its reward
_EPS = 1e-6


def choose_boundaries(
    duration: float,
    candidates: list[tuple[float, float]],
    min_s: float = 15.0,
    max_s: float = 30.0,
    *,
    target_s: float | None = None,
    grid_s: float = 0.5,
    support_s: float = 1.0,
    length_weight: float = 0.1,
) -> list[tuple[float, float]]:
    """Contiguous `(start, end)` segments covering `[0, duration]`, each within `[min_s, max_s]`.

    `candidates` are `(time, strength)` pairs, strength in [0, 1]. Cut positions are the candidate
    times (rounded to ms) plus a fallback grid every `grid_s` seconds; cutting at a time with
    strength s costs `1 - s²` (grid points cost 1), each segment adds
    `length_weight * ((len - target) / half_range)**2`. Every segment also earns back the grid
    cost, so the number of segments is decided by the candidates and the target length, not by a
    bias towards fewer cuts. Candidates within `support_s` of each other reinforce one another.
    """
    if not duration > 0:
        return []
    if not 0 < min_s <= max_s:
        raise ValueError(f"need 0 < min_s <= max_s, got {min_s}, {max_s}")
    if duration <= max_s + _EPS and duration < 2 * min_s:
        return [(0.0, float(duration))]  # too short to split: one segment (possibly < min_s)
    target = target_s if target_s is not None else (min_s + max_s) / 2
    half = max((max_s - min_s) / 2, _EPS)

    times, cost = _positions(duration, candidates, grid_s, support_s)
    n = len(times)
    # Predecessor window of each position j: times[i] in [times[j] - max_s, times[j] - min_s].
    lo = np.searchsorted(times, times - max_s - _EPS, side="left")
    hi = np.searchsorted(times, times - min_s + _EPS, side="right")
    best = np.full(n, np.inf)
    back = np.full(n, -1, dtype=np.int64)
    best[0] = 0.0
    # Positions less than min_s apart never precede one another, so a block of them spanning less
    # than min_s only needs finished values from before the block: solve each block at once.
    j0 = 1
    while j0 < n:
        j1 = int(np.searchsorted(times, times[j0] + min_s - 2 * _EPS, side="left"))
        j1 = max(j1, j0 + 1)
        rows = np.arange(j0, j1)
        a, b = lo[rows], hi[rows]
        width = int((b - a).max(initial=0))
        if width > 0:
            idx = np.minimum(a[:, None] + np.arange(width)[None, :], n - 1)
            lengths = times[rows][:, None] - times[idx]
            total = best[idx] + length_weight * ((lengths - target) / half) ** 2
            total[idx >= b[:, None]] = np.inf
            k = np.argmin(total, axis=1)
            m = total[np.arange(len(rows)), k]
            ok = np.isfinite(m)
            best[rows[ok]] = m[ok] + cost[rows[ok]] - 1.0
            back[rows[ok]] = idx[np.arange(len(rows)), k][ok]
        j0 = j1
    if not math.isfinite(best[-1]):
        return _even_split(duration, min_s, max_s)
    cuts = [n - 1]
    while cuts[-1] != 0:
        cuts.append(int(back[cuts[-1]]))
    pts = [float(times[i]) for i in reversed(cuts)]
    pts[0], pts[-1] = 0.0, float(duration)
    return list(zip(pts[:-1], pts[1:], strict=True))


def _positions(
    duration: float, candidates: list[tuple[float, float]], grid_s: float, support_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted cut positions (0, grid, candidates, duration) and the cost of cutting at each."""
    strength: dict[float, float] = {}
    for t, s in candidates:
        t = round(float(t), 3)
        if 0 < t < duration and s > 0:  # after rounding: a cut never reaches the end
            s = min(float(s), 1.0)
            strength[t] = 1 - (1 - strength.get(t, 0.0)) * (1 - s)  # same time: noisy-or
    ct = np.array(sorted(strength), dtype=float)
    cs = np.array([strength[t] for t in ct], dtype=float)
    eff = _reinforce(ct, cs, support_s)

    grid = np.arange(1, math.ceil(duration / grid_s)) * grid_s
    grid = np.round(grid[grid < duration], 3)
    times = np.concatenate([[0.0], grid, ct, [duration]])
    # Squared: one slide change (0.9² ≈ 0.8) outweighs two sentence ends (2 × 0.5² = 0.5) that would
    # split the same stretch, so cuts follow slides when the length bounds allow it.
    cost = np.concatenate([[0.0], 1.0 - _nearby(grid, ct, eff, NEAR_S), 1.0 - eff**2, [1.0]])
    # Lowest cost first so np.unique keeps the candidate where it coincides with a grid point.
    order = np.lexsort((cost, times))
    times, cost = times[order], cost[order]
    times, first = np.unique(times, return_index=True)
    cost = cost[first]
    cost[-1] = 1.0  # the end of the file is no cut: cost 1 cancels the per-segment refund
    return times, cost


def _nearby(grid: np.ndarray, ct: np.ndarray, cs: np.ndarray, near_s: float) -> np.ndarray:
    """Reward of grid points close to a candidate: when no candidate fits the length bounds, a cut
    just after a sentence end beats one mid-sentence. Always below the candidate's own `s²`."""
    out = np.zeros(len(grid))
    lo = np.searchsorted(grid, ct - near_s, side="left")
    hi = np.searchsorted(grid, ct + near_s, side="right")
    for t, s, a, b in zip(ct, cs, lo, hi, strict=True):
        if b > a:
            near = 0.8 * (s * np.clip(1 - np.abs(grid[a:b] - t) / near_s, 0, 1)) ** 2
            out[a:b] = np.maximum(out[a:b], near)
    return out


def _reinforce(ct: np.ndarray, cs: np.ndarray, support_s: float) -> np.ndarray:
    """Noisy-or of each candidate with its neighbours, each weighted 1 → 0.3 as distance grows."""
    if len(ct) == 0 or support_s <= 0:
        return cs
    lo = np.searchsorted(ct, ct - support_s, side="left")
    hi = np.searchsorted(ct, ct + support_s, side="right")
    out = cs.copy()
    for i in np.nonzero(hi - lo > 1)[0]:
        d = np.abs(ct[lo[i]:hi[i]] - ct[i])
        w = 1.0 - 0.7 * d / support_s
        s = cs[lo[i]:hi[i]] * w * 0.6  # a neighbour supports, it does not equal a cut here
        s[d == 0] = 0.0
        out[i] = 1 - (1 - cs[i]) * np.prod(1 - s)
    return out


def _even_split(duration: float, min_s: float, max_s: float) -> list[tuple[float, float]]:
    # Only reached when no grid cut sequence fits (e.g. max_s < 2 * min_s and an unlucky
    # duration): equal parts no longer than max_s, as close to the bounds as arithmetic allows.
    n = max(1, math.ceil(duration / max_s - _EPS))
    pts = [round(duration * k / n, 3) for k in range(n + 1)]
    pts[-1] = float(duration)
    return list(zip(pts[:-1], pts[1:], strict=True))
