"""Video and audio extraction on small synthetic media written with PyAV."""

from __future__ import annotations

import io
import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from ingest.audio import extract_audio
from ingest.timed import title_from_filename
from ingest.video import SlideChange, detect_changes, extract_video
from rag.errors import IngestError
from rag.ids import chunk_id
from rag.settings import ChunkingSettings
from rag.types import TimeSpan

FPS = 2
SIZE = (320, 180)
SLIDES = [  # (start, background BGR, title)
    (0.0, (255, 255, 255), "Supervised learning"),
    (20.0, (200, 240, 255), "Gradient descent"),
    (45.0, (255, 230, 200), "Clustering"),
]
SILENCES = [(9.3, 10.3), (32.0, 33.2), (57.0, 58.0)]
VTT = """WEBVTT

00:00.500 --> 00:05.000
Welcome to lecture one.

00:05.500 --> 00:09.000
Supervised learning maps inputs to labels.

00:10.500 --> 00:18.500
We start with a training set

00:21.000 --> 00:27.000
<v Prof>Gradient descent walks downhill.</v>

00:28.000 --> 00:44.000
The learning rate sets the step size.

00:46.000 --> 01:00.000
Clustering groups similar points.

01:00.500 --> 01:09.000
That is all for today.
"""


def slide_at(t: float) -> tuple[tuple[int, int, int], str]:
    bg, title = SLIDES[0][1:]
    for start, b, tt in SLIDES:
        if t >= start:
            bg, title = b, tt
    return bg, title


def tone(duration: float, rate: int, silences: list[tuple[float, float]]) -> np.ndarray:
    t = np.arange(int(duration * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 300 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
    for a, b in silences:
        x[(t >= a) & (t < b)] = 0.0
    return x.astype(np.float32)


def write_audio(out: av.container.OutputContainer, stream: av.AudioStream, x: np.ndarray, rate: int,
                fmt: str) -> None:
    for i in range(0, len(x), 1024):
        part = x[i:i + 1024]
        if fmt == "s16":
            part = (part * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(part[None, :], format=fmt + "p", layout="mono")
        frame.sample_rate, frame.pts = rate, i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def make_video(path: Path, duration: float = 70.0) -> None:
    rate = 16000
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = *SIZE, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "23"}
        aus = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(int(duration * FPS)):
            bg, title = slide_at(i / FPS)
            img = np.full((SIZE[1], SIZE[0], 3), bg, np.uint8)
            cv2.putText(img, title, (12, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
            for k in range(3):
                cv2.putText(img, f"- point {k + 1} on {title.lower()}", (20, 80 + 28 * k),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.5, (40, 40, 40), 1)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        write_audio(out, aus, tone(duration, rate, SILENCES), rate, "flt")


def fake_ocr(jpeg: bytes) -> str:
    """Reads the slide by its background colour, so a wrong keyframe gives wrong text."""
    img = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=float)
    corner = img[-10:, -10:].reshape(-1, 3).mean(axis=0)[::-1]  # BGR like SLIDES
    best = min(SLIDES, key=lambda s: float(np.abs(np.array(s[1]) - corner).sum()))
    return f"SLIDE {best[2].upper()}"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("course")
    (root / "lectures").mkdir()
    make_video(root / "lectures" / "lecture1_supervised.mp4")
    (root / "lectures" / "lecture1_supervised.vtt").write_text(VTT)
    (root / "nocaps").mkdir()
    shutil.copy(root / "lectures" / "lecture1_supervised.mp4", root / "nocaps" / "lecture2.mp4")
    return root


@pytest.fixture(scope="module")
def extracted(course: Path, tmp_path_factory: pytest.TempPathFactory):
    media = tmp_path_factory.mktemp("media")
    calls: list[tuple[int, int]] = []
    ex = extract_video(course / "lectures" / "lecture1_supervised.mp4", "lectures/lecture1_supervised.mp4",
                       media, ChunkingSettings(), ocr=fake_ocr, progress=lambda d, t: calls.append((d, t)))
    return ex, media, calls


def spans(ex) -> list[tuple[float, float]]:
    return [(c.locator.start_s, c.locator.end_s) for c, _ in ex.chunks]


def test_segments_cut_at_slide_changes(extracted):
    ex, _, _ = extracted
    assert ex.source.duration_s == pytest.approx(70.0, abs=0.1)
    got = spans(ex)
    assert [s for s, _ in got] == [0.0, 20.0, 45.0]
    assert got[-1][1] == ex.source.duration_s
    assert ex.source.kind == "video" and ex.source.has_captions is True
    assert ex.source.title == "Lecture 1 · Supervised"
    assert ex.warnings == []


def test_keyframes_at_slide_changes_with_images_and_views(extracted):
    ex, media, _ = extracted
    kfs = [c.keyframes for c, _ in ex.chunks]
    assert kfs == [(10.0,), (20.0,), (45.0,)]  # no change in the first segment: its middle
    assert {img.time_s for img in ex.images} == {10.0, 20.0, 45.0}
    for (chunk, views), want in zip(ex.chunks, ["SUPERVISED", "GRADIENT", "CLUSTERING"], strict=True):
        names = [v.name for v in views]
        assert names == ["seg"] + [f"kf{t:.1f}" for t in chunk.keyframes]
        kf = views[1]
        assert kf.item.media[0].mime_type == "image/jpeg"
        assert want in kf.text and want in kf.item.text
        rec = next(r for r in ex.images if r.chunk_id == chunk.id)
        assert str(rec.view) == kf.name and rec.path.parent == media / ex.source.sha256[:12]
        assert rec.path.read_bytes() == kf.item.media[0].data
        assert Image.open(rec.path).size == SIZE


def test_caption_text_and_cues_assigned(extracted):
    ex, _, _ = extracted
    (c1, v1), (c2, _), (c3, _) = ex.chunks
    assert c1.text.startswith("Welcome to lecture one.") and "training set" in c1.text
    assert c2.text == "Gradient descent walks downhill. The learning rate sets the step size."
    assert c3.cues[0] == (46.0, 60.0, "Clustering groups similar points.")
    assert "SLIDE" not in c1.text  # OCR goes to the views, not the caption text
    seg = v1[0]
    assert seg.name == "seg" and seg.item.media == ()  # no clips unless asked
    assert "Welcome" in seg.text and "SLIDE SUPERVISED LEARNING" in seg.text
    assert seg.item.title == "Lecture 1 · Supervised"


def test_ids_stable_and_progress(extracted, course: Path, tmp_path: Path):
    ex, _, calls = extracted
    again = extract_video(course / "lectures" / "lecture1_supervised.mp4", "lectures/lecture1_supervised.mp4",
                          tmp_path, ChunkingSettings())
    assert [c.id for c, _ in again.chunks] == [c.id for c, _ in ex.chunks]
    c = ex.chunks[1][0]
    assert c.id == chunk_id(ex.source.sha256, TimeSpan(start_s=20.0, end_s=45.0), c.source)
    assert calls and calls[-1] == (100, 100)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_clips_for_gemini(course: Path, tmp_path: Path):
    ex = extract_video(course / "lectures" / "lecture1_supervised.mp4", "lectures/lecture1_supervised.mp4",
                       tmp_path, ChunkingSettings(), want_clips=True)
    for chunk, views in ex.chunks:
        (part,) = views[0].item.media
        assert part.mime_type == "video/mp4"
        with av.open(io.BytesIO(part.data)) as clip:
            assert clip.streams.video and clip.streams.audio
            length = chunk.locator.end_s - chunk.locator.start_s
            assert clip.duration / 1e6 == pytest.approx(length, abs=1.0)
            assert clip.streams.video[0].codec_context.height <= 480


def test_captionless_video_warns_and_uses_ocr(course: Path, tmp_path: Path):
    ex = extract_video(course / "nocaps" / "lecture2.mp4", "nocaps/lecture2.mp4", tmp_path,
                       ChunkingSettings(), ocr=fake_ocr)
    assert ex.warnings == ["no captions (.vtt/.srt) next to nocaps/lecture2.mp4; indexed from keyframes only"]
    assert ex.source.has_captions is False
    assert [c.text for c, _ in ex.chunks] == ["SLIDE SUPERVISED LEARNING", "SLIDE GRADIENT DESCENT",
                                              "SLIDE CLUSTERING"]
    assert all(c.cues == () for c, _ in ex.chunks)


def test_ocr_off_in_settings(course: Path, tmp_path: Path):
    ex = extract_video(course / "nocaps" / "lecture2.mp4", "nocaps/lecture2.mp4", tmp_path,
                       ChunkingSettings(ocr=False), ocr=fake_ocr)
    assert all(v.text == "" for _, views in ex.chunks for v in views)


def test_corrupt_video_names_the_file(tmp_path: Path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(IngestError) as err:
        extract_video(bad, "lectures/broken.mp4", tmp_path / "m", ChunkingSettings())
    assert "lectures/broken.mp4" in str(err.value) and "Re-encode" in str(err.value)


def test_malformed_sidecar_names_caption_file(course: Path, tmp_path: Path):
    video = tmp_path / "week3.mp4"
    shutil.copy(course / "nocaps" / "lecture2.mp4", video)
    (tmp_path / "week3.SRT").write_text("1\n00:00:01,000 -> 00:00:02,000\nhi\n")
    with pytest.raises(IngestError, match=r"lectures/week3\.SRT.*line 1"):
        extract_video(video, "lectures/week3.mp4", tmp_path / "m", ChunkingSettings())


def test_detect_changes_adapts_and_merges_fades():
    times = [i * 0.5 for i in range(12)]
    scores = [0.0, 0.0, 0.3, 0.0, 0.0, 0.01, 0.02, 0.01, 0.0, 0.001, 0.0]
    onsets = [t - 0.2 for t in times[1:]]  # the exact frame where each change began
    got = detect_changes(times, scores, onsets)
    assert got[0] == SlideChange(time=1.3, settled=1.5, magnitude=0.3)
    assert got[1].time == pytest.approx(3.3) and got[1].settled == 4.0  # a fade: one change at its peak
    assert len(got) == 2 and got[0].strength > got[1].strength
    busy = [0.05, 0.06, 0.04, 0.05, 0.5, 0.05, 0.06]  # constant motion: only the scene cut counts
    assert [c.time for c in detect_changes([i * 0.5 for i in range(8)], busy)] == [2.5]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("lecture1_supervised.mp4", "Lecture 1 · Supervised"),
        ("lectures/Lec03-intro-to-RL.mp4", "Lecture 3 · Intro to RL"),
        ("week2_part3_clustering.mp4", "Week 2 · Part 3 Clustering"),
        ("07 Neural Networks.mp4", "Lecture 7 · Neural Networks"),
        ("intro_overview.mp3", "Intro Overview"),
        ("podcastOverfitting.mp3", "Podcast Overfitting"),
    ],
)
def test_title_from_filename(name: str, title: str):
    assert title_from_filename(name) == title


def test_audio_segments_text_and_clips(tmp_path: Path):
    rate, duration = 16000, 50.0
    path = tmp_path / "podcast_ep1.wav"
    silences = [(6.0, 6.8), (19.0, 20.2), (35.5, 36.5)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        write_audio(out, stream, tone(duration, rate, silences), rate, "s16")
    (tmp_path / "podcast_ep1.vtt").write_text(
        "WEBVTT\n\n00:00.2 --> 00:05.9\nFirst idea here.\n\n00:06.9 --> 00:18.9\nSecond idea, longer.\n\n"
        "00:20.3 --> 00:35.4\nThird idea.\n\n00:36.6 --> 00:49.5\nGoodbye.\n")
    ex = extract_audio(path, "audio/podcast_ep1.wav", tmp_path / "m", ChunkingSettings(), want_clips=True)
    assert ex.source.kind == "audio" and ex.source.title == "Lecture 1 · Podcast Ep"
    got = spans(ex)
    assert got[0][0] == 0.0 and got[-1][1] == pytest.approx(50.0)
    assert 18.9 <= got[0][1] <= 20.2  # the long pause after a sentence end
    assert all(15 <= e - s <= 30 for s, e in got)
    # 35.4 (a sentence end) would leave 14.6 s: the cut goes just before it instead of mid-sentence.
    assert got[1][1] == 35.0
    (c1, v1), *_ = ex.chunks
    assert c1.kind == "audio" and c1.text == "First idea here. Second idea, longer."
    assert c1.keyframes == () and ex.images == []
    assert [v.name for v in v1] == ["seg"] and v1[0].item.media[0].mime_type == "audio/mp3"
    with av.open(io.BytesIO(v1[0].item.media[0].data)) as clip:
        assert clip.duration / 1e6 == pytest.approx(got[0][1], abs=0.5)
