"""Eval dataset files: the contract people write by hand, and the errors that tell them what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eval.datasets import DatasetError, ExpectedPages, ExpectedSpan, load_dataset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "eval" / "datasets" / "sample-course.yaml"

GOOD = """\
name: my-course-v1
corpus: course
cases:
  - id: vid-01
    question: "what does the discount factor do?"
    expected:
      - {source: lectures/rl.mp4, start: 312.0, end: 398.0}
      - {source: slides/rl.pdf, pages: [7, 8]}
    must_mention: [discount]
  - id: img-01
    image: queries/fig.jpg
    expected: [{source: slides/rl.pdf, pages: [3]}]
  - id: unans-01
    question: "capital of Australia?"
    unanswerable: true
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "course" / "lectures").mkdir(parents=True)
    (tmp_path / "course" / "slides").mkdir()
    (tmp_path / "course" / "lectures" / "rl.mp4").write_bytes(b"x")
    (tmp_path / "course" / "slides" / "rl.pdf").write_bytes(b"x")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "fig.jpg").write_bytes(b"\xff\xd8")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    p = folder / "ds.yaml"
    p.write_text(text)
    return p


def test_good_file(folder):
    ds = load_dataset(write(folder, GOOD))
    assert ds.name == "my-course-v1" and ds.corpus == (folder / "course").resolve()
    vid, img, una = ds.cases
    assert vid.expected == (ExpectedSpan(source="lectures/rl.mp4", start=312.0, end=398.0),
                            ExpectedPages(source="slides/rl.pdf", pages=(7, 8)))
    assert vid.family == "vid" and vid.kinds == ("moment", "page") and vid.must_mention == ("discount",)
    assert img.image == (folder / "queries" / "fig.jpg").resolve() and img.question is None
    assert una.unanswerable and una.expected == ()
    assert [c.id for c in ds.select("img").cases] == ["img-01"]


def test_no_corpus_means_sources_are_not_checked(folder):
    ds = load_dataset(write(folder, GOOD.replace("corpus: course\n", "").replace("rl.mp4", "missing.mp4")))
    assert ds.corpus is None


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    must_mention: [discount]", "    must_mention: [discount]\n    answer: yes",
     "case 'vid-01' has unknown key(s) answer"),
    ("name: my-course-v1", "name: x\nversion: 2", "top level has unknown key(s) version"),
    ("{source: lectures/rl.mp4, start: 312.0, end: 398.0}",
     "{source: lectures/rl.mp4, start: 1, end: 2, page: 3}", "expected[0] has unknown key(s) page"),
    ("queries/fig.jpg", "queries/nope.jpg", "image queries/nope.jpg does not exist"),
    ('    question: "capital of Australia?"\n', "", "case 'unans-01' has neither `question` nor `image`"),
    ("pages: [3]", "pages: [0, 3]", "page 0 is below 1"),
    ("start: 312.0, end: 398.0", "start: 398.0, end: 312.0", "start 398 is after end 312"),
    ("start: 312.0, end: 398.0", "start: 312.0", "needs `start` and `end`"),
    ("pages: [3]", "pages: []", "`pages` must be a non-empty list"),
    ("lectures/rl.mp4, start", "lectures/other.mp4, start", "source lectures/other.mp4 is not in the corpus"),
    ("corpus: course", "corpus: nowhere", "corpus nowhere is not a folder"),
    ("  - id: img-01", "  - id: vid-01", "case id 'vid-01' appears twice"),
    ("    unanswerable: true", "", "case 'unans-01' has no `expected` locations"),
    ("    expected: [{source: slides/rl.pdf, pages: [3]}]",
     "    expected: [{source: slides/rl.pdf, pages: [3]}]\n    unanswerable: true",
     "unanswerable but lists `expected`"),
    ("  - id: unans-01", "  - question: hi\n    unanswerable: true\n  - id: unans-01", "case #3 has no `id`"),
    ("[discount]", "discount", "`must_mention` must be a list"),
])
def test_errors_name_the_problem(folder, old, new, message):
    assert old in GOOD
    with pytest.raises(DatasetError, match=re.escape(message)) as info:
        load_dataset(write(folder, GOOD.replace(old, new)))
    assert "ds.yaml" in str(info.value)


def test_not_yaml_or_missing(folder):
    with pytest.raises(DatasetError, match="not valid YAML"):
        load_dataset(write(folder, "name: [x\n"))
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(folder / "nope.yaml")
    with pytest.raises(DatasetError, match="`name` is missing"):
        load_dataset(write(folder, "cases: []\n"))


def test_sample_course_dataset_is_valid_and_big_enough():
    ds = load_dataset(SAMPLE)
    families: dict[str, int] = {}
    for c in ds.cases:
        families[c.family] = families.get(c.family, 0) + 1
    # held out: xunans (session 16), yunans, zunans and wunans (session 17), vunans (session 18), uunans (session 19)
    assert set(families) == {"vid", "page", "img", "unans", "xunans", "yunans", "zunans", "wunans", "vunans",
                             "uunans"}
    assert all(n >= 20 for n in families.values()), families
    assert any(c.image is not None for c in ds.cases if c.family == "unans")
    assert all(c.image is not None for c in ds.cases if c.family == "img")
    total = sum(p.stat().st_size for p in (SAMPLE.parent / "queries").iterdir())
    assert total < 2_000_000


def course_words(course: Path) -> list[str]:
    """Every word the sample course says or shows: the deck's text layer, the caption files, and the narration
    of the captionless lecture and any other cue (examples/course_truth.json, what make_course.py spoke)."""
    import json
    import unicodedata

    import pypdfium2 as pdfium

    texts = []
    for pdf in sorted(course.rglob("*.pdf")):
        doc = pdfium.PdfDocument(str(pdf))
        try:
            texts += [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
        finally:
            doc.close()
    texts += [p.read_text(encoding="utf-8") for p in sorted(course.rglob("*")) if p.suffix in (".vtt", ".srt")]
    truth = json.loads((course.parent / "course_truth.json").read_text(encoding="utf-8"))
    texts += [c["text"] for media in (truth["videos"], truth["audio"]) for m in media.values() for c in m["cues"]]
    texts += [p["text"] for p in truth["pages"]]
    text = unicodedata.normalize("NFKC", "\n".join(texts)).lower().replace("\u2019", "'")
    return re.findall(r"[^\W_]+", text)


def test_sample_course_neighbouring_terms_appear_nowhere_in_the_course():
    """`absent` terms (the held-out `xunans`, `yunans`, `zunans`, `wunans`, `vunans` and `uunans` families) are nowhere
    in the course: as words, as a phrase, or glued ("kfold"), like the devcorpus check; their ordinary words may be."""
    ds = load_dataset(SAMPLE)
    seq = course_words(ds.corpus)
    assert len(seq) > 500 and "centroid" in seq and "bellman" in seq  # the deck, captions and narration are read
    text = f" {' '.join(seq)} "
    glued = {"".join(seq[i:i + n]) for n in (1, 2, 3) for i in range(len(seq) - n + 1)}
    cases = [c for c in ds.cases if c.absent]
    assert len([c for c in cases if c.family == "xunans"]) == 20
    assert len([c for c in cases if c.family == "yunans"]) == 20
    assert len([c for c in cases if c.family == "zunans"]) == 20
    assert len([c for c in cases if c.family == "wunans"]) == 20
    assert len([c for c in cases if c.family == "vunans"]) == 20
    assert len([c for c in cases if c.family == "uunans"]) == 20
    found = []
    for case in cases:
        assert case.unanswerable, case.id
        q = re.findall(r"[^\W_]+", (case.question or "").lower())
        for term in case.absent:
            w = re.findall(r"[^\W_]+", term.lower())
            assert w and all(x in q for x in w), (case.id, term)  # the term is asked
            if f" {' '.join(w)} " in text or "".join(w) in glued:
                found.append((case.id, term))
    assert not found, found
