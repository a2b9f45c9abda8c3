"""The offline model stack: numpy MiniLM, OCR, classical slide matching, the fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.embedders.base import Embedder
from rag.embedders.fake import FakeEmbedder
from rag.embedders.local import LocalEmbedder
from rag.embedders.minilm import MiniLM, shared_minilm
from rag.errors import ConfigError
from rag.types import EmbedItem, MediaPart
from tests.synthetic_images import distort, make_slide, make_unrelated

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return shared_minilm()


def _png(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


# ---------------------------------------------------------------- MiniLM


def test_minilm_matches_sentence_transformers_reference(minilm: MiniLM) -> None:
    ref = json.loads((FIXTURES / "minilm_reference.json").read_text())
    texts = [it["text"] for it in ref["items"]]
    expected = np.array([it["embedding"] for it in ref["items"]], dtype=np.float64)
    got = minilm.encode(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    cos = (got * expected).sum(1) / np.linalg.norm(expected, axis=1)
    assert (cos > 0.9999).all(), dict(zip(texts, cos.round(6), strict=True))
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_minilm_order_and_batching_do_not_change_vectors(minilm: MiniLM) -> None:
    texts = ["short", "a somewhat longer sentence about eigenvalues of matrices", "x " * 400]
    together = minilm.encode(texts)
    alone = np.stack([minilm.encode([t])[0] for t in reversed(texts)])[::-1]
    assert np.allclose(together, alone, atol=1e-5)


def test_minilm_runs_on_one_blas_thread(minilm: MiniLM, monkeypatch) -> None:
    """A query's and an ingest batch's forward pass use one BLAS thread (threads spin on a busy machine), the
    process's setting is restored after, and the vectors do not depend on the batch."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> int:
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    default, seen = blas_threads(), []
    real = MiniLM._encode
    monkeypatch.setattr(MiniLM, "_encode", lambda self, texts, out: (seen.append(blas_threads()),
                                                                      real(self, texts, out))[1])
    one = minilm.encode(["the discount factor"])
    batch = minilm.encode(["the discount factor"] + [f"filler text {i}" for i in range(7)])
    assert seen == [1, 1] and blas_threads() == default
    assert np.allclose(one[0], batch[0], atol=1e-5)


def test_minilm_semantics(minilm: MiniLM) -> None:
    a, b, c = minilm.encode([
        "How does gradient descent find the minimum of a loss function?",
        "Gradient descent iteratively steps against the gradient to minimise the loss.",
        "The VPN router encapsulates packets in a GRE tunnel.",
    ])
    assert a @ b > a @ c + 0.3


def test_minilm_rejects_a_wrong_weights_hash() -> None:
    with pytest.raises(ConfigError, match=r"model\.safetensors.*sha256"):
        MiniLM(expected_sha256="0" * 64)


# ---------------------------------------------------------------- embedders


@pytest.mark.parametrize("embedder", [LocalEmbedder(), FakeEmbedder()], ids=["local", "fake"])
def test_embedders_follow_the_protocol(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    docs = [EmbedItem(title="Lecture 2", text="Bayes theorem relates the posterior to prior and likelihood"),
            EmbedItem(text="Routers forward packets through the MPLS backbone")]
    vecs = embedder.embed_documents(docs, label="week2.pdf")
    assert [len(v) for v in vecs] == [embedder.dimension] * 2
    q = embedder.embed_query("posterior distribution from the prior and likelihood")
    assert np.dot(q, vecs[0]) > np.dot(q, vecs[1])
    assert np.isclose(np.linalg.norm(q), 1.0, atol=1e-5)
    assert embedder.embed_query("   ") == []


def test_local_embedder_ignores_media_and_refuses_text_less_items() -> None:
    emb = LocalEmbedder()
    media_only = EmbedItem(media=(MediaPart(mime_type="image/png", data=b"\x89PNG"),))
    assert not emb.accepts(media_only)
    with pytest.raises(ValueError, match="week1.pdf"):
        emb.embed_documents([media_only], label="week1.pdf")


def test_fake_embedder_is_deterministic_and_graded() -> None:
    f = FakeEmbedder()
    a = f.embed_query("convergence of gradient descent")
    assert a == FakeEmbedder().embed_query("convergence of gradient descent")
    near = f.embed_query("gradient descent converges")  # shares words and trigrams
    far = f.embed_query("sequencing reads on a flow cell")
    assert np.dot(a, near) > 0.3 > np.dot(a, far)
    img = EmbedItem(media=(MediaPart(mime_type="image/png", data=b"abc"),))
    assert f.accepts(img)
    assert np.dot(f.embed_documents([img])[0], f.embed_query(image=b"abc")) > 0.99


# ---------------------------------------------------------------- OCR


@pytest.fixture(scope="module")
def titled_slide() -> np.ndarray:
    return make_slide(7, title="Gradient Descent Convergence")


def test_ocr_reads_a_rendered_slide_title(titled_slide: np.ndarray, tmp_path: Path) -> None:
    from rag.ocr import ocr_image, ocr_text

    lines = ocr_image(titled_slide)
    assert lines[0].text.strip() == "Gradient Descent Convergence"  # top line first
    assert len(lines[0].box) == 4 and 0 < lines[0].score <= 1
    path = tmp_path / "slide.png"
    path.write_bytes(_png(titled_slide))
    assert "Gradient Descent Convergence" in ocr_text(path)


def test_image_query_embeds_its_ocr_text(titled_slide: np.ndarray) -> None:
    emb = LocalEmbedder()
    v = emb.embed_query(image=_png(titled_slide))
    related = emb.embed_query("gradient descent convergence")
    unrelated = emb.embed_query("GRE tunnels between VPN sites")
    assert np.dot(v, related) > np.dot(v, unrelated)
    assert emb.embed_query(image=_png(np.full((200, 300, 3), 255, np.uint8))) == []


# ---------------------------------------------------------------- vision


@pytest.fixture(scope="module")
def slide_index(tmp_path_factory: pytest.TempPathFactory):
    from rag.image_index import ImageIndex

    index = ImageIndex(tmp_path_factory.mktemp("images"))
    slides = [make_slide(i) for i in range(20)]
    for i, s in enumerate(slides):
        index.add(f"deck:p{i + 1}", s)
    index.save()
    return index, slides


@pytest.mark.parametrize("kind,page", [("phone", 4), ("perspective", 11), ("crop60", 16)])
def test_photo_finds_its_slide(slide_index, kind: str, page: int) -> None:
    index, slides = slide_index
    hits = index.search(distort(slides[page - 1], kind, seed=page), k=3)
    assert hits[0].key == f"deck:p{page}", hits
    assert hits[0].matched and hits[0].score >= 0.5


def test_unrelated_photo_is_no_match(slide_index) -> None:
    index, _ = slide_index
    for seed in range(3):
        hits = index.search(make_unrelated(seed), k=3)
        assert not any(h.matched for h in hits), hits


def test_index_reads_its_pictures_on_first_use(slide_index, monkeypatch) -> None:
    """Opening the index (every `lecturelens search` does) reads no arrays; the first picture search does, once."""
    from rag.image_index import ImageIndex

    index, slides = slide_index
    reads = []
    real = ImageIndex._load
    monkeypatch.setattr(ImageIndex, "_load", lambda self: (reads.append(1), real(self))[-1])
    reopened = ImageIndex(index.folder)
    assert reads == []
    assert reopened.search(distort(slides[6], "phone", seed=7), k=1)[0].key == "deck:p7"
    assert len(reopened) == 20 and reads == [1]


def test_index_persists_and_removes(slide_index) -> None:
    from rag.image_index import ImageIndex

    index, slides = slide_index
    reopened = ImageIndex(index.folder)
    assert reopened.keys() == index.keys()
    photo = distort(slides[2], "phone", seed=3)
    assert reopened.search(photo, k=1)[0].key == "deck:p3"
    assert reopened.remove(["deck:p3", "missing"]) == 1
    assert "deck:p3" not in reopened
    assert all(h.key != "deck:p3" for h in reopened.search(photo, k=5))


def test_slide_region_rectifies_a_perspective_photo() -> None:
    from rag.vision import find_slide_quad, global_descriptor, slide_region

    slide = make_slide(3)
    photo = distort(slide, "perspective", seed=1)
    assert find_slide_quad(photo) is not None
    region = slide_region(photo)
    assert abs(region.shape[1] / region.shape[0] - 16 / 9) < 0.15
    assert find_slide_quad(slide) is None  # a full-frame slide is left alone
    sims = [float(global_descriptor(photo) @ global_descriptor(make_slide(i))) for i in range(8)]
    assert int(np.argmax(sims)) == 3, sims


def test_tesseract_fallback_parses_lines() -> None:
    from rag.ocr import _parse_tesseract_tsv

    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = ["5\t1\t1\t1\t1\t1\t10\t20\t50\t12\t96\tSuffix",
            "5\t1\t1\t1\t1\t2\t70\t20\t60\t12\t90\tarrays",
            "4\t1\t1\t1\t2\t0\t10\t40\t100\t12\t-1\t",
            "5\t1\t1\t1\t2\t1\t10\t40\t30\t12\t80\tBWT"]
    lines = _parse_tesseract_tsv("\n".join([head, *rows]))
    assert [ln.text for ln in lines] == ["Suffix arrays", "BWT"]
    assert lines[0].box[0] == (10.0, 20.0) and lines[0].box[2] == (130.0, 32.0)
    assert abs(lines[0].score - 0.93) < 1e-9
