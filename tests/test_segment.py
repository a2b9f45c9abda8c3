"""Segment boundaries: hard length bounds, full coverage, strong candidates preferred, speed."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.segment import SENTENCE_END, SILENCE, SLIDE_CHANGE, choose_boundaries

TOL = 1e-6


def check_segments(segs: list[tuple[float, float]], duration: float, lo: float = 15, hi: float = 30) -> None:
    assert segs, "a positive duration always gives at least one segment"
    assert segs[0][0] == 0.0
    assert segs[-1][1] == duration
    for (_, a_end), (b_start, _) in zip(segs, segs[1:], strict=False):
        assert a_end == b_start  # contiguous, no gap, no overlap
    if duration < lo:
        assert segs == [(0.0, duration)]
        return
    for start, end in segs:
        assert lo - TOL <= end - start <= hi + TOL, (start, end)


candidate_lists = st.lists(
    st.tuples(st.floats(0, 7300, allow_nan=False), st.floats(0, 1, allow_nan=False)), max_size=300
)


@settings(max_examples=200, deadline=None)
@given(duration=st.floats(0.5, 7200, allow_nan=False), candidates=candidate_lists)
def test_bounds_coverage_any_duration(duration: float, candidates: list[tuple[float, float]]):
    scaled = [(t * duration / 7300, s) for t, s in candidates]  # candidates spread over the video
    check_segments(choose_boundaries(duration, scaled), duration)


@settings(max_examples=150, deadline=None)
@given(duration=st.floats(29, 95, allow_nan=False), candidates=candidate_lists)
def test_bounds_awkward_short_durations(duration: float, candidates: list[tuple[float, float]]):
    # 30–45 s cannot be one segment nor three: the split into two must still respect [15, 30].
    scaled = [(t * duration / 7300, s) for t, s in candidates]
    check_segments(choose_boundaries(duration, scaled), duration)


@pytest.mark.parametrize("duration", [30.5, 32.0, 44.9, 45.0, 59.99, 60.0, 60.01, 61.3, 90.2])
def test_durations_just_over_the_max(duration: float):
    segs = choose_boundaries(duration, [])
    check_segments(segs, duration)


def test_short_video_is_one_segment():
    assert choose_boundaries(9.3, [(4.0, 1.0)]) == [(0.0, 9.3)]
    assert choose_boundaries(24.0, [(12.0, 1.0)]) == [(0.0, 24.0)]  # two parts would be < 15 s
    assert choose_boundaries(0.0, []) == []


def test_slide_changes_win():
    # Sentence ends and silences nearby, but the slide changes are where the cuts go.
    cands = [(20.0, SLIDE_CHANGE), (45.0, SLIDE_CHANGE), (23.1, SENTENCE_END), (41.7, SENTENCE_END),
             (33.0, SILENCE), (52.5, SENTENCE_END)]
    assert choose_boundaries(70.0, cands) == [(0.0, 20.0), (20.0, 45.0), (45.0, 70.0)]


def test_sentence_end_beats_grid():
    segs = choose_boundaries(45.0, [(18.37, SENTENCE_END)])
    assert segs == [(0.0, 18.37), (18.37, 45.0)]


def test_near_candidate_preferred_when_candidate_out_of_bounds():
    # The sentence end at 14.2 is too early for a 15 s minimum: cut just after it, not mid-way.
    segs = choose_boundaries(34.7, [(14.2, SENTENCE_END), (20.6, SENTENCE_END)])
    assert segs[0][1] == pytest.approx(15.0)


def test_without_candidates_lengths_near_target():
    segs = choose_boundaries(600.0, [])
    lengths = [e - s for s, e in segs]
    assert all(20 <= x <= 25 for x in lengths)


def test_custom_bounds_and_fallback():
    check_segments(choose_boundaries(100.0, [], 5, 10), 100.0, 5, 10)
    # max < 2*min with an impossible duration: equal parts no longer than the max.
    segs = choose_boundaries(25.0, [], 15, 20)
    assert segs[0][0] == 0 and segs[-1][1] == 25.0 and all(e - s <= 20 for s, e in segs)
    with pytest.raises(ValueError):
        choose_boundaries(100.0, [], 30, 15)


def test_candidate_times_rounded_to_ms_and_outside_ignored():
    segs = choose_boundaries(60.0, [(29.99949, 1.0), (-3, 1.0), (75, 1.0)])
    assert segs[0][1] == 29.999


def test_two_hours_with_2000_candidates():
    """A long lecture with dense candidates still yields valid segments (its speed: bench/segment.py)."""
    rng = random.Random(7)
    cands = [(rng.uniform(0, 7200), rng.random()) for _ in range(2000)]
    segs = choose_boundaries(7200.0, cands)
    check_segments(segs, 7200.0)
    assert 240 <= len(segs) <= 480  # 7200 s in [15, 30] s pieces
