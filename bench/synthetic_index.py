"""A synthetic LectureLens index of n chunks for the query and size benchmarks (a helper, not a benchmark).

One random unit vector per chunk at the given dimension; texts of 40-80 words drawn Zipf-like from a
20k-word vocabulary (the query words among its frequent ones, so BM25 has real postings to score); 70 % video
segments (`seg` views) and 30 % PDF pages (`p<n>` views). Written through `ChromaStore` in batches of 5,000,
with the on-disk lexical index and an `index.json`; at 384-d it is the offline embedder's space, so the real
`lecturelens search` opens it. `attach_pictures` adds bench/image_query.py's picture index (500 page renders +
3,000 keyframes) keyed to stored views, and `photos` are distorted phone photos of some of those pages.

Built indexes are cached under bench/.cache/query_latency/<n>-<dim>-<generator>-<fingerprint>/ (gitignored).
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench/.cache/query_latency"
DIM = 384
GENERATOR = 1  # bump when _chunks or the picture keys change: cached indexes are keyed by it
BATCH = 5000
QUERIES = ("how does the discount factor weight future rewards", "gradient descent learning rate schedule",
           "what is a convolution kernel", "explain k-means centroid initialisation",
           "bias variance trade-off in regression", "attention heads in a transformer",
           "dropout as regularisation", "bellman equation for the value function")
PHOTO_PAGES = range(0, 100, 8)  # page renders (by position) photographed for image queries; mapped at every size


def _vocab(n: int = 20_000) -> list[str]:
    rng = random.Random(1)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "fi", "gu", "ha", "je", "ku"]
    real = " ".join(QUERIES).replace("-", " ").split()
    words = list(dict.fromkeys(real))
    while len(words) < n:
        words.append("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))))
    return words


def _pdf_row(j: int) -> int:
    """The j-th PDF chunk's position (positions with i % 10 >= 7 are PDF pages)."""
    return (j // 3) * 10 + 7 + j % 3


def _video_row(j: int) -> int:
    return (j // 7) * 10 + j % 7


def view_id(i: int) -> str:
    """Vector id of the view of chunk i."""
    return f"v{i:06d}:seg" if i % 10 < 7 else f"d{i:06d}:p{i % 200 + 1}"


def chunks(n: int, dim: int = DIM) -> Iterator[tuple[Any, Any, np.ndarray]]:
    """(chunk, view, vector) triples, deterministic."""
    from rag.types import Chunk, EmbedItem, PageSpan, TimeSpan, View

    rng = np.random.default_rng(n)
    vocab = np.array(_vocab())
    zipf = 1 / np.arange(1, len(vocab) + 1) ** 1.05
    zipf /= zipf.sum()
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for i in range(n):
        text = " ".join(rng.choice(vocab, size=int(rng.integers(40, 81)), p=zipf))
        if i % 10 < 7:
            lec, seg = divmod(i, 300)
            chunk = Chunk(id=f"v{i:06d}", source=f"lectures/lecture{lec:03d}.mp4", source_sha256="b" * 64,
                          kind="video", title=f"Lecture {lec}",
                          locator=TimeSpan(start_s=seg * 20.0, end_s=seg * 20.0 + 20), text=text)
            view = View(name="seg", item=EmbedItem(text=text), text=text)
        else:
            deck, page = divmod(i, 200)
            chunk = Chunk(id=f"d{i:06d}", source=f"slides/deck{deck:03d}.pdf", source_sha256="c" * 64,
                          kind="pdf", title=f"deck{deck}", locator=PageSpan(first=page + 1, last=page + 1),
                          text=text, page_texts=(text,))
            view = View(name=f"p{page + 1}", item=EmbedItem(text=text), page=page + 1, text=text)
        yield chunk, view, vecs[i]


def bench_settings():
    """The settings `lecturelens` sees when run from the repository (its config.yaml), offline embedder."""
    from rag.settings import CONFIG_ENV, load_settings

    os.environ.setdefault(CONFIG_ENV, str(ROOT / "config.yaml"))
    return load_settings(embedding={"provider": "local"})


def space(dim: int) -> tuple[str, str, str]:
    """(provider, model, fingerprint) of the index: the offline embedder's space at its dimension."""
    from rag.embedders.local import LocalEmbedder
    from rag.settings import fingerprint

    provider, model = ("local", LocalEmbedder.model) if dim == LocalEmbedder.dimension else ("synthetic", "random")
    return provider, model, fingerprint(provider, model, dim, bench_settings().chunking_fingerprint())


def build(n: int, dim: int = DIM, cache: Path = CACHE) -> tuple[Path, dict]:
    """The cached index of n chunks (built once), and what building it took."""
    from rag.index import IndexMeta, vector_id, write_meta
    from rag.lexical_index import LexicalIndex
    from rag.store import ChromaStore, StoredView

    provider, model, fp = space(dim)
    d = cache / f"n{n}-d{dim}-g{GENERATOR}-{fp}"
    stamp = d / "built.json"
    if stamp.is_file():
        return d, {**json.loads(stamp.read_text()), "cached": True}
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    t0, c0 = time.perf_counter(), _cpu()
    write_meta(d, IndexMeta(fingerprint=fp, provider=provider, model=model, dimension=dim,
                            chunking=bench_settings().chunking_fingerprint()))
    store = ChromaStore(d, fp, space_meta={"provider": provider, "model": model, "dimension": dim})
    batch, written = [], []
    for chunk, view, vec in chunks(n, dim):
        batch.append((chunk, [view], [vec]))
        # what the store now holds, for the lexical index (reading 100k views back from Chroma takes ~30 s)
        written.append(StoredView(vector_id(chunk.id, view.name), chunk, view.name, view.page, view.text))
        if len(batch) == BATCH:
            store.add_many(batch)
            batch = []
    store.add_many(batch)
    t_store, c_store = time.perf_counter() - t0, _cpu() - c0
    t1 = time.perf_counter()
    if store.count() != n:
        raise RuntimeError(f"the store holds {store.count()} vectors after writing {n} ({d})")
    LexicalIndex.build(written, *store.state()).save(d)  # the state it matches: loaded, not rebuilt
    info = {"chunks": n, "dim": dim, "store_s": round(t_store, 1), "store_cpu_s": round(c_store, 1),
            "lexical_build_s": round(time.perf_counter() - t1, 1), "total_cpu_s": round(_cpu() - c0, 1),
            "load_avg": [round(x, 1) for x in os.getloadavg()], "disk_mb": round(disk_bytes(d) / 1e6, 1)}
    stamp.write_text(json.dumps(info))
    return d, {**info, "cached": False}


def disk_bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file() and f.name != "built.json")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------- pictures and photos for image queries


def _picture_keys() -> list[str]:
    """Keys of bench/image_query.py's picture index, built there (and cached) when missing."""
    from bench import image_query
    from rag.index import IMAGES_ARRAYS_FILE

    if not (image_query.CACHE / "index.json").is_file():
        image_query.build(image_query._pages(), image_query.CACHE)
    with np.load(image_query.CACHE / IMAGES_ARRAYS_FILE) as z:
        return [str(k) for k in z["keys"]]


def picture_ids() -> dict[str, str]:
    """Picture key -> stored vector id: page renders to PDF page views, keyframes to video segment views."""
    out, pages, frames = {}, 0, 0
    for key in _picture_keys():
        if key.startswith("page:"):
            out[key], pages = view_id(_pdf_row(pages)), pages + 1
        else:
            out[key], frames = view_id(_video_row(frames)), frames + 1
    return out


def attach_pictures(index: Path) -> None:
    """Give the index the picture index, keys mapped to its views (ids beyond its size stay unmatched,
    so search costs the same at every size)."""
    from bench import image_query
    from rag.index import IMAGES_ARRAYS_FILE, IMAGES_META_FILE, images_dir

    target = images_dir(index)
    if (target / IMAGES_META_FILE).is_file():
        return
    ids = picture_ids()
    with np.load(image_query.CACHE / IMAGES_ARRAYS_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["keys"] = np.array([ids[str(k)] for k in arrays["keys"]], dtype=str)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.savez(tmp / IMAGES_ARRAYS_FILE, **arrays)
    shutil.copy(image_query.CACHE / IMAGES_META_FILE, tmp / IMAGES_META_FILE)
    tmp.rename(target)


def photos() -> list[tuple[frozenset[str], Path]]:
    """Phone photos of pages in the picture index: (chunk ids showing that page, the JPEG), cached."""
    folder = CACHE / f"photos-g{GENERATOR}"
    listing = folder / "photos.json"
    if not listing.is_file():
        import cv2

        from bench import image_query
        from tests.synthetic_images import distort

        ids = picture_ids()
        pages = image_query._pages()
        names = list(pages)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        rows = []
        kinds = ("phone", "perspective", "crop60", "blur")
        for j, pos in enumerate(PHOTO_PAGES):
            name = names[pos]
            shows = sorted({ids[k].split(":")[0] for k in ids if k.split(":", 1)[1] == name})
            jpg = cv2.imencode(".jpg", distort(pages[name], kinds[j % len(kinds)], seed=j),
                               [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
            (tmp / f"q{j}.jpg").write_bytes(jpg)
            rows.append({"file": f"q{j}.jpg", "page": name, "chunks": shows})
        (tmp / "photos.json").write_text(json.dumps(rows, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    rows = json.loads(listing.read_text())
    return [(frozenset(r["chunks"]), folder / r["file"]) for r in rows]
