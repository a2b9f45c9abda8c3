"""Run a dataset: retrieval for every case (and any answer function), scored into a report dict.

The runner takes plain functions, so tests and other answerers plug in without an index:
`search(case, k) -> Retrieved` and `answer(case) -> answer_json-shaped dict`. `service_functions`
builds both from live Services.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.datasets import Case, Dataset, ExpectedSpan
from eval.metrics import aggregate, answer_metrics, kind_table, retrieval_metrics

HIT_KEYS = ("rank", "source", "kind", "start", "end", "pages", "score", "display", "moment")


@dataclass
class Retrieved:
    """Ranked hit rows for one case, and whether the answerer would decline on them."""

    hits: list[dict[str, Any]]
    declined: bool


SearchFn = Callable[[Case, int], Retrieved]
AnswerFn = Callable[[Case], dict[str, Any]]


def _image(case: Case) -> tuple[bytes | None, str]:
    if case.image is None:
        return None, "image/jpeg"
    return case.image.read_bytes(), mimetypes.guess_type(case.image.name)[0] or "image/jpeg"


def _searcher(services: Any, retriever: Any) -> SearchFn:
    """Search the way `ask` does, and judge the hits with the answerer's decline rule."""
    from rag.cli import hit_json
    from rag.confidence import judge
    from rag.retrieval import Query

    def search(case: Case, k: int) -> Retrieved:
        image, mime = _image(case)
        q = Query(text=case.question, image=image, image_mime=mime)
        # `ask` judges the top hits of a k=settings search; asking for at least that many keeps the
        # decline decision identical whatever -k the eval uses.
        hits = retriever.search(q, max(k, services.settings.retrieval.k))
        support = judge(q, hits, weight=retriever.idf)
        rows = []
        for i, h in enumerate(hits[:k], start=1):
            full = hit_json(i, h)
            row = {key: full[key] for key in HIT_KEYS}
            if "slide" in full:
                row["slide"] = full["slide"]
            rows.append(row)
        return Retrieved(rows, declined=not support.answerable)

    return search


class _LastSearch:
    """A retriever that answers a repeat of the previous query from memory.

    `ask` searches again for the query the eval just searched; image queries take seconds (OCR and
    geometric verification), so the answerer reuses the eval's hits. Exact: a k-hit search is the
    first k hits of a larger one (both fuse the same `candidates`).
    """

    def __init__(self, inner: Any):
        self.inner = inner
        self._last: tuple[tuple, int, str, list] | None = None

    def search(self, q: Any, k: int | None = None) -> list:
        key = (q.text, q.image, q.image_mime, tuple(q.sources or ()), tuple(q.kinds or ()))
        want = k or self.inner.settings.k
        if self._last is not None and self._last[0] == key and self._last[1] >= want:
            q.image_text = q.image_text or self._last[2]
            return self._last[3][:want]
        hits = self.inner.search(q, want)
        self._last = (key, want, q.image_text, hits)
        return hits

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def service_functions(services: Any, answers: bool, chat_model: Any = None
                      ) -> tuple[SearchFn, AnswerFn | None]:
    """Search and (with `answers`) `ask` over one index; the answerer reuses each case's search."""
    if not answers:
        return _searcher(services, services.retriever), None
    from dataclasses import replace

    from agent.answer import answer_json, ask

    memo = _LastSearch(services.retriever)
    shared = replace(services, retriever=memo)

    def answer(case: Case) -> dict[str, Any]:
        image, mime = _image(case)
        return answer_json(ask(shared, case.question, image, image_mime=mime, chat_model=chat_model))

    answer.reuses_search = True  # type: ignore[attr-defined]  # its latency adds the case's search time
    return _searcher(services, memo), answer


def expected_json(case: Case) -> list[dict[str, Any]]:
    """The case's expected entries as written in the dataset."""
    return [{"source": e.source, "start": e.start, "end": e.end} if isinstance(e, ExpectedSpan)
            else {"source": e.source, "pages": list(e.pages)} for e in case.expected]


def run_case(case: Case, search: SearchFn, k: int, answer: AnswerFn | None, base: Path) -> dict[str, Any]:
    """Retrieve (and answer) one case; its row in report.json."""
    t0 = time.perf_counter()
    got = search(case, k)
    latency = (time.perf_counter() - t0) * 1000
    ans = None
    if answer is not None:
        t1 = time.perf_counter()
        ans = dict(answer(case))
        spent = (time.perf_counter() - t1) * 1000
        # End to end, as a user waits for `ask`: an answerer that reuses the case's search adds its time.
        ans["latency_ms"] = round(spent + (latency if getattr(answer, "reuses_search", False) else 0.0), 1)
        ans["metrics"] = answer_metrics(case, ans)
    # With answers, report what the answerer did; without, what its decline rule says on these hits.
    declined = bool(ans["declined"]) if ans is not None else got.declined
    image = None
    if case.image is not None:
        image = (case.image.relative_to(base).as_posix() if case.image.is_relative_to(base)
                 else str(case.image))
    return {
        "id": case.id, "family": case.family, "question": case.question, "image": image,
        "unanswerable": case.unanswerable, "expected": expected_json(case),
        "must_mention": list(case.must_mention), "hits": got.hits, "declined": declined, "answer": ans,
        "metrics": retrieval_metrics(case, got.hits, declined), "latency_ms": round(latency, 1),
    }


def score(cases: list[dict[str, Any]], *, answers: bool) -> dict[str, Any]:
    """Overall, per-family and per-kind metrics over case rows."""
    families: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        families.setdefault(c["family"], []).append(c)
    return {"metrics": aggregate(cases, answers=answers),
            "families": {f: aggregate(rows, answers=answers) for f, rows in families.items()},
            "kinds": kind_table(cases)}


def run(dataset: Dataset, search: SearchFn, *, k: int = 10, answer: AnswerFn | None = None,
        index: str = "", embedder: str = "", show_progress: bool = True) -> dict[str, Any]:
    """Run every case of a dataset; the report.json dict."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    base = dataset.path.parent
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True, disable=not show_progress) as bar:
        task = bar.add_task("eval", total=len(dataset.cases))
        for case in dataset.cases:
            bar.update(task, description=f"eval {case.id}")
            rows.append(run_case(case, search, k, answer, base))
            bar.advance(task)
    return {"dataset": dataset.name, "dataset_path": str(dataset.path), "index": index, "embedder": embedder,
            "k": k, "answers": answer is not None, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **score(rows, answers=answer is not None), "cases": rows}
