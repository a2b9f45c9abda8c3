"""rag/index.py is the one home of the on-disk index: names, records, paths (and nobody else spells them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.index import (
    IndexMeta,
    Manifest,
    ManifestEntry,
    ViewName,
    keyframe_image,
    page_render,
    read_meta,
    source_media_dir,
    split_vector_id,
    vector_id,
    write_meta,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rag", "ingest", "agent", "eval")
HOME = ROOT / "rag" / "index.py"

# Ways a module could spell an index name itself instead of asking rag/index.py.
STRAY = {
    "view name literal": re.compile(r"""(?<![\w.])f?["'](?:kf|p\{)|["'](?:seg|slice)["']"""),
    "view name test": re.compile(r"""startswith\(\s*f?["'](?:kf|p)["']"""),
    "index file name": re.compile(r"""["'](?:manifest|alignment|index)\.(?:json|npz)["']"""),
    "index folder name": re.compile(r"""/\s*["'](?:media|images|chroma|lexical|ocr_cache|transcripts)["']"""),
    "vector id format": re.compile(r"""(?:\.id|chunk_id|cid)\}:"""),
    "vector id parse": re.compile(r"""\.r(?:split|partition)\(\s*["']:["']"""),  # ids split on the last ':'
    "media folder name": re.compile(r"""/\s*[\w.]*sha(?:256)?\[:\d+\]"""),
}

# Lines of the code before rag/index.py existed: the scanner must flag every one of them.
OLD_LINES = [
    'file = kf_dir / f"kf_{t:.1f}.jpg"',
    'name = f"kf{t:.1f}"',
    'views.append(View(name=f"p{page}", item=item))',
    'views.append(View(name="slice", item=item))',
    'view = View(name="seg", item=item)',
    'if v.chunk.id not in by_chunk or v.view == "seg":',
    'return next((k.slide for k in seg.keyframes if f"kf{k.t:.1f}" == v.view), None)',
    'kfs = [v for v in view_names if v.startswith("kf")]',
    'if view.startswith("p") and view[1:].isdigit():',
    'view = key.rsplit(":", 1)[1]',
    'return f"{rec.chunk_id}:{rec.view}"',
    'ocr = video.ocr.get(f"{chunk.id}:kf{t:.1f}", "")',
    'manifest_path = index / "manifest.json"',
    'INDEX_META = "index.json"',
    'FILE = "alignment.json"',
    'return self.settings.index_dir / "media"',
    'image_index = ImageIndex(settings.index_dir / "images")',
    'media_dir = services.media_dir / ex.source.sha256[:12]',
    'out_dir = media_dir / sha[:12]',
    'for name in (f"p{page}.png", f"p{page}.jpg"):',
    'ex.images += [ImageRecord(chunk_id=cid, path=out_dir / f"p{p}.png", page=p)]',
]


def stray_names(text: str) -> list[str]:
    """`what: line` for every line of `text` that spells an index name itself."""
    out = []
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        for what, pattern in STRAY.items():
            if pattern.search(code):
                out.append(f"{what}: {line.strip()}")
    return out


@pytest.mark.parametrize("line", OLD_LINES)
def test_the_scanner_flags_the_old_ad_hoc_names(line):
    assert stray_names(line), line


def test_no_module_but_rag_index_spells_view_or_media_names():
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if path == HOME or "datasets" in path.parts:  # eval/datasets: query-photo generator, no index
                continue
            found += [f"{path.relative_to(ROOT)}: {hit}" for hit in stray_names(path.read_text())]
    assert found == [], "format/parse these names with rag.index instead:\n" + "\n".join(found)


def test_agent_imports_nothing_from_ingest():
    pattern = re.compile(r"^\s*(?:from|import)\s+ingest\b", re.M)
    bad = [p.relative_to(ROOT).as_posix() for p in (ROOT / "agent").rglob("*.py") if pattern.search(p.read_text())]
    assert bad == []


@pytest.mark.parametrize("name, view", [
    ("seg", ViewName("seg")), ("slice", ViewName("slice")), ("p14", ViewName("page", page=14)),
    ("kf12.5", ViewName("keyframe", t=12.5)), ("kf0.0", ViewName("keyframe", t=0.0)),
])
def test_view_names_round_trip(name, view):
    assert ViewName.parse(name) == view
    assert str(view) == name


@pytest.mark.parametrize("bad", ["", "p", "p0", "p-1", "kf", "kf12", "kf1.25", "page3", "segment", "P3", "kf_1.0"])
def test_malformed_view_names_are_rejected(bad):
    with pytest.raises(ValueError):
        ViewName.parse(bad)
    assert ViewName.try_parse(bad) is None


def test_keyframe_names_round_to_a_tenth_like_their_files(tmp_path):
    assert str(ViewName.keyframe(26.6)) == "kf26.6"
    assert str(ViewName.keyframe(3.04)) == "kf3.0"
    assert keyframe_image(tmp_path, 26.64) == tmp_path / "kf_26.6.jpg"
    assert page_render(tmp_path, 9) == tmp_path / "p9.png"
    assert source_media_dir(tmp_path, "0123456789abcdef" * 4) == tmp_path / "0123456789ab"


def test_vector_ids_split_on_the_last_colon():
    vid = vector_id("abc123", ViewName.of_page(3))
    assert vid == "abc123:p3"
    assert split_vector_id(vid) == ("abc123", ViewName.of_page(3))
    assert split_vector_id("deck:kf1.5") == ("deck", ViewName.keyframe(1.5))
    for bad in ("abc123", ":p3", "abc:nope"):
        with pytest.raises(ValueError):
            split_vector_id(bad)


def test_manifest_reads_files_written_before_it_was_typed(tmp_path):
    """A manifest.json from the untyped version (extra and missing fields) still loads, and saves typed."""
    old = {"sources": {"slides/a.pdf": {
        "sha256": "ab" * 32, "kind": "pdf", "root": "/c", "path": "/c/slides/a.pdf", "title": "A",
        "fingerprint": "f" * 12, "chunks": 2, "vectors": 9, "duration_s": None, "page_count": 8,
        "has_captions": None, "media_dir": "/i/media/abab", "image_keys": ["x:p1", "x:p2"],
        "warnings": ["p. 3: no text"], "ingested_at": 1.5, "retired_field": 1},
        "lectures/v.mp4": {"sha256": "cd" * 32, "kind": "video", "chunks": 3, "vectors": 4}}}
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    m = Manifest(tmp_path)
    pdf = m.get("slides/a.pdf")
    assert pdf is not None and pdf.image_keys == ("x:p1", "x:p2") and pdf.page_count == 8
    video = m.get("lectures/v.mp4")
    assert video is not None and video.media_dir == "" and video.image_keys == ()
    assert m.under(Path("/c")) == ["slides/a.pdf"]
    m.put("audio/p.mp3", ManifestEntry(sha256="ef" * 32, kind="audio", chunks=1, vectors=1))
    again = json.loads((tmp_path / "manifest.json").read_text())["sources"]
    assert sorted(again) == ["audio/p.mp3", "lectures/v.mp4", "slides/a.pdf"]
    assert again["slides/a.pdf"]["image_keys"] == ["x:p1", "x:p2"] and again["slides/a.pdf"]["retired_field"] == 1
    m.drop("lectures/v.mp4")
    assert sorted(Manifest(tmp_path).sources) == ["audio/p.mp3", "slides/a.pdf"]


def test_index_meta_round_trips(tmp_path):
    assert read_meta(tmp_path) is None
    meta = IndexMeta(fingerprint="abc", provider="local", model="m", dimension=384, chunking={"ocr": True})
    write_meta(tmp_path / "new", meta)
    assert read_meta(tmp_path / "new") == meta
    assert json.loads((tmp_path / "new" / "index.json").read_text())["dimension"] == 384
