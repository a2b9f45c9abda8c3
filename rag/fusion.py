"""Reciprocal rank fusion of the search channels (dense, lexical, image), grouped by chunk. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum


class Channel(Enum):
    """One way of finding candidates."""

    DENSE = "dense"  # vector similarity in the embedder's space
    LEXICAL = "lexical"  # BM25 over view text
    IMAGE = "image"  # geometrically verified picture matches
    CUES = "cues"  # vector similarity of single caption cues (rag/cue_windows.py), voting for their segment


# An image match verified geometrically is the strongest evidence an image query has.
WEIGHTS: Mapping[Channel, float] = {Channel.DENSE: 1.0, Channel.LEXICAL: 1.0, Channel.IMAGE: 2.0,
                                    Channel.CUES: 1.0}


@dataclass
class Ranked:
    """One channel's candidates: vector id -> 1-based rank and raw score (cosine, BM25, verification)."""

    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    def add(self, vid: str, rank: int, score: float) -> None:
        self.ranks[vid], self.scores[vid] = rank, score


@dataclass(frozen=True)
class ChannelBest:
    """A chunk's best view in one channel."""

    rank: int
    score: float


@dataclass
class Fused:
    """One chunk after fusion."""

    chunk_id: str
    score: float  # fused RRF score / the best score possible with these channels, in (0, 1]
    best: dict[Channel, ChannelBest] = field(default_factory=dict)
    views: list[str] = field(default_factory=list)  # its vector ids, strongest contribution first


def fuse(candidates: Iterable[tuple[str, str]], channels: Mapping[Channel, Ranked], rrf_k: int,
         weights: Mapping[Channel, float] = WEIGHTS) -> list[Fused]:
    """Fuse channels by reciprocal rank: a chunk scores sum(weight / (rrf_k + its best rank)) over the
    channels that found it, divided by the score of a chunk ranked first everywhere.

    `candidates` are (vector id, chunk id) pairs in first-seen order, which also breaks score ties.
    Returned best-first (stable).
    """
    active = [c for c, r in channels.items() if r.ranks]
    best_max = sum(weights[c] for c in active) / (rrf_k + 1) or 1.0
    per_chunk: dict[str, Fused] = {}
    contrib: dict[str, list[tuple[float, str]]] = {}
    for vid, cid in candidates:
        f = per_chunk.setdefault(cid, Fused(chunk_id=cid, score=0.0))
        total = 0.0
        for channel, r in channels.items():
            rank = r.ranks.get(vid)
            if rank is None:
                continue
            total += weights[channel] / (rrf_k + rank)
            prev = f.best.get(channel)
            if prev is None or rank < prev.rank:
                f.best[channel] = ChannelBest(rank, r.scores[vid])
        contrib.setdefault(cid, []).append((total, vid))
    for cid, f in per_chunk.items():
        fused = sum(weights[c] / (rrf_k + f.best[c].rank) for c in channels if c in f.best)
        f.score = round(fused / best_max, 6)
        f.views = [vid for _, vid in sorted(contrib[cid], key=lambda t: -t[0])]
    return sorted(per_chunk.values(), key=lambda f: -f.score)


def reorder_within(base: Sequence[Fused], better: Mapping[str, Fused], members: Container[str]) -> list[Fused]:
    """`base` with its `members` chunks reordered among the places they hold, by their score in `better`.

    The places keep their scores (so the list stays sorted), the chunks bring their channel ranks and views.
    Everything else keeps its place: another channel set may reorder segments without moving a page.
    """
    slots = [i for i, f in enumerate(base) if f.chunk_id in members]
    moved = sorted((better.get(base[i].chunk_id, base[i]) for i in slots), key=lambda f: -f.score)  # stable
    out = list(base)
    for i, f in zip(slots, moved, strict=True):
        out[i] = Fused(chunk_id=f.chunk_id, score=base[i].score, best=f.best, views=f.views)
    return out
