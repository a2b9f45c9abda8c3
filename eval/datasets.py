"""Eval datasets: versioned YAML cases (a contract: people write these files by hand).

```yaml
name: my-course-v1
corpus: ../course              # optional: folder to ingest first (relative to this file)
cases:
  - id: vid-01
    question: "what does the discount factor do?"   # text, and/or
    image: queries/fig.jpg                          # image query (relative to this file)
    expected:                                       # any-of list of correct locations
      - {source: lectures/rl.mp4, start: 312.0, end: 398.0}
      - {source: slides/rl.pdf, pages: [7, 8]}
    must_mention: [discount]                        # optional, checked on the answer
    unanswerable: false                             # true: the right behaviour is to decline
    absent: [DBSCAN]                                # unanswerable only: the terms the course never uses
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import ConfigError

ExpectedKind = Literal["moment", "page"]
_TOP_KEYS = ("name", "corpus", "cases")
_CASE_KEYS = ("id", "question", "image", "expected", "must_mention", "unanswerable", "absent")


class DatasetError(ConfigError):
    """An eval dataset file is malformed; the message names the file, the case and the fix."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExpectedSpan(_Frozen):
    """A correct moment of a video or audio file, in seconds."""

    source: str = Field(description="Path relative to the corpus folder.")
    start: float = Field(ge=0)
    end: float = Field(ge=0)

    @property
    def kind(self) -> ExpectedKind:
        return "moment"


class ExpectedPages(_Frozen):
    """Correct pages of a PDF: 1-based positions in the file."""

    source: str = Field(description="Path relative to the corpus folder.")
    pages: tuple[int, ...] = Field(min_length=1)

    @property
    def kind(self) -> ExpectedKind:
        return "page"


Expected = ExpectedSpan | ExpectedPages


class Case(_Frozen):
    """One eval question: text and/or an image, and where the right answer lives."""

    id: str
    question: str | None = None
    image: Path | None = Field(None, description="Absolute path (resolved against the dataset file).")
    expected: tuple[Expected, ...] = ()
    must_mention: tuple[str, ...] = ()
    unanswerable: bool = False
    absent: tuple[str, ...] = Field((), description="Unanswerable cases: the distinctive terms of the question "
                                    "that the course never mentions (tests check them over the course text).")

    @property
    def family(self) -> str:
        """The id prefix before the first `-` (`vid-03` → `vid`)."""
        return self.id.split("-", 1)[0]

    @property
    def kinds(self) -> tuple[ExpectedKind, ...]:
        """The expected kinds this case has (`moment`, `page`), in that order."""
        have = {e.kind for e in self.expected}
        return tuple(k for k in ("moment", "page") if k in have)


class Dataset(_Frozen):
    """A named list of cases, optionally over a corpus folder to ingest first."""

    name: str
    path: Path
    corpus: Path | None = None
    cases: tuple[Case, ...]

    def select(self, prefix: str | None) -> Dataset:
        """Only the cases whose id starts with `prefix`."""
        if not prefix:
            return self
        return self.model_copy(update={"cases": tuple(c for c in self.cases if c.id.startswith(prefix))})


def load_dataset(path: Path | str) -> Dataset:
    """Read and validate a dataset YAML file; raise DatasetError naming what to fix."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"The eval dataset {path} does not exist. Check the path.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DatasetError(f"{path} is not valid YAML: {e}. Fix the file.") from e
    if not isinstance(raw, dict):
        raise DatasetError(f"{path}: the top level must be a mapping with keys {', '.join(_TOP_KEYS)}.")
    _no_unknown(path, "the top level", raw, _TOP_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(f"{path}: `name` is missing. Add e.g. `name: my-course-v1`.")
    base = path.resolve().parent
    corpus = None
    if raw.get("corpus") is not None:
        corpus = (base / str(raw["corpus"])).resolve()
        if not corpus.is_dir():
            raise DatasetError(f"{path}: corpus {raw['corpus']} is not a folder ({corpus}). Fix the path "
                               "(it is relative to the dataset file) or remove `corpus`.")
    items = raw.get("cases")
    if not isinstance(items, list) or not items:
        raise DatasetError(f"{path}: `cases` must be a non-empty list of cases.")
    cases, seen = [], set()
    for i, item in enumerate(items, start=1):
        case = _case(path, base, corpus, i, item)
        if case.id in seen:
            raise DatasetError(f"{path}: case id {case.id!r} appears twice. Give every case its own id.")
        seen.add(case.id)
        cases.append(case)
    return Dataset(name=name.strip(), path=path.resolve(), corpus=corpus, cases=tuple(cases))


def _no_unknown(path: Path, where: str, data: dict, allowed: tuple[str, ...]) -> None:
    unknown = [str(k) for k in data if k not in allowed]
    if unknown:
        raise DatasetError(f"{path}: {where} has unknown key(s) {', '.join(unknown)}. "
                           f"Allowed: {', '.join(allowed)}.")


def _case(path: Path, base: Path, corpus: Path | None, i: int, item: Any) -> Case:
    if not isinstance(item, dict):
        raise DatasetError(f"{path}: case #{i} must be a mapping with keys {', '.join(_CASE_KEYS)}.")
    cid = item.get("id")
    where = f"case {cid!r}" if isinstance(cid, str) and cid else f"case #{i}"
    if not (isinstance(cid, str) and cid.strip()):
        raise DatasetError(f"{path}: {where} has no `id`. Give it one like `vid-01` (the part before the "
                           "first `-` is its family in the report).")
    _no_unknown(path, where, item, _CASE_KEYS)
    expected = item.get("expected") or []
    if not isinstance(expected, list):
        raise DatasetError(f"{path}: {where}: `expected` must be a list of locations.")
    exps = [_expected(path, where, j, e, corpus) for j, e in enumerate(expected)]
    question = item.get("question")
    if question is not None and (not isinstance(question, str) or not question.strip()):
        raise DatasetError(f"{path}: {where}: `question` must be non-empty text.")
    image = None
    if item.get("image") is not None:
        image = (base / str(item["image"])).resolve()
        if not image.is_file():
            raise DatasetError(f"{path}: {where}: image {item['image']} does not exist ({image}). "
                               "Image paths are relative to the dataset file.")
    if question is None and image is None:
        raise DatasetError(f"{path}: {where} has neither `question` nor `image`. Give it at least one.")
    unanswerable = item.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise DatasetError(f"{path}: {where}: `unanswerable` must be true or false.")
    if unanswerable and exps:
        raise DatasetError(f"{path}: {where} is unanswerable but lists `expected` locations. Remove one.")
    if not unanswerable and not exps:
        raise DatasetError(f"{path}: {where} has no `expected` locations. Add some, or set "
                           "`unanswerable: true` if the right behaviour is to decline.")
    mentions = item.get("must_mention") or []
    if not isinstance(mentions, list) or not all(isinstance(m, str) and m.strip() for m in mentions):
        raise DatasetError(f"{path}: {where}: `must_mention` must be a list of words, e.g. [discount].")
    absent = item.get("absent") or []
    if not isinstance(absent, list) or not all(isinstance(a, str) and a.strip() for a in absent):
        raise DatasetError(f"{path}: {where}: `absent` must be a list of terms, e.g. [DBSCAN].")
    if absent and not unanswerable:
        raise DatasetError(f"{path}: {where} lists `absent` terms but is answerable. `absent` names what an "
                           "unanswerable question asks about; remove it or set `unanswerable: true`.")
    return Case(id=cid.strip(), question=question.strip() if question else None, image=image,
                expected=tuple(exps), must_mention=tuple(mentions), unanswerable=unanswerable,
                absent=tuple(a.strip() for a in absent))


def _expected(path: Path, where: str, j: int, e: Any, corpus: Path | None) -> Expected:
    at = f"{path}: {where}: expected[{j}]"
    if not isinstance(e, dict):
        raise DatasetError(f"{at} must be {{source, start, end}} or {{source, pages}}.")
    if "pages" in e:
        _no_unknown(path, f"{where} expected[{j}]", e, ("source", "pages"))
        pages = e["pages"]
        if isinstance(pages, int) and not isinstance(pages, bool):
            pages = [pages]
        if not isinstance(pages, list) or not pages or not all(isinstance(p, int) and not isinstance(p, bool)
                                                               for p in pages):
            raise DatasetError(f"{at}: `pages` must be a non-empty list of page numbers, e.g. [7, 8].")
        low = [p for p in pages if p < 1]
        if low:
            raise DatasetError(f"{at}: page {low[0]} is below 1. Pages are 1-based positions in the PDF "
                               "file.")
        model: type[_Frozen] = ExpectedPages
        data: dict[str, Any] = {"source": e.get("source"), "pages": tuple(pages)}
    else:
        _no_unknown(path, f"{where} expected[{j}]", e, ("source", "start", "end"))
        if "start" not in e or "end" not in e:
            raise DatasetError(f"{at} needs `start` and `end` (seconds) for a moment, or `pages` for a PDF.")
        try:
            start, end = float(e["start"]), float(e["end"])
        except (TypeError, ValueError):
            raise DatasetError(f"{at}: `start` and `end` must be numbers of seconds.") from None
        if start < 0 or start > end:
            raise DatasetError(f"{at}: start {start:g} is after end {end:g}. Swap them or fix the times."
                               if start > end else f"{at}: start {start:g} is negative.")
        model, data = ExpectedSpan, {"source": e.get("source"), "start": start, "end": end}
    if not isinstance(data["source"], str) or not data["source"].strip():
        raise DatasetError(f"{at} has no `source` (a path relative to the corpus folder).")
    if corpus is not None and not (corpus / data["source"]).is_file():
        raise DatasetError(f"{at}: source {data['source']} is not in the corpus {corpus}. "
                           "Sources are relative to the corpus folder.")
    try:
        return model(**data)  # type: ignore[return-value]
    except ValidationError as err:  # pragma: no cover - the checks above catch what users write
        raise DatasetError(f"{at}: {err}") from err
