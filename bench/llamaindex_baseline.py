"""What a user would pick instead, measured in the same run: the sample course's PDFs and captions through
the LlamaIndex default pipeline (SimpleDirectoryReader + VectorStoreIndex, in-memory vector store, default
SentenceSplitter) with the same offline MiniLM embedder, vs LectureLens on the whole course.

Scored on the text cases of eval/datasets/sample-course.yaml that have an answer (image cases need a
picture search LlamaIndex's default pipeline does not have). A LlamaIndex caption node covers many cues:
its span runs from its first to its last timestamp, and counts as a hit when it overlaps the expected
moment (generous to LlamaIndex: such spans are minutes long). Offline adaptations, said here because
they differ from a stock install: PDFs are read one Document per page with pypdf (what the default
PDFReader of llama-index-readers-file does; that package is not installed), and the splitter counts
whitespace words (the default tiktoken encoding is downloaded on first use).

    python -m bench.llamaindex_baseline
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

from bench import save_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench/results/llamaindex_baseline.json"
COURSE = ROOT / "examples/course"
DATASET = ROOT / "eval/datasets/sample-course.yaml"
WORK = ROOT / "bench/.cache/llamaindex_baseline"
K = 5
_TS = re.compile(r"(\d+):(\d\d):(\d\d)[.,](\d{3})|(?<!\d)(\d\d):(\d\d)[.,](\d{3})")


def _seconds(m: re.Match) -> float:
    if m.group(1) is not None:
        h, mi, s, ms = (int(m.group(i)) for i in (1, 2, 3, 4))
    else:
        h, (mi, s, ms) = 0, (int(m.group(i)) for i in (5, 6, 7))
    return h * 3600 + mi * 60 + s + ms / 1000


def _media_of(caption: Path) -> str:
    for ext in (".mp4", ".mp3", ".m4a", ".wav", ".mkv", ".webm"):
        media = caption.with_suffix(ext)
        if media.exists():
            return media.relative_to(COURSE).as_posix()
    return caption.relative_to(COURSE).as_posix()


def _embed_model():
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    from rag.embedders.local import LocalEmbedder
    from rag.types import EmbedItem

    class Local(BaseEmbedding):
        """LectureLens' offline MiniLM as a LlamaIndex embedding."""

        _inner: LocalEmbedder = PrivateAttr()

        def __init__(self, **kw):
            super().__init__(model_name="all-MiniLM-L6-v2", embed_batch_size=64, **kw)
            self._inner = LocalEmbedder()

        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in self._inner.embed_query(text=query)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in v] for v in self._inner.embed_documents([EmbedItem(text=t) for t in texts])]

    return Local()


def _pdf_reader():
    from llama_index.core.readers.base import BaseReader
    from llama_index.core.schema import Document

    class PdfPages(BaseReader):
        """One Document per page, metadata page_label + file_name (as the default PDFReader)."""

        def load_data(self, file, extra_info=None, fs=None):
            import pypdf

            reader = pypdf.PdfReader(str(file))
            return [Document(text=p.extract_text() or "", metadata={"page_label": str(i + 1), "file_name": file.name,
                                                                    **(extra_info or {})})
                    for i, p in enumerate(reader.pages)]

    return PdfPages()


def llamaindex(cases) -> dict:
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex

    Settings.tokenizer = str.split
    t = time.perf_counter()
    docs = SimpleDirectoryReader(str(COURSE), recursive=True, required_exts=[".pdf", ".vtt", ".srt"],
                                 file_extractor={".pdf": _pdf_reader()}).load_data()
    index = VectorStoreIndex.from_documents(docs, embed_model=_embed_model())
    ingest_s = time.perf_counter() - t
    retriever = index.as_retriever(similarity_top_k=K)

    def rows(question: str) -> list[dict]:
        out = []
        for rank, n in enumerate(retriever.retrieve(question), start=1):
            path = Path(n.node.metadata.get("file_path", ""))
            if path.suffix == ".pdf":
                out.append({"rank": rank, "source": path.relative_to(COURSE).as_posix(), "kind": "pdf",
                            "pages": [int(n.node.metadata["page_label"])], "start": None, "end": None})
            else:
                times = [_seconds(m) for m in _TS.finditer(n.node.get_content())]
                out.append({"rank": rank, "source": _media_of(path), "kind": "video", "pages": None,
                            "start": min(times) if times else None, "end": max(times) if times else None})
        return out

    return {"ingest_s": round(ingest_s, 2), "nodes": len(index.docstore.docs), **_score(cases, rows)}


def lecturelens(cases) -> dict:
    from ingest.pipeline import ingest_paths
    from rag.factory import build
    from rag.retrieval import Query
    from rag.settings import load_settings

    shutil.rmtree(WORK, ignore_errors=True)
    services = build(load_settings(index_dir=WORK / "index", embedding={"provider": "local"}), create=True)
    t = time.perf_counter()
    report = ingest_paths([COURSE], services, show_progress=False)
    ingest_s = time.perf_counter() - t

    def rows(question: str) -> list[dict]:
        from rag.contracts import hit_json

        return [hit_json(i, h) for i, h in enumerate(services.retriever.search(Query(text=question), K).hits, start=1)]

    return {"ingest_s": round(ingest_s, 2), "vectors": report.vectors, **_score(cases, rows)}


def _score(cases, rows_of) -> dict:
    from eval.metrics import first_rank

    ranks = [first_rank(rows_of(c.question), c.expected) for c in cases]
    by_kind: dict[str, list[bool]] = {}
    for c, r in zip(cases, ranks, strict=True):
        by_kind.setdefault(c.family, []).append(r is not None and r <= K)
    return {"hit@5": round(sum(r is not None and r <= K for r in ranks) / len(cases), 3),
            "hit@1": round(sum(r == 1 for r in ranks) / len(cases), 3),
            "hit@5_by_family": {f: round(sum(v) / len(v), 3) for f, v in sorted(by_kind.items())}}


def main(argv: list[str] | None = None) -> dict:
    from eval.datasets import load_dataset

    cases = [c for c in load_dataset(DATASET).cases if c.question and c.image is None and not c.unanswerable]
    res: dict = {"load_avg_start": os.getloadavg(), "cases": len(cases)}
    res["llamaindex"] = llamaindex(cases)
    res["lecturelens"] = lecturelens(cases)
    res["ratio"] = {"ingest_time_lecturelens_over_llamaindex":
                    round(res["lecturelens"]["ingest_s"] / res["llamaindex"]["ingest_s"], 1),
                    "hit@5_lecturelens_over_llamaindex":
                    round(res["lecturelens"]["hit@5"] / max(res["llamaindex"]["hit@5"], 1e-9), 2)}
    note = ("LectureLens ingests the whole course (videos: decode, keyframes, OCR/deck text, alignment; audio; "
            "PDF renders); LlamaIndex only the PDFs and caption files. Shared machine, see load_avg.")
    return save_result(OUT, res, note, echo=True)


if __name__ == "__main__":
    main()
