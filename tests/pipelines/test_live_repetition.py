"""A stream of comments that reads like a chat, not a loop: the repeat penalty, fed-back comments, the figures."""

import numpy as np
import pytest
import torch

from hf_livechat.pipelines.diversity import DiversityCounter, comment_diversity, overlap, pick_comment, repeat_rate
from hf_livechat.pipelines.live import LiveCommenter, video_events

LOOP = [("team skiing", -0.1), ("nice jump", -0.5), ("what a run", -0.7), ("gg", -0.9)]


def test_overlap_and_pick_comment():
    assert overlap("team skiing", ["Team  skiing"]) == 1.0
    assert overlap("team skiing lets go", ["team skiing"]) == 0.5
    assert overlap("anything", []) == 0.0
    assert pick_comment(LOOP, [], penalty=1.0) == 0  # nothing said yet: the most likely
    assert pick_comment(LOOP, ["team skiing"], penalty=1.0) == 1  # -0.1 - 1.0 < -0.5
    assert pick_comment(LOOP, ["team skiing"], penalty=0.0) == 0
    # Older comments weigh less, and a line said twice lately costs twice.
    assert pick_comment(LOOP, ["team skiing", "nice jump", "what a run", "gg"], penalty=1.0) == 0
    assert pick_comment(LOOP, ["team skiing", "nice jump", "team skiing", "gg"], penalty=1.0) == 2
    assert pick_comment([("", -0.01), ("hi", -3.0)], [], penalty=0.0) == 1  # an empty comment is the last resort
    with pytest.raises(ValueError):
        pick_comment([], [])


def test_diversity_figures():
    comments = ["team skiing"] * 3 + ["nice jump", "team skiing"]
    figures = comment_diversity(comments)
    assert figures["comments"] == 5 and figures["distinct_comments"] == pytest.approx(2 / 5)
    assert figures["distinct_1"] == pytest.approx(4 / 10) and figures["distinct_2"] == pytest.approx(2 / 5)
    assert repeat_rate(comments) == pytest.approx(3 / 4)  # 2nd, 3rd and 5th repeat one of the 5 before
    assert repeat_rate(["a", "b", "c", "a"], recent=2) == 0.0  # "a" is out of a 2-comment memory
    counter = DiversityCounter()
    rng = np.random.default_rng(0)
    stream = [" ".join(rng.choice(["gg", "pog", "team", "skiing", "nice"], size=rng.integers(1, 4))) for _ in range(60)]
    for comment in stream:
        counter.add(comment)
    assert counter.figures() == pytest.approx(comment_diversity(stream))


def fixed_candidates(context, end, context_length=None, generate_kwargs=None, inputs=None):
    """Stands in for the pipeline's per-window generation: the same ranked candidates every window."""
    return list(LOOP)


def test_live_commenter_stops_looping_and_reports_it(commenter, stream, monkeypatch):
    monkeypatch.setattr(commenter, "window_candidates", fixed_candidates)
    looping = LiveCommenter(commenter, interval=2.0, repeat_penalty=0.0)
    said = [c.comment for c in looping.run(video_events(stream / "vod.mp4", frame_size=64), speed=None)]
    assert set(said) == {"team skiing"} and looping.stats.diversity.figures()["repeat_rate"] == 1.0
    chatty = LiveCommenter(commenter, interval=2.0)  # the default penalty
    said = [c.comment for c in chatty.run(video_events(stream / "vod.mp4", frame_size=64), speed=None)]
    assert len(said) == len(np.arange(20, 48, 2)) and len(set(said)) == 4
    assert all(a != b for a, b in zip(said, said[1:]))  # with 4 candidates it cycles, never says the same twice running
    assert chatty.stats.diversity.figures()["repeat_rate"] <= 0.8
    summary = chatty.stats.summary()
    assert "distinct-1" in summary and "repeat rate" in summary


def test_pipeline_picks_candidates_in_time_order_with_the_penalty(commenter):
    ids = [commenter.processor.tokenizer(text)["input_ids"] for text, _ in LOOP]
    width = max(map(len, ids))
    sequences = torch.tensor([row + [0] * (width - len(row)) for row in ids])
    scores = torch.tensor([score for _, score in LOOP])
    # Windows arrive out of order (batches), each with the same candidates.
    outputs = [{"time": torch.tensor([float(t)]), "sequences": sequences[None], "scores": scores[None]} for t in (30, 20, 40, 25, 35)]
    plain = commenter.postprocess(outputs, show_candidates=False, repeat_penalty=0.0, recent_comments=6)
    assert [c["comment"] for c in plain] == ["team skiing"] * 5
    chatty = commenter.postprocess(outputs, show_candidates=True, repeat_penalty=1.0, recent_comments=6)
    assert [c["time"] for c in chatty] == [20.0, 25.0, 30.0, 35.0, 40.0]
    assert [c["comment"] for c in chatty][:2] == ["team skiing", "nice jump"] and len({c["comment"] for c in chatty}) == 4
    assert [c["comment"] for c in chatty[0]["candidates"]] == [text for text, _ in LOOP]
