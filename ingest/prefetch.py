"""Run per-file work one file ahead on a background thread, so two cores work on two files.

Ingest has two halves per file: extraction (decode, keyframes, deck search, OCR, picture features) and
committing (embedding, store, manifest). Decoding (PyAV), OCR (onnxruntime), OpenCV and the MiniLM
matrix products (BLAS) release the GIL, so extracting file i+1 on a thread while file i is embedded uses
the second core without a process pool's copies. At most two files' extractions are in memory at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetched(items: Iterable[T], work: Callable[[T], R]) -> Iterator[tuple[T, Future[R]]]:
    """Each item with the future of `work(item)`; the next item's work starts as this one is handed out.

    `future.result()` re-raises the work's exception, so the caller's per-item error handling stays where
    it was. Items are handed out in order.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-prefetch") as pool:
        todo = iter(items)
        ahead: deque[tuple[T, Future[R]]] = deque()

        def start_next() -> None:
            for item in todo:
                ahead.append((item, pool.submit(work, item)))
                return

        start_next()
        while ahead:
            item, future = ahead.popleft()
            start_next()
            yield item, future
