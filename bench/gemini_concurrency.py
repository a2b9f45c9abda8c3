"""The Gemini embedding path against the fake server (rag/testing/fake_gemini.py) with realistic latency:
300 ms per call and a 429 on ~1 call in 25 (the fake's seeded random quota errors), at gemini.concurrency
1 / 4 / 8 / 16.

Embeds the same 400 document items (text, every tenth with a small JPEG) through the real google-genai
client and GeminiEmbedder (batches of 10 -> 40 batchEmbedContents calls + retries) and reports wall time
and calls. This is the embedding stage of a Gemini ingest, the part concurrency changes; the
media work (clips, renders) is the offline pipeline's and is measured by bench/ingest_throughput.py.

    python -m bench.gemini_concurrency
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import save_result  # noqa: E402

OUT = ROOT / "bench/results/gemini_concurrency.json"
LATENCY_S = 0.3
EVERY_429 = 25
ITEMS = 400
BATCH = 10  # 40 calls; small batches keep the fake's own vector work (pure Python) out of the timing
LEVELS = (1, 4, 8, 16)


def _server():
    from rag.testing.fake_gemini import FakeGeminiServer

    fake = FakeGeminiServer(latency_s=LATENCY_S)
    fake.random_429(1 / EVERY_429, seed=9)  # ~ every 25th call answers a per-minute 429 (RetryInfo)
    return fake


def _items():
    import cv2
    import numpy as np

    from rag.types import EmbedItem, MediaPart

    jpg = cv2.imencode(".jpg", np.full((90, 160, 3), 200, np.uint8))[1].tobytes()
    return [EmbedItem(text=f"segment {i}: gradient descent steps along the negative gradient",
                      media=(MediaPart(mime_type="image/jpeg", data=jpg),) if i % 10 == 0 else ())
            for i in range(ITEMS)]


def main(argv: list[str] | None = None) -> dict:
    from pydantic import SecretStr

    from rag.embedders.gemini import GeminiEmbedder
    from rag.settings import GeminiSettings

    items = _items()
    res: dict = {"load_avg_start": os.getloadavg(), "latency_s": LATENCY_S, "every_429": EVERY_429,
                 "items": ITEMS, "levels": {}}
    with _server() as fake:
        for c in LEVELS:
            settings = GeminiSettings(base_url=fake.url, concurrency=c, batch_size=BATCH, retries=5,
                                      retry_initial_s=0.2, retry_max_s=1.0, timeout_s=30)
            emb = GeminiEmbedder(settings, SecretStr("fake-key"))
            before = len(fake.requests)
            t = time.perf_counter()
            vecs = emb.embed_documents(items, label="bench")
            wall = time.perf_counter() - t
            assert len(vecs) == ITEMS
            calls = len(fake.requests) - before
            res["levels"][str(c)] = {"wall_s": round(wall, 2), "calls": calls,
                                     "items_per_s": round(ITEMS / wall, 1)}
            print(c, res["levels"][str(c)])
    base = res["levels"]["1"]["wall_s"]
    for v in res["levels"].values():
        v["speedup_vs_1"] = round(base / v["wall_s"], 2)
    note = "fake server on loopback; see load_avg for how busy the machine was"
    return save_result(OUT, res, note)


if __name__ == "__main__":
    main()
