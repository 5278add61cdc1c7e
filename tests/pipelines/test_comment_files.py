import json
import re

import numpy as np
import pysubs2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_livechat.pipelines.comment_files import (
    CommentFormatError,
    layout_danmaku,
    read_comments_json,
    write_comment_files,
    write_comments_json,
    write_comments_srt,
    write_danmaku_ass,
)

COMMENTS = [
    {"time": 20.0, "comment": "omg boss", "score": -1.2},
    {"time": 5.5, "comment": "这也太强了吧", "score": -0.4},
    {"time": 20.0, "comment": "LUL {not a tag} C:\\Network", "score": -2.0},
]
MOVE = re.compile(r"^\{\\move\((-?\d+),(\d+),(-?\d+),(\d+)\)\}")


def test_json_round_trip_keeps_every_key(tmp_path):
    path = write_comments_json(COMMENTS, tmp_path / "comments.json")
    assert read_comments_json(path) == COMMENTS
    # What another tool reads: plain UTF-8 JSON, CJK not escaped.
    assert "这也太强了吧" in path.read_text(encoding="utf-8")


def test_json_takes_numpy_scores(tmp_path):
    comments = [{"time": np.float32(1.5), "comment": "hi", "score": np.float32(-0.5)}]
    path = write_comments_json(comments, tmp_path / "c.json")
    assert read_comments_json(path) == [{"time": 1.5, "comment": "hi", "score": -0.5}]


def test_srt_cues_have_the_comment_times_and_texts(tmp_path):
    path = write_comments_srt(COMMENTS, tmp_path / "comments.srt", duration=3.0)
    events = pysubs2.load(str(path)).events
    assert [(e.start, e.end) for e in events] == [(5500, 8500), (20000, 23000), (20000, 23000)]
    # Braces and backslashes are the viewer's text, not markup (the zero-width space keeps "\N" from breaking lines).
    texts = [e.text.replace("\u200b", "") for e in events]
    assert texts == ["这也太强了吧", "omg boss", "LUL {not a tag} C:\\Network"]


def test_ass_scrolls_each_comment_across_the_frame(tmp_path):
    path = write_danmaku_ass(COMMENTS, tmp_path / "comments.ass", video_size=(1280, 720), scroll_seconds=6.0)
    subs = pysubs2.load(str(path))
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == ("1280", "720")
    assert [(e.start, e.end) for e in subs.events] == [(5500, 11500), (20000, 26000), (20000, 26000)]
    for event in subs.events:
        x1, y1, x2, y2 = map(int, MOVE.match(event.text).groups())
        assert x1 == 1280 and x2 < 0 and y1 == y2  # enters at the right edge, leaves past the left one
        assert subs.styles[event.style].alignment == pysubs2.Alignment.TOP_LEFT
    assert [e.plaintext for e in subs.events[:2]] == ["这也太强了吧", "omg boss"]
    # Two comments posted at the same moment go on different lanes.
    assert MOVE.match(subs.events[1].text).group(2) != MOVE.match(subs.events[2].text).group(2)
    # The brace in a comment is escaped, so it cannot open an override block.
    assert "\\{not a tag\\}" in subs.events[2].text


def test_write_comment_files_writes_the_three_formats(tmp_path):
    paths = write_comment_files(COMMENTS, tmp_path / "vod", video_size=(640, 360), duration=2.0)
    assert {fmt: p.name for fmt, p in paths.items()} == {"json": "vod.json", "srt": "vod.srt", "ass": "vod.ass"}
    assert len(pysubs2.load(str(paths["ass"])).events) == len(pysubs2.load(str(paths["srt"])).events) == 3


def test_empty_list_gives_valid_empty_files(tmp_path):
    paths = write_comment_files([], tmp_path / "none", video_size=(640, 360))
    assert read_comments_json(paths["json"]) == []
    assert pysubs2.load(str(paths["ass"])).events == []
    assert paths["srt"].read_text() == ""


@pytest.mark.parametrize(
    "comment, problem",
    [
        ({"comment": "no time"}, "'time' is missing"),
        ({"time": 3.0}, "'comment' is missing"),
        ({"time": -1.0, "comment": "x"}, "must be >= 0"),
        ({"time": float("nan"), "comment": "x"}, "finite number"),
        ({"time": "12", "comment": "x"}, "finite number"),
        ({"time": True, "comment": "x"}, "finite number"),
        ({"time": 1.0, "comment": None}, "must be a string"),
        ("just text", "expected a mapping"),
    ],
)
def test_bad_comments_raise_a_clear_error(tmp_path, comment, problem):
    comments = [{"time": 0.0, "comment": "fine"}, comment]
    for write in (
        lambda: write_comments_json(comments, tmp_path / "c.json"),
        lambda: write_comments_srt(comments, tmp_path / "c.srt"),
        lambda: write_danmaku_ass(comments, tmp_path / "c.ass", video_size=(640, 360)),
    ):
        with pytest.raises(CommentFormatError, match=rf"comment 1: .*{re.escape(problem)}"):
            write()
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_reading_a_bad_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps([{"time": 1.0, "comment": "ok"}, {"time": -3, "comment": "early"}]))
    with pytest.raises(CommentFormatError, match=r"broken\.json: comment 1: 'time' must be >= 0"):
        read_comments_json(path)
    path.write_text("{not json")
    with pytest.raises(CommentFormatError, match=r"broken\.json: not a JSON file"):
        read_comments_json(path)
    path.write_text(json.dumps({"comments": []}))
    with pytest.raises(CommentFormatError, match="expected a JSON list"):
        read_comments_json(path)
    assert issubclass(CommentFormatError, ValueError)


def test_a_lane_is_reused_once_its_comment_has_moved_on():
    comments = [
        {"time": 0.0, "comment": "first"},
        {"time": 0.1, "comment": "second"},  # "first" still covers the right edge: next lane
        {"time": 4.0, "comment": "third"},  # "first" is well inside the frame by now: its lane again
    ]
    lanes = [p.lane for p in layout_danmaku(comments, video_size=(640, 360), scroll_seconds=8.0, font_size=20)]
    assert lanes == [0, 1, 0]


def test_when_every_lane_is_busy_nothing_is_dropped():
    comments = [{"time": 0.0, "comment": f"c{i}"} for i in range(5)]
    placements = layout_danmaku(comments, video_size=(640, 360), font_size=20, lanes=2)
    assert [p.text for p in placements] == [f"c{i}" for i in range(5)]
    assert {p.lane for p in placements} == {0, 1}


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=12),
    lengths=st.lists(st.integers(1, 40), min_size=12, max_size=12),
    scroll=st.floats(2.0, 10.0),
)
def test_comments_sharing_a_lane_never_touch(times, lengths, scroll):
    # With a lane per comment there is always a free one, so the layout must never overlap two comments.
    comments = [{"time": t, "comment": "w" * n} for t, n in zip(times, lengths)]
    placements = layout_danmaku(
        comments, video_size=(640, 360), scroll_seconds=scroll, font_size=16, lanes=len(comments)
    )
    by_lane: dict[int, list] = {}
    for placement in placements:
        by_lane.setdefault(placement.lane, []).append(placement)
    for lane in by_lane.values():
        for earlier, later in zip(lane, lane[1:]):
            shared = np.linspace(later.start, min(earlier.end, later.end), 50) if later.start < earlier.end else []
            for t in shared:
                assert earlier.x_at(t) + earlier.width <= later.x_at(t) + 1e-6


def test_layout_rejects_bad_geometry():
    with pytest.raises(ValueError, match="video_size"):
        layout_danmaku([], video_size=(640, 0))
    with pytest.raises(ValueError, match="scroll_seconds"):
        layout_danmaku([], video_size=(640, 360), scroll_seconds=0)
    with pytest.raises(ValueError, match="lanes"):
        layout_danmaku([], video_size=(640, 360), lanes=0)
