"""Run a dataset: retrieval for every case (and any answer function), scored into a report dict.

The runner takes plain functions, so tests and other answerers plug in without an index:
`search(case, k) -> Retrieved` and `answer(case) -> answer_json-shaped dict`. `service_functions`
builds both from live Services.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.datasets import Case, Dataset, ExpectedSpan
from eval.metrics import aggregate, answer_metrics, kind_table, retrieval_metrics

if TYPE_CHECKING:
    from rag.factory import Services
    from rag.retrieval import SearchResult

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
    from rag.files import image_mime

    return case.image.read_bytes(), image_mime(case.image)


def _searcher(services: Services, last: dict[str, SearchResult] | None = None) -> SearchFn:
    """Search the way `ask` does, and judge the hits with the answerer's decision rule. With `last`,
    each case's result is kept there for the answerer (by case id)."""
    from rag.confidence import judge
    from rag.contracts import hit_json
    from rag.retrieval import Query

    retriever = services.retriever

    def search(case: Case, k: int) -> Retrieved:
        image, mime = _image(case)
        q = Query(text=case.question, image=image, image_mime=mime)
        # `ask` judges the top hits of a k=settings search; asking for at least that many keeps the
        # decline decision identical whatever -k the eval uses (a k-hit search is the first k hits
        # of a larger one: both fuse the same `candidates`).
        result = retriever.search(q, max(k, services.settings.retrieval.k))
        if last is not None:
            last[case.id] = result
        support = judge(result.top(services.settings.retrieval.k), weight=retriever.idf)
        rows = []
        for i, h in enumerate(result.hits[:k], start=1):
            full = hit_json(i, h)
            row = {key: full[key] for key in HIT_KEYS}
            if "slide" in full:
                row["slide"] = full["slide"]
            rows.append(row)
        return Retrieved(rows, declined=not support.answerable)

    return search


def service_functions(services: Services, answers: bool, chat_model: Any = None
                      ) -> tuple[SearchFn, AnswerFn | None]:
    """Search and (with `answers`) `ask` over one index; the answerer reuses each case's search:
    image queries take seconds (OCR and geometric verification), and the hits are the same."""
    if not answers:
        return _searcher(services), None
    from agent.answer import ask
    from rag.contracts import answer_json

    last: dict[str, SearchResult] = {}

    def answer(case: Case) -> dict[str, Any]:
        image, mime = _image(case)
        return answer_json(ask(services, case.question, image, image_mime=mime, chat_model=chat_model,
                               searched=last.pop(case.id, None)))

    answer.reuses_search = True  # type: ignore[attr-defined]  # its latency adds the case's search time
    return _searcher(services, last), answer


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
    from rag.progress import progress_bar

    base = dataset.path.parent
    rows = []
    with progress_bar(show_progress) as bar:
        task = bar.add_task("eval", total=len(dataset.cases))
        for case in dataset.cases:
            bar.update(task, description=f"eval {case.id}")
            rows.append(run_case(case, search, k, answer, base))
            bar.advance(task)
    return {"dataset": dataset.name, "dataset_path": str(dataset.path), "index": index, "embedder": embedder,
            "k": k, "answers": answer is not None, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **score(rows, answers=answer is not None), "cases": rows}
