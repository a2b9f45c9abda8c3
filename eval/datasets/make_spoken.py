"""Spoken lectures over the real devcorpus decks, and the eval dataset that asks about them.

    .venv/bin/python eval/datasets/make_spoken.py            # prints the generated dataset's path
    .venv/bin/python eval/datasets/make_spoken.py --script   # the narration, sentence by sentence

For each deck listed in `devcorpus-spoken.cases.yaml` (a subset of its pages, so ingest stays cheap) it
writes a lecture video: the pages shown in order, full frame and letterboxed (640x360, 1 fps), each for as
long as its narration; the narration is espeak-ng reading sentences cleaned from the page's text layer
(bullets joined across line breaks; URLs, code, tick labels and formula fragments dropped), so every
WebVTT cue (one per sentence) has exact times. `truth.json` records each page's time span and each
sentence's span; `devcorpus-spoken.yaml` is the eval dataset: the cases file's questions with their
`said` phrase resolved to the span of the one sentence that says it, plus the devcorpus set's `near` cases.

Media are never committed: everything goes to `bench/.cache/spoken/<key>/` (gitignored), where `<key>`
hashes what the media depend on (the narration, the decks and page lists, the helpers reused from
examples/make_course.py, the espeak-ng version), so a second run reuses them and only rewrites the YAML.
Same inputs give byte-identical files (the helpers encode bit-exact, single-threaded).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CASES = HERE / "devcorpus-spoken.cases.yaml"
DEVCORPUS = HERE / "devcorpus.yaml"
CACHE = ROOT / "bench" / ".cache" / "spoken"
DATASET_FILE = "devcorpus-spoken.yaml"
MEDIA_VERSION = 1  # bump when the frames or timing written here change
FPS = 1  # slides change on whole seconds; enough for eval (real frame rates are bench/capture_course.py's)
MAX_SENTENCES = 4  # narrated per page
MAX_WORDS = 40  # a longer "sentence" is a run-on table row, not speech

_BULLET = re.compile(r"^\s*(?:[\u2022\u2713\u2726\u25aa\u25e6\u2023\u25cf\u25cb\u25a0\u25a1\u27a2\u25ba*\-\u2013\u2014]"
                     r"|\d+(?:\.\d+)+)\s*")
_URL = re.compile(r"https?://\S+|www\.\S+|\S+\.(?:com|org|html|edu|be)\b\S*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019\-]+")
_CODE = re.compile(r"[<>{}|$=~\[\]\\_^]|\(\s*\)|\bT\(|\.\.\.")
_JOINERS = (",", "-", "(", " and", " or", " of", " the", " to", " for", " with", " a", " in", " on")
_DANGLING = {"as", "on", "of", "the", "to", "for", "with", "and", "or", "a", "in", "include", "e.g", "eg", "cf"}


def _items(text: str) -> list[str]:
    """The page's bullets/lines, continuation lines joined to the item they continue."""
    out: list[str] = []
    for raw in text.splitlines():
        line = _URL.sub("", raw).strip()
        bullet = bool(_BULLET.match(line))
        while _BULLET.match(line) and _BULLET.sub("", line, count=1) != line:
            line = _BULLET.sub("", line, count=1).strip()
        if not line:
            continue
        if out and not bullet and (line[0].islower() or out[-1].endswith(_JOINERS)):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


def _sentence(item: str) -> str | None:
    """A speakable sentence from one item, or None (code, numbers, labels, fragments)."""
    toks = item.split()
    words = _WORD.findall(item)
    if len(words) < 4 or len(words) < 0.75 * len(toks) or len(toks) > MAX_WORDS or _CODE.search(item):
        return None
    if len({w.lower() for w in words}) < 0.7 * len(words) or not item[0].isalnum():
        return None  # a diagram's repeated labels ("iBGP iBGP eBGP"), a fragment starting mid-phrase
    s = re.sub(r"\s+", " ", item).strip(" ;:,.-")
    if s.split()[-1].lower().strip(".,;:-") in _DANGLING:
        return None  # a line cut mid-sentence
    s = s.replace("&", "and").replace(" e.g.", " for example").replace("E.g.", "For example")
    return s[0].upper() + s[1:] + ("" if s.endswith(("?", "!")) else ".")


def narration(page_text: str) -> list[str]:
    """Up to MAX_SENTENCES sentences a lecturer would read from a page's cleaned text layer."""
    seen: list[str] = []
    for item in _items(page_text):
        s = _sentence(item)
        if s and s not in seen:
            seen.append(s)
    return seen[:MAX_SENTENCES]


def deck_pages(pdf: Path) -> list[str]:
    """Every page's cleaned text (the cleaning ingest applies: running headers/footers removed)."""
    import pypdfium2 as pdfium

    from ingest.pdftext import clean_deck

    doc = pdfium.PdfDocument(str(pdf))
    try:
        raw = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()
    # The narration script (and the committed cases that name its sentences) was written from the text as
    # ingest cleaned it before unmapped bullet glyphs became bullets (the VPN deck); keep it as it was, so the
    # spoken set and its cached media stay the same.
    return clean_deck(raw, glyph_bullets=False)[0]


def load_cases(path: Path = CASES) -> dict[str, Any]:
    """The committed cases file: corpus folder, lectures (deck + pages) and questions."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def scripts(spec: dict[str, Any], base: Path = HERE) -> dict[str, list[tuple[int, list[str]]]]:
    """Per lecture key: (page, its sentences) in the order shown; pages without a sentence are skipped."""
    corpus = (base / spec["corpus"]).resolve()
    out = {}
    for key, lec in spec["lectures"].items():
        texts = deck_pages(corpus / lec["deck"])
        pages = [(p, narration(texts[p - 1])) for p in lec["pages"]]
        out[key] = [(p, ss) for p, ss in pages if ss]
    return out


def _espeak_version() -> str:
    try:
        return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"espeak-ng is needed to narrate the spoken lectures ({e}). Install it: "
                         "sudo apt-get install espeak-ng (or `make sysdeps`).") from e


def media_key(spec: dict[str, Any], base: Path = HERE) -> str:
    """Hash of everything the media depend on: the narration itself (so a change of the cleaning shows),
    the decks, the helpers reused from examples/make_course.py, the espeak-ng version and MEDIA_VERSION
    (bump it when the frames or the timing here change). Not the questions: editing one rewrites the YAML only."""
    h = hashlib.sha256(f"{MEDIA_VERSION}:{FPS}".encode())
    h.update((ROOT / "examples" / "make_course.py").read_bytes())
    corpus = (base / spec["corpus"]).resolve()
    h.update(json.dumps(scripts(spec, base), sort_keys=True).encode())
    for key, lec in sorted(spec["lectures"].items()):
        h.update(json.dumps([key, lec["deck"], lec["video"], lec["pages"]]).encode())
        h.update(hashlib.sha256((corpus / lec["deck"]).read_bytes()).digest())
    h.update(_espeak_version().encode())
    return h.hexdigest()[:16]


def _letterboxed(pdf: Path, pages: list[int], w: int, h: int) -> dict[int, Any]:
    """Pages rendered to fit w x h, centred on white (decks are 4:3 or 16:9; the video is 16:9)."""
    import pypdfium2 as pdfium
    from PIL import Image

    doc = pdfium.PdfDocument(str(pdf))
    out = {}
    try:
        for p in pages:
            page = doc[p - 1]
            scale = min(w / page.get_width(), h / page.get_height())
            img = page.render(scale=scale).to_pil().convert("RGB")
            img.thumbnail((w, h), Image.LANCZOS)
            frame = Image.new("RGB", (w, h), (255, 255, 255))
            frame.paste(img, ((w - img.width) // 2, (h - img.height) // 2))
            out[p] = frame
    finally:
        doc.close()
    return out


def _make_media(spec: dict[str, Any], folder: Path, base: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from examples import make_course as mc

    corpus = (base / spec["corpus"]).resolve()
    course = folder / "course"
    shutil.rmtree(course, ignore_errors=True)
    (course / "lectures").mkdir(parents=True)
    vcodec = mc.pick_video_codec()
    truth: dict[str, Any] = {"generator": "eval/datasets/make_spoken.py", "fps": FPS, "lectures": {}}
    counter = [0]
    with tempfile.TemporaryDirectory() as td:
        for key, pages in scripts(spec, base).items():
            lec = spec["lectures"][key]
            segs = [mc.Seg(p, [(s, f"{key}:p{p}:{j}") for j, s in enumerate(ss)]) for p, ss in pages]
            track = mc.build_track(segs, Path(td), counter, 1 / FPS)
            frames = _letterboxed(corpus / lec["deck"], [p for p, _ in pages], mc.W, mc.H)
            timeline = track.timeline

            def frame_for(t: float, timeline=timeline, frames=frames):
                page = next((s["page"] for s in timeline if s["start"] <= t + 1e-9 < s["end"]), timeline[-1]["page"])
                return frames[page]

            video = course / lec["video"]
            mc.encode_video(video, track, frame_for, vcodec, fps=FPS)
            mc.write_vtt(video.with_suffix(".vtt"), track.cues)
            truth["lectures"][key] = {"video": lec["video"], "deck": lec["deck"], "duration": round(track.duration, 3),
                                      "pages": timeline, "cues": track.cues}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _resolve(truth: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """A cases-file entry as a dataset case: `said: [lecture, phrase, ...]` becomes the span of each sentence
    saying one of the phrases (any of them is a right answer)."""
    key, *phrases = case["said"]
    lec = truth["lectures"][key]
    expected = []
    for phrase in phrases:
        found = [c for c in lec["cues"] if phrase.lower() in c["text"].lower()]
        if len(found) != 1:
            raise SystemExit(f"{CASES.name}: case {case['id']}: the phrase {phrase!r} is said in {len(found)} "
                             f"sentences of lecture {key!r} (needs exactly one). Make the phrase more specific.")
        expected.append({"source": lec["video"], "start": found[0]["start"], "end": found[0]["end"]})
    return {**{k: v for k, v in case.items() if k != "said"}, "expected": expected}


def write_dataset(spec: dict[str, Any], folder: Path) -> Path:
    """The dataset YAML next to the generated course: resolved cases + the devcorpus `near` cases."""
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    cases = [_resolve(truth, c) for c in spec["cases"]]
    near = [c for c in yaml.safe_load(DEVCORPUS.read_text(encoding="utf-8"))["cases"] if c["id"].startswith("near-")]
    data = {"name": spec["name"], "corpus": "course", "cases": cases + near}
    path = folder / DATASET_FILE
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    header = (f"# Generated by eval/datasets/make_spoken.py from {CASES.name} (do not edit; edit that file).\n"
              "# Families: spk = a paraphrase of one narrated sentence; sib = a short generic question answered in\n"
              "# one lecture while a sibling lecture uses the same words; near = the devcorpus set's neighbouring\n"
              "# topics (decline); xspk, yspk, zspk, wspk, vspk, uspk = held-out paraphrases (same rules as spk).\n")
    tmp.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    tmp.replace(path)
    return path


def generate(cache: Path = CACHE, cases: Path = CASES) -> Path:
    """The dataset YAML over the spoken lectures, generating the media first when they are not cached."""
    spec = load_cases(cases)
    folder = cache / media_key(spec, cases.parent)
    if not (folder / "truth.json").is_file():
        tmp = cache / f"{folder.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _make_media(spec, tmp, cases.parent)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: its media are the same bytes
            shutil.rmtree(tmp, ignore_errors=True)
    return write_dataset(spec, folder)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=CACHE, help="Folder for generated media (gitignored).")
    ap.add_argument("--script", action="store_true", help="Print the narration and exit (no media).")
    args = ap.parse_args(argv)
    if args.script:
        for key, pages in scripts(load_cases()).items():
            for p, ss in pages:
                for j, s in enumerate(ss):
                    print(f"{key} p{p}.{j}: {s}")
        return
    print(generate(args.cache))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
