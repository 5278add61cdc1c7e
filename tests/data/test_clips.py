import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_livechat.data.chat.message import ChatMessage
from hf_livechat.data.clips import Clip, ClipConfig, assign_splits, make_clips, select_clip_starts
from hf_livechat.data.transcripts import TranscriptSegment as S
from hf_livechat.data.windows import StreamContext


def chat(*times: float) -> list[ChatMessage]:
    return [ChatMessage(time=t, author=f"user{i}", text=f"message at {t}") for i, t in enumerate(times)]


ALL = ClipConfig(selection="all")


def test_context_and_response_boundaries():
    messages = chat(0.0, 19.999, 20.0, 29.999, 30.0, 50.0)
    first, second = make_clips("vod", messages, None, duration=60.0, config=ALL)
    assert (first.start, first.context_end, first.end, first.input_end) == (0.0, 20.0, 30.0, 20.0)
    assert [m.time for m in first.context_comments] == [0.0, 19.999]
    assert [m.time for m in first.response_comments] == [20.0, 29.999]
    assert [m.time for m in second.context_comments] == [30.0] and [m.time for m in second.response_comments] == [50.0]
    assert (first.index, second.index, second.clip_id) == (0, 1, "vod-1")


def test_default_input_stops_at_the_end_of_the_context():
    transcript = [S(2.0, 5.0, "early"), S(15.0, 25.0, "straddles"), S(22.0, 28.0, "in the response window")]
    (clip,) = make_clips("vod", chat(25.0), transcript, duration=30.0, config=ALL)
    assert clip.frame_times == tuple(float(t) for t in range(20))
    assert max(clip.frame_times) < clip.context_end
    assert clip.transcript == (S(2.0, 5.0, "early"), S(15.0, 20.0, "straddles"))
    assert all(segment.end <= clip.context_end for segment in clip.transcript)


def test_paper_mode_covers_the_whole_clip():
    transcript = [S(15.0, 25.0, "straddles"), S(22.0, 28.0, "in the response window"), S(29.0, 33.0, "next clip")]
    config = ClipConfig(selection="all", input_span="paper")
    (clip,) = make_clips("vod", chat(25.0), transcript, duration=30.0, config=config)
    assert clip.input_end == clip.end == 30.0
    assert clip.frame_times == tuple(float(t) for t in range(30))
    assert clip.transcript == (
        S(15.0, 25.0, "straddles"),
        S(22.0, 28.0, "in the response window"),
        S(29.0, 30.0, "next clip"),
    )


def test_frame_times_follow_fps():
    (clip,) = make_clips("vod", chat(21.0), None, duration=30.0, config=ClipConfig(selection="all", fps=2.0))
    assert len(clip.frame_times) == 40 and clip.frame_times[:3] == (0.0, 0.5, 1.0) and clip.frame_times[-1] == 19.5


def dense_chat(rng, duration, bursts):
    """Sparse background chat (one message a minute) plus a burst of ``rate`` messages a second in each
    ``(start, end, rate)`` of ``bursts``."""
    times = [np.arange(0, duration, 60.0)]
    for start, end, rate in bursts:
        times.append(rng.uniform(start, end, size=int((end - start) * rate)))
    return np.sort(np.concatenate(times))


def test_busiest_selection_picks_the_dense_stretches():
    rng = np.random.default_rng(0)
    duration = 4 * 3600.0
    times = dense_chat(rng, duration, [(3000, 3600, 5), (9000, 9600, 3), (12000, 12600, 4), (6000, 6600, 1)])
    starts = select_clip_starts(times, duration, ClipConfig())
    assert starts == [3000.0 + 30 * k for k in range(20)] + [9000.0 + 30 * k for k in range(20)] + [
        12000.0 + 30 * k for k in range(20)
    ]


def test_busiest_stretches_never_overlap():
    # One even burst 15 minutes long: the first stretch takes its first 10 minutes; the second cannot reuse any of
    # those clips, so it takes the next best whole stretch, which starts where the first ends.
    times = np.concatenate([np.arange(0, 3600.0, 60.0), np.arange(600, 1500, 0.2)])
    starts = select_clip_starts(times, 3600.0, ClipConfig(num_stretches=2))
    assert starts == [600.0 + 30 * k for k in range(20)] + [1200.0 + 30 * k for k in range(20)]


def test_busiest_takes_fewer_stretches_when_the_vod_holds_fewer():
    times = np.arange(0, 1500.0, 1.0)  # 25 minutes: two whole 10-minute stretches fit at most
    starts = select_clip_starts(times, 1500.0, ClipConfig())
    assert 20 <= len(starts) <= 40 and len(starts) % 20 == 0


def test_vod_shorter_than_a_stretch_uses_all_of_it():
    times = np.arange(0, 300.0, 2.0)
    assert select_clip_starts(times, 305.0, ClipConfig()) == [30.0 * k for k in range(10)]


def test_clips_per_stretch_takes_the_start_of_each_stretch():
    times = dense_chat(np.random.default_rng(2), 7200.0, [(1200, 1800, 5)])
    config = ClipConfig(num_stretches=1, clips_per_stretch=4)
    assert select_clip_starts(times, 7200.0, config) == [1200.0, 1230.0, 1260.0, 1290.0]


def test_all_selection_drops_the_trailing_partial_clip():
    assert select_clip_starts([], 95.0, ALL) == [0.0, 30.0, 60.0]


def test_a_clip_stride_gives_sliding_clips_on_a_grid_of_the_stride():
    sliding = ClipConfig(selection="all", clip_stride=10.0)
    assert select_clip_starts([], 95.0, sliding) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert select_clip_starts([], 95.0, ClipConfig(selection="all", clip_stride=30.0)) == select_clip_starts([], 95.0, ALL)
    clips = make_clips("v", chat(5.0, 25.0, 33.0), None, duration=60.0, config=sliding)
    assert [(c.index, c.start) for c in clips] == [(0, 0.0), (1, 10.0), (2, 20.0), (3, 30.0)][: len(clips)]
    assert len({c.clip_id for c in clips}) == len(clips)
    # The message at 25 s is a response of the clip at 0 s and context of the clips at 10 and 20 s.
    by_start = {c.start: c for c in clips}
    assert [m.time for m in by_start[0.0].response_comments] == [25.0]
    assert 25.0 in [m.time for m in by_start[10.0].context_comments]


def test_short_vod_gives_no_clips_and_says_why(caplog):
    with caplog.at_level(logging.INFO, logger="hf_livechat.data.clips"):
        assert make_clips("tiny", chat(1.0, 21.0), None, duration=29.5) == []
    assert "tiny" in caplog.text and "shorter than one" in caplog.text
    assert select_clip_starts([1.0], 29.5, ClipConfig()) == []


def test_minimum_comment_counts():
    messages = chat(5.0, 25.0, 35.0)  # clip 0: 1 context, 1 response; clip 1: 1 context, 0 response
    assert [c.index for c in make_clips("v", messages, None, 60.0, ALL)] == [0]
    assert make_clips("v", messages, None, 60.0, ClipConfig(selection="all", min_context_comments=2)) == []
    every = make_clips("v", messages, None, 60.0, ClipConfig(selection="all", min_response_comments=0))
    assert [c.index for c in every] == [0, 1]


def test_unsorted_chat_and_metadata():
    metadata = {"streamer": "alice", "title": "speedrun"}
    (clip,) = make_clips("v", chat(25.0, 3.0, 21.0, 1.0), None, 30.0, ALL, metadata=metadata)
    assert [m.time for m in clip.context_comments] == [1.0, 3.0]
    assert [m.time for m in clip.response_comments] == [21.0, 25.0]
    assert clip.metadata == metadata and clip.metadata is not metadata
    row = clip.to_row()
    assert row["clip_id"] == "v-0" and row["streamer"] == "alice" and row["response_comments"][0]["text"] == "message at 21.0"
    assert ChatMessage.from_dict(row["context_comments"][0]) == clip.context_comments[0]
    assert row["frame_times"] == list(clip.frame_times) and row["transcript"] == "" and "video_features" not in row


def test_a_served_window_is_the_clip_row_of_the_same_time_range():
    """`StreamContext.window` (the pipeline, live mode) and `Clip.to_row` (the builder) write one row for one range."""
    messages = chat(0.5, 3.0, 19.999, 20.0, 25.0, 31.0, 49.0, 55.0)
    speech = [S(0.0, 4.0, " hello "), S(18.0, 22.0, "across the edge"), S(30.0, 35.0, "  "), S(40.0, 52.0, "later")]
    stream = StreamContext(np.arange(60.0), np.repeat(np.arange(60.0, dtype=np.float32)[:, None], 3, axis=1), messages, speech, 60.0)
    clips = make_clips("v", messages, speech, 60.0, ALL)
    assert len(clips) == 2
    for clip in clips:
        row, window = clip.to_row(), stream.window(clip.context_end, clip.context_end - clip.start)
        for key in ("start", "context_end", "input_end", "frame_times", "transcript", "transcript_segments", "context_comments"):
            assert window[key] == row[key], key
        assert window["video_features"][:, 0].tolist() == row["frame_times"]
    assert clips[0].to_row()["transcript"] == "hello across the edge"
    assert [c["author"] for c in stream.window(20.0, 20.0)["context_comments"]] == ["user0", "user1", "user2"]
    stream.add_message(ChatMessage(10.0, "model", "fed back"))
    assert [c["text"] for c in stream.window(20.0, 20.0)["context_comments"]][2] == "fed back"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"context_length": 30.0},
        {"context_length": 0.0},
        {"fps": 0},
        {"selection": "random"},
        {"input_span": "full"},
        {"clips_per_stretch": 21},
        {"num_stretches": 0},
        {"min_response_comments": -1},
        {"selection": "all", "clip_stride": 0},
        {"selection": "all", "clip_stride": 31.0},
        {"selection": "busiest", "clip_stride": 10.0},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        ClipConfig(**kwargs)


def test_config_lengths():
    config = ClipConfig()
    assert (config.response_length, config.input_length) == (10.0, 20.0)
    assert ClipConfig(input_span="paper").input_length == 30.0


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.floats(min_value=-10, max_value=400, allow_nan=False), max_size=60),
    duration=st.floats(min_value=0, max_value=400),
    selection=st.sampled_from(["busiest", "all"]),
)
def test_every_message_of_a_kept_clip_is_in_exactly_one_window(times, duration, selection):
    config = ClipConfig(
        selection=selection, stretch_length=120.0, clips_per_stretch=4, num_stretches=2, min_response_comments=0
    )
    clips: list[Clip] = make_clips("v", chat(*times), None, duration, config)
    assert all(clip.end <= duration for clip in clips)
    assert len({clip.start for clip in clips}) == len(clips)
    for clip in clips:
        assert all(clip.start <= m.time < clip.context_end for m in clip.context_comments)
        assert all(clip.context_end <= m.time < clip.end for m in clip.response_comments)
        inside = sorted(t for t in times if clip.start <= t < clip.end)
        assert sorted(m.time for m in clip.context_comments + clip.response_comments) == inside


def test_splits_are_deterministic_and_order_free():
    vods = [f"vod{i}" for i in range(50)]
    splits = assign_splits(vods, seed=3)
    assert splits == assign_splits(list(reversed(vods)), seed=3)
    assert set(splits) == set(vods) and set(splits.values()) <= {"train", "validation", "test"}
    assert splits != assign_splits(vods, seed=4)
    # Adding VODs does not move the ones already assigned.
    assert {v: s for v, s in assign_splits(vods + ["new1", "new2"], seed=3).items() if v in splits} == splits


def test_split_shares_follow_the_ratios():
    splits = assign_splits([str(i) for i in range(3000)], ratios=(0.7, 0.2, 0.1))
    shares = {name: list(splits.values()).count(name) / 3000 for name in ("train", "validation", "test")}
    assert shares == pytest.approx({"train": 0.7, "validation": 0.2, "test": 0.1}, abs=0.03)
    assert set(assign_splits(["a", "b", "c"], ratios=(1.0, 0.0, 0.0)).values()) == {"train"}


def test_splits_by_streamer_keep_each_streamer_whole():
    rows = [{"vod_id": f"{streamer}-{k}", "streamer": streamer} for streamer in "abcdefghijklmnop" for k in range(5)]
    rows += rows[:10]  # several rows (clips) per VOD
    splits = assign_splits(rows, by="streamer", seed=0)
    by_streamer = {}
    for row in rows:
        by_streamer.setdefault(row["streamer"], set()).add(splits[row["vod_id"]])
    assert all(len(names) == 1 for names in by_streamer.values())
    assert len({names.pop() for names in by_streamer.values()}) > 1  # streamers do land in different splits


def test_explicit_splits_are_honoured():
    rows = [
        {"vod_id": "a", "streamer": "s1", "split": "test"},
        {"vod_id": "b", "streamer": "s1"},
        {"vod_id": "c", "streamer": "s2", "split": "validation"},
    ]
    assert assign_splits(rows, by="vod") == {"a": "test", "b": assign_splits(["b"])["b"], "c": "validation"}
    streamer_splits = assign_splits(rows, by="streamer")
    assert streamer_splits["a"] == streamer_splits["b"] == "test"


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        (["a"], {"ratios": (0.5, 0.5)}, "ratios"),
        (["a"], {"ratios": (0.8, 0.3, -0.1)}, "ratios"),
        (["a"], {"by": "clip"}, "by must be"),
        (["a"], {"by": "streamer"}, "streamer"),
        ([{"streamer": "s"}], {}, "vod_id"),
        ([{"vod_id": "a", "streamer": "s1"}, {"vod_id": "a", "streamer": "s2"}], {"by": "streamer"}, "two streamers"),
        (
            [{"vod_id": "a", "streamer": "s", "split": "train"}, {"vod_id": "b", "streamer": "s", "split": "test"}],
            {"by": "streamer"},
            "two splits",
        ),
    ],
)
def test_split_errors(rows, kwargs, message):
    with pytest.raises(ValueError, match=message):
        assign_splits(rows, **kwargs)
