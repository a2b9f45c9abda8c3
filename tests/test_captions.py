"""Caption sidecars: WebVTT and SRT parsing, sidecar lookup, sentence ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.captions import Cue, find_sidecar, parse_captions, read_captions, sentence_ends
from rag.errors import IngestError

VTT = """\ufeffWEBVTT - lecture one
Kind: captions
Language: en

NOTE This is a comment
that spans two lines

STYLE
::cue { color: yellow }

intro
00:00:01.000 --> 00:00:04.500 align:start position:10% line:0
<v Prof. Ada>Welcome to <b>lecture one</b>.</v>

00:04.500 --> 00:08.250
<c.yellow>Today:</c> supervised
learning &amp; more

3
01:02:03.4 --> 01:02:05.25
Late <00:01:02.500>karaoke cue!
"""

SRT = """1\r
00:00:00,500 --> 00:00:02,000\r
<i>First</i> line\r
second line\r
\r
2\r
00:00:02,500 --> 00:00:04,000\r
Is that a question?\r
\r
"""


def test_vtt_cues_text_and_times():
    cues = parse_captions(VTT, "lec.vtt")
    assert cues == [
        Cue(1.0, 4.5, "Welcome to lecture one."),
        Cue(4.5, 8.25, "Today: supervised learning & more"),
        Cue(3723.4, 3725.25, "Late karaoke cue!"),
    ]


def test_srt_crlf_commas_multiline():
    cues = parse_captions(SRT, "lec.srt")
    assert cues == [Cue(0.5, 2.0, "First line second line"), Cue(2.5, 4.0, "Is that a question?")]


def test_cues_sorted_and_empty_cues_dropped():
    text = "WEBVTT\n\n00:00:05.000 --> 00:00:06.000\nlater\n\n00:00:01.000 --> 00:00:02.000\nsooner\n\n" \
           "00:00:03.000 --> 00:00:04.000\n<i></i>\n"
    assert [c.text for c in parse_captions(text)] == ["sooner", "later"]


def test_read_captions_bom_and_cp1252(tmp_path: Path):
    p = tmp_path / "a.srt"
    p.write_bytes("1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n".encode("cp1252"))
    assert read_captions(p)[0].text == "café"
    q = tmp_path / "b.vtt"
    q.write_bytes(VTT.encode("utf-8"))  # the BOM is in the text
    assert len(read_captions(q)) == 3


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("WEBVTT\n\n00:00:01.000 --> 00:00:xx.000\nhello\n", 3),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\njust some words\nmore words\n", 6),
        ("1\n00:00:05,000 --> 00:00:04,000\nbackwards\n", 2),
    ],
)
def test_malformed_names_file_and_line(text: str, line: int):
    with pytest.raises(IngestError) as err:
        parse_captions(text, "lectures/week1.vtt")
    msg = str(err.value)
    assert "lectures/week1.vtt" in msg and f"line {line}" in msg
    assert err.value.source == "lectures/week1.vtt"


def test_read_captions_error_names_relative_path(tmp_path: Path):
    p = tmp_path / "x.vtt"
    p.write_text("WEBVTT\n\nnot a cue\n")
    with pytest.raises(IngestError, match="course/x.vtt"):
        read_captions(p, "course/x.vtt")


def test_find_sidecar_case_insensitive(tmp_path: Path):
    video = tmp_path / "lecture1.mp4"
    video.write_bytes(b"")
    assert find_sidecar(video) is None
    (tmp_path / "lecture1.SRT").write_text("")
    (tmp_path / "lecture10.vtt").write_text("")  # another stem
    assert find_sidecar(video) == tmp_path / "lecture1.SRT"
    (tmp_path / "lecture1.Vtt").write_text("")
    assert find_sidecar(video) == tmp_path / "lecture1.Vtt"  # .vtt preferred


def test_sentence_ends_punctuation_gap_and_last():
    cues = [
        Cue(0.0, 2.0, "This is one sentence."),
        Cue(2.0, 4.0, "and this goes"),  # continues without a pause
        Cue(4.0, 6.0, "on and on"),  # a 1 s pause follows
        Cue(7.0, 9.0, 'He said "why?"'),
        Cue(9.1, 10.0, "trailing"),  # last cue
    ]
    assert sentence_ends(cues) == [(2.0, True), (6.0, False), (9.0, True), (10.0, False)]
