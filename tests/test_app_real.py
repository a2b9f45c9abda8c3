"""The chat over the real sample-course index: ten sessions at once through gradio_client (each gets its own
correct answers and history), and pictures at the edge of the size limits go through the whole search."""

from __future__ import annotations

import json
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.index import Manifest
from tests.conftest_course import COURSE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
]
TRUTH = json.loads((COURSE.parent / "course_truth.json").read_text())
SESSIONS = 10


def _text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def test_ten_sessions_at_once(sample_index):
    from gradio_client import Client

    from agent.app import serve
    from tests.test_app_browser import _free_port

    services = sample_index["services"]
    titles = {rel: e.title for rel, e in Manifest(services.index_dir).sources.items()}
    facts = [f for f in TRUTH["facts"] if f["source"].startswith("lectures/")][:SESSIONS]
    assert len(facts) == SESSIONS
    port = _free_port()
    demo = serve(services, "127.0.0.1", port, block=False, pause_s=0.05)
    latencies: list[float] = []

    def session(fact: dict) -> tuple[list[dict], str, str]:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = None
        for q in (fact["question"], "tell me more about that"):
            t = time.monotonic()
            out = client.predict({"text": q, "files": []}, [], [], api_name="/ask")
            latencies.append(time.monotonic() - t)
        chat, _box, panel, *_ = out
        return chat, panel, fact["question"]

    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        serial = []
        for fact in facts[:3]:  # one session alone, for comparison
            t = time.monotonic()
            client.predict({"text": fact["question"], "files": []}, [], [], api_name="/ask")
            serial.append(time.monotonic() - t)
        start = time.monotonic()
        with ThreadPoolExecutor(SESSIONS) as pool:
            results = list(pool.map(session, facts))
        wall = time.monotonic() - start
    finally:
        demo.close()

    for fact, (chat, panel, question) in zip(facts, results, strict=True):
        users = [_text(m) for m in chat if m["role"] == "user"]
        assert users == [question, "tell me more about that"]  # only this session's own questions
        answers = [_text(m) for m in chat if m["role"] == "assistant"]
        assert len(answers) == 2 and all("[S" in a for a in answers), answers
        # the follow-up was searched with this session's own previous question
        searched = re.search(r"searched as: “(.*?)”", answers[1]).group(1)
        own = {w.lower() for w in re.findall(r"\w+", question)}
        assert set(re.findall(r"\w+", searched.lower())) <= own | {"tell", "me", "more", "about", "that"}
        places = [titles[fact["source"]]] + [f"ml_basics.pdf p. {p}" for a in fact["also"] for p in a["pages"]]
        assert any(p in panel for p in places), (question, places, panel[:400])
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    print(f"\n{SESSIONS} sessions x 2 questions at once: wall {wall:.1f} s, per request p50 {p50:.2f} s, "
          f"p95 {p95:.2f} s, max {max(latencies):.2f} s; one session alone: {statistics.median(serial):.2f} s")


@pytest.mark.parametrize("w,h", [(64, 64), (16, 16), (16, 128), (400, 50)])
def test_small_and_thin_pictures_are_searched_without_errors(sample_index, tmp_path, w, h):
    import numpy as np
    from PIL import Image

    from agent.app import respond

    path = tmp_path / f"pic{w}x{h}.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    outs = list(respond(sample_index["services"], {"text": "", "files": [str(path)]}, None, None, None, pause_s=0))
    turn = outs[-1][3].turns[-1]
    assert turn.done and not turn.error and turn.declined  # noise matches no slide: a decline, not a crash
    assert "does not match" in outs[-1][0][-1]["content"]
