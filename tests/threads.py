"""Run a function in several threads at once and collect what they raise (thread-safety tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def errors_in_threads(work: Callable[[int], None], n: int = 4) -> list[BaseException]:
    """`work(k)` for k in 0..n-1, each in its own thread, all started together; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(k: int) -> None:
        start.wait()
        try:
            work(k)
        except BaseException as e:  # noqa: BLE001 - collected for the caller's assertion
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
