"""pipeline("video-comment-generation", when=...): every window carries its predicted activity; when="auto" speaks
only where the activity is high, at its rate, decoding nothing on the windows it stays silent on."""

import math

import pytest
import torch
from conftest import SECONDS

from hf_livechat.pipelines.speaking import SpeakingPolicy


@pytest.fixture
def scripted_activity(commenter, monkeypatch):
    """Replaces the model's activity with a script keyed by the window's place in the stream, and counts the windows
    `generate` decodes."""
    calls = {"predicted": 0, "decoded": 0}

    def install(values):
        def predict_activity(**inputs):
            n = inputs["video_features"].shape[0]
            out = torch.tensor(values[calls["predicted"] : calls["predicted"] + n], dtype=torch.float32)
            calls["predicted"] += n
            return out

        generate = commenter.model.generate

        def counting_generate(**kwargs):
            calls["decoded"] += kwargs["video_features"].shape[0]
            return generate(**kwargs)

        monkeypatch.setattr(commenter.model, "predict_activity", predict_activity)
        monkeypatch.setattr(commenter.model, "generate", counting_generate)
        return calls

    return install


def test_interval_records_carry_the_predicted_activity(commenter, stream):
    out = commenter(str(stream / "vod.mp4"), stride=5, max_new_tokens=4)
    assert len(out) == (SECONDS - 20) // 5 + 1
    assert all(isinstance(c["activity"], float) and c["activity"] >= 0 and math.isfinite(c["activity"]) for c in out)
    # The same windows through predict_activity directly give the same numbers.
    direct = commenter(str(stream / "vod.mp4"), stride=5, max_new_tokens=4, when="interval")
    assert [c["activity"] for c in direct] == pytest.approx([c["activity"] for c in out])


@pytest.mark.parametrize("batch_size", [1, 4])
def test_auto_speaks_on_the_high_windows_only(commenter, stream, scripted_activity, batch_size):
    # Windows at 20, 22, ..., 46 (14). Absolute threshold 3: the windows at 26 (4, rate 0.4/s: one comment), 36 and
    # 38 (20 per 10 s: 2/s over a 2 s stride, min_gap 1 allows 2 per window) are high.
    values = [1, 1, 1, 4, 1, 1, 1, 1, 20, 20, 1, 1, 1, 1]
    calls = scripted_activity(values)
    policy = dict(threshold_mode="absolute", threshold=3, max_silence=0, min_gap=1)
    out = commenter(str(stream / "vod.mp4"), stride=2, when="auto", speaking=policy, max_new_tokens=4, batch_size=batch_size)
    assert [c["time"] for c in out] == [26.0, 36.0, 37.0, 38.0, 39.0]
    assert [c["activity"] for c in out] == [4.0, 20.0, 20.0, 20.0, 20.0]
    assert calls["predicted"] == 14 and calls["decoded"] == 3  # the silent windows are not decoded
    # Two comments of one window are different candidates.
    assert out[1]["comment"] != out[2]["comment"] or not out[1]["candidates"][1:]


def test_auto_min_gap_and_max_silence_through_the_pipeline(commenter, stream, scripted_activity):
    scripted_activity([1.0] * 14)  # a flat stream: nothing is high, max_silence speaks every 10 s
    out = commenter(str(stream / "vod.mp4"), stride=2, when="auto", max_silence=10, min_gap=2, max_new_tokens=4)
    assert [c["time"] for c in out] == [30.0, 40.0]


def test_auto_with_feed_back(commenter, stream, scripted_activity):
    scripted_activity([1, 1, 1, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    out = commenter(str(stream / "vod.mp4"), stride=2, when="auto", speaking=SpeakingPolicy("auto", max_silence=0), feed_back=True, max_new_tokens=4)
    assert [c["time"] for c in out] == [26.0]
    seen = [c["text"] for c in commenter._feedback_context.window(30.0, 20)["context_comments"]]
    assert out[0]["comment"] in seen or not out[0]["comment"]


def test_auto_needs_an_activity_head_and_good_settings(commenter, stream, monkeypatch):
    with pytest.raises(ValueError, match="when must be one of"):
        commenter(str(stream / "vod.mp4"), stride=5, when="sometimes")
    with pytest.raises(ValueError, match="min_gap"):
        commenter(str(stream / "vod.mp4"), stride=5, when="auto", min_gap=-1)
    # A model without an activity head (patched on the class: monkeypatch cannot restore a torch submodule).
    monkeypatch.setattr(type(commenter), "has_activity", property(lambda self: False))
    with pytest.raises(ValueError, match="activity head"):
        commenter(str(stream / "vod.mp4"), stride=5, when="auto")
    assert "activity" not in commenter(str(stream / "vod.mp4"), stride=20, max_new_tokens=3)[0]  # interval still works
