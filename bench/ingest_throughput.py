"""Offline ingest throughput on a generated lecture-capture course (bench/capture_course.py: 25 fps 720p
H.264 with B-frames, a keyframe every 5 s, captions, a speaker box; decks with a text layer): real-time
factor (wall and CPU), pages/s, peak RSS, time by stage, and re-ingest of the unchanged course.

Before/after in the same run, on one lecture of the course and its deck: "before" is the code of main
when this work started (BEFORE_REF, exported with `git archive` into bench/.cache/ and run with its own
bench child), "after" this tree's. The whole course (>= 2 h of video + >= 200 pages) runs with this tree
only: the old code would take ~25 min for it.

Every ingest runs in its own process (so peak RSS is its own and model loads are paid as a user pays
them). Stage times wrap the stage functions and add up wall seconds per stage across threads (extraction
of the next file overlaps embedding of this one, so stages sum to more than the wall time); `thread CPU`
is the CPU of the thread running the stage (the BLAS and onnxruntime helper threads are not in it, they
are in the process CPU). Stages: analyse = decode for slide changes + audio loudness; keyframes = seek +
decode + JPEG; deck = keyframe search against the deck pages; ocr; describe = picture features for the
image index; pdf = text + render (+ OCR of textless pages); embed; store; align.

    python -m bench.ingest_throughput [--minutes 120] [--lectures 8] [--pages 200] [--no-before]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import save_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench/results/ingest_throughput.json"
WORK = ROOT / "bench/.cache/ingest_throughput"
BEFORE_REF = "a6ea9b8"  # main when the ingest speed work of issue 9 (this round) started


def _timed(stages: dict[str, float], name: str, fn):
    """fn, adding its wall seconds to stages[name] and its thread's CPU seconds to stages[name + "_cpu"]."""

    def run(*a, **k):
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - t
            stages[name + "_cpu"] = stages.get(name + "_cpu", 0.0) + time.thread_time() - c

    return run


def run_ingest(course: Path, index: Path) -> dict:
    """Ingest in this process with stage timers (default settings); the report and the stage split."""
    import ingest.align as align
    import ingest.deck_text as deck_text
    import ingest.pdf as pdf
    import ingest.pipeline as pipeline
    import ingest.video as video
    import rag.ocr as ocr
    from rag.factory import build
    from rag.settings import load_settings
    from rag.store import ChromaStore

    stages: dict[str, float] = {}
    video._analyse = _timed(stages, "analyse", video._analyse)
    video._grab_keyframes = _timed(stages, "keyframes", video._grab_keyframes)
    ocr.ocr_text = _timed(stages, "ocr", ocr.ocr_text)
    align.align_index = _timed(stages, "align", align.align_index)
    pdf.extract_pdf = _timed(stages, "pdf", pdf.extract_pdf)
    pipeline.describe = _timed(stages, "describe", pipeline.describe)
    ChromaStore.add_many = _timed(stages, "store", ChromaStore.add_many)
    deck_text.DeckText.__call__ = _timed(stages, "deck", deck_text.DeckText.__call__)
    marks: dict[str, float] = {}
    extract_video = video.extract_video

    def first_video(*a, **k):  # decks are committed before the first video is extracted
        marks.setdefault("videos_start", time.perf_counter())
        return extract_video(*a, **k)

    video.extract_video = first_video
    t, c = time.perf_counter(), time.process_time()
    settings = load_settings(index_dir=index, embedding={"provider": "local"})
    services = build(settings, create=True)
    services.embedder.embed_documents = _timed(stages, "embed", services.embedder.embed_documents)
    report = pipeline.ingest_paths([course], services, show_progress=False)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "ingest_paths_s": report.seconds,
            # process start to the first video: every deck extracted, embedded and stored (model loads included)
            "decks_s": round(marks.get("videos_start", time.perf_counter()) - t, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "stages_s": {k: round(v, 2) for k, v in sorted(stages.items()) if not k.endswith("_cpu")},
            "stages_thread_cpu_s": {k[:-4]: round(v, 2) for k, v in sorted(stages.items()) if k.endswith("_cpu")},
            "report": {k: report.to_json()[k] for k in ("chunks", "vectors", "failed", "ocr_cache", "alignment")},
            "ingested": len(report.ingested), "skipped": len(report.skipped)}


def _child(course: Path, index: Path, tree: Path = ROOT, extra: tuple[str, ...] = ()) -> dict:
    """One ingest in a new process of the code in `tree`; its JSON line, process wall time and load."""
    cmd = [sys.executable, "-m", "bench.ingest_throughput", "--child", str(course), "--index", str(index), *extra]
    load0 = os.getloadavg()
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, timeout=3600,
                         env={**os.environ, "PYTHONPATH": str(tree)})
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(time.perf_counter() - t, 2)  # interpreter start and imports included
    out["load_avg_start"] = load0
    return out


def _before_tree() -> Path:
    """BEFORE_REF's files (git archive), once."""
    dest = ROOT / "bench/.cache" / f"tree-{BEFORE_REF}"
    if not (dest / "ingest").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE_REF], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def _subset(course: Path, dest: Path) -> Path:
    """The first lecture, its captions and its deck, as a course folder of symlinks."""
    shutil.rmtree(dest, ignore_errors=True)
    for rel in ("lectures/lecture01.mp4", "lectures/lecture01.vtt", "slides/lecture01.pdf"):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).symlink_to(course / rel)
    return dest


def _rates(r: dict, video_s: float, pages: int | None = None) -> dict:
    r["real_time_factor"] = round(video_s / r["wall_s"], 1)  # video seconds per wall second
    r["video_s_per_cpu_s"] = round(video_s / r["cpu_s"], 1)  # per CPU second (all threads)
    if pages:  # end to end (text, render, picture features, embedding, store) and the extraction alone
        r["pages_per_s"] = round(pages / r["decks_s"], 1)
        r["pages_per_s_extraction"] = round(pages / r["stages_s"]["pdf"], 1) if r["stages_s"].get("pdf") else None
    return r


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--lectures", type=int, default=8)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--no-before", action="store_true", help="skip the before/after run on one lecture")
    ap.add_argument("--child")
    ap.add_argument("--index")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_ingest(Path(args.child), Path(args.index))))
        return {}
    from bench.capture_course import generate

    t = time.perf_counter()
    course = generate(args.minutes, args.lectures, args.pages)
    info = json.loads((course.parent / "course.json").read_text())
    video_s = sum(lec["seconds"] for lec in info["lectures"])
    pages = sum(d["pages"] for d in info["decks"])
    res: dict = {"load_avg_start": os.getloadavg(), "cpus": os.cpu_count(),
                 "course": {"video_s": video_s, "fps": info["fps"], "size": info["size"], "pages": pages,
                            "lectures": len(info["lectures"]),
                            "slides_shown": sum(lec["slides_shown"] for lec in info["lectures"]),
                            "generate_s": round(time.perf_counter() - t, 1)}}
    shutil.rmtree(WORK, ignore_errors=True)
    if not args.no_before:
        sub = _subset(course, WORK / "subset")
        sub_s = info["lectures"][0]["seconds"]
        # main's default then: OCR of every keyframe not in the OCR cache (--deck-text was opt-in)
        before = _rates(_child(sub, WORK / "sub_before", _before_tree(), ("--no-deck-text",)), sub_s)
        after = _rates(_child(sub, WORK / "sub_after"), sub_s)
        res["one_lecture"] = {"video_s": sub_s, "pages": info["decks"][0]["pages"], "before_ref": BEFORE_REF,
                              "before": before, "after": after,
                              "wall_speedup": round(before["wall_s"] / after["wall_s"], 2),
                              "cpu_speedup": round(before["cpu_s"] / after["cpu_s"], 2)}
    full = _rates(_child(course, WORK / "index"), video_s, pages)
    res["course_ingest"] = full
    res["peak_rss_mb"] = full["peak_rss_mb"]
    res["reingest_unchanged"] = _child(course, WORK / "index")
    note = ("2-core machine shared with other engineers' jobs (see load_avg); wall-clock seconds, CPU seconds of "
            "the ingest process (all threads); offline provider (MiniLM, RapidOCR); default ingest settings")
    return save_result(OUT, res, note, echo=True)


if __name__ == "__main__":
    main()
