"""Slide-change detection on generated frames: a new slide vs a lecturer walking in front of the screen,
a speaker box masked out, and the coarse-to-fine decode of a 25 fps upload finding the same changes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ingest import video
from ingest.video import _Sampler, detect_changes, volatile_mask

W, H = 160, 90


def _slide(seed: int) -> np.ndarray:
    """A small gray slide: light background, a title bar and bullet lines spread across the width."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W), 235, np.uint8)
    img[8:16, 10:10 + int(rng.integers(80, 140))] = 30  # title
    for row in range(5):  # bullets: words of random length with gaps
        y, x = 26 + row * 11, 14
        while x < 140:
            n = int(rng.integers(4, 14))
            img[y:y + 4, x:min(150, x + n)] = 60
            x += n + int(rng.integers(3, 6))
    return img


def _lecturer(img: np.ndarray, x: int) -> np.ndarray:
    out = img.copy()
    out[25:H, x:x + 14] = 40  # a tall narrow dark figure
    out[15:25, x + 3:x + 11] = 50  # head
    return out


def _run(frames: list[tuple[float, np.ndarray]], mask=None) -> _Sampler:
    s = _Sampler(mask)
    for t, img in frames:
        s.take(t, img, img[::2, ::2])
    return s


def test_new_slide_is_a_change_a_lecturer_walking_in_front_is_not():
    a, b = _slide(1), _slide(2)
    frames = []
    for k in range(40):  # 2 fps, 20 s
        t = k * 0.5
        x = int(np.interp(t, [0, 2, 4, 8, 10, 20], [20, 20, 80, 80, 140, 140]))  # walks, stands, walks on
        frames.append((t, _lecturer(a if t < 12.0 else b, x)))
    s = _run(frames)
    changes = detect_changes(s.times, s.scores, s.onsets, s.spreads)
    assert [c.time for c in changes] == [12.0]
    # Without the spread test (the whole-frame comparison used before) the walk itself is "slides".
    assert len(detect_changes(s.times, s.scores, s.onsets)) > 1


def test_speaker_box_is_masked_and_slide_changes_remain():
    rng = np.random.default_rng(0)
    slides = [_slide(i) for i in range(4)]
    frames = []
    for k in range(60):  # keyframes every 1 s; the slide changes at 15, 30 and 45 s
        img = slides[k // 15].copy()
        img[:, 120:] = 128
        img[20:70, 125:155] = rng.integers(0, 255, (50, 30))  # the speaker moves every frame
        frames.append((float(k), img))
    mask = volatile_mask([f for _, f in frames])
    assert mask is not None and not mask[40, 140] and mask[40, 40]
    s = _run(frames, mask)
    assert [c.time for c in detect_changes(s.times, s.scores, s.onsets, s.spreads)] == [15.0, 30.0, 45.0]
    assert max(s.scores[:14]) == 0.0  # between slide changes nothing stable moves


def _encode(path, seconds: float, change_at: list[float]) -> None:
    import av

    fps = 25
    slides = [np.stack([_slide(i)] * 3, axis=-1) for i in range(len(change_at) + 1)]
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = W * 2, H * 2, "yuv420p"
        vs.options = {"preset": "ultrafast", "x264-params": f"keyint={2 * fps}:min-keyint={2 * fps}:bframes=2"}
        for i in range(int(seconds * fps)):
            t = i / fps
            k = sum(t >= c for c in change_at)
            img = np.repeat(np.repeat(slides[k], 2, axis=0), 2, axis=1).copy()
            img[100:170, 250 + int(8 * np.sin(t * 2.3)):270 + int(8 * np.sin(t * 2.3))] = 90  # a swaying speaker
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))


def test_coarse_to_fine_decode_finds_the_changes_of_a_full_decode(tmp_path, monkeypatch):
    path = tmp_path / "lecture.mp4"
    change_at = [7.36, 19.0, 26.52]
    _encode(path, 32.0, change_at)
    decoded: list[float] = []
    feed = _Sampler.feed

    def counting(self, frame, t):
        decoded.append(t)
        return feed(self, frame, t)

    monkeypatch.setattr(_Sampler, "feed", counting)
    fine = video._analyse(path, "lecture.mp4", lambda *a: None)
    n_fine = len(decoded)
    monkeypatch.setattr(video, "COARSE_MIN_INTERVAL", 1e9)  # the one-pass decode, for reference
    decoded.clear()
    full = video._analyse(path, "lecture.mp4", lambda *a: None)
    assert [round(c.time, 2) for c in fine.changes] == [round(c.time, 2) for c in full.changes]
    assert [round(c.time, 1) for c in fine.changes] == [7.4, 19.0, 26.5]  # to the frame
    assert n_fine < 0.5 * len(decoded)  # only the changed keyframe intervals were decoded
    assert fine.duration == full.duration == 32.0
