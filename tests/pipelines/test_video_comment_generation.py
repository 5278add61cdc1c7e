"""pipeline("video-comment-generation") on generated videos."""

import pytest
import torch
from conftest import SECONDS
from media_fixtures import write_not_media

from hf_livechat import LiveChatProcessor, VideoCommentGenerationPipeline


def test_pipeline_is_registered_and_built_from_the_model_folder(commenter):
    assert isinstance(commenter, VideoCommentGenerationPipeline)
    assert isinstance(commenter.processor, LiveChatProcessor)
    assert commenter.feature_model == "efficientnet-lite0"


def test_comments_are_time_ordered_inside_the_video(commenter, stream):
    for kwargs in ({}, {"chat": str(stream / "chat.json"), "transcript": str(stream / "speech.srt")}):
        comments = commenter(str(stream / "vod.mp4"), stride=5, **kwargs)
        times = [c["time"] for c in comments]
        assert times == sorted(times) and times[0] == 20.0 and times[-1] <= SECONDS
        assert len(comments) == (SECONDS - 20) // 5 + 1
        assert all(isinstance(c["comment"], str) and c["score"] <= 0 for c in comments)


def test_chat_and_transcript_change_what_the_model_sees(commenter, stream):
    plain = commenter(str(stream / "vod.mp4"), stride=10, max_new_tokens=6)
    with_context = commenter(
        {"video": str(stream / "vod.mp4"), "chat": str(stream / "chat.json"), "transcript": str(stream / "speech.srt")}, stride=10, max_new_tokens=6
    )
    assert [c["score"] for c in plain] != [c["score"] for c in with_context]


def test_batch_sizes_give_the_same_greedy_comments(commenter, stream):
    kwargs = dict(chat=str(stream / "chat.json"), transcript=str(stream / "speech.srt"), stride=4, max_new_tokens=6)
    one = commenter(str(stream / "vod.mp4"), batch_size=1, **kwargs)
    four = commenter(str(stream / "vod.mp4"), batch_size=4, **kwargs)
    assert [c["comment"] for c in one] == [c["comment"] for c in four]
    assert [c["score"] for c in one] == pytest.approx([c["score"] for c in four], abs=1e-4)


def test_video_without_audio_and_precomputed_features(commenter, stream):
    silent = commenter(str(stream / "silent.mp4"), stride=5, asr_model="unused-because-no-audio")
    assert [c["time"] for c in silent] == [20.0, 25.0]
    features = torch.randn(30, 1280).numpy()
    assert len(commenter({"video_features": features, "chat": [(21.0, "hello"), {"time": 25.0, "text": "gg"}]}, stride=10)) == 2


def test_sampling_beams_and_several_comments_per_window(commenter, stream):
    out = commenter(str(stream / "vod.mp4"), stride=20, num_beams=3, num_return_sequences=2, max_new_tokens=5)
    assert all(len(c["candidates"]) == 2 and c["candidates"][0]["score"] >= c["candidates"][1]["score"] for c in out)


def test_feed_back_puts_generated_comments_into_later_windows(commenter, stream):
    out = commenter(str(stream / "vod.mp4"), stride=5, feed_back=True, max_new_tokens=6)
    assert len(out) == (SECONDS - 20) // 5 + 1
    chat_seen = [c["text"] for c in commenter._feedback_context.window(40.0, 20)["context_comments"]]  # [20, 40): the first comments
    assert out[0]["comment"] in chat_seen or not out[0]["comment"]


def test_bad_inputs_raise_clear_errors(commenter, stream, tmp_path):
    with pytest.raises(ValueError, match="broken.mp4"):
        commenter(str(write_not_media(tmp_path / "broken.mp4")))
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        commenter(str(tmp_path / "missing.mp4"))
    with pytest.raises(ValueError, match="video_feature_dim=1280"):
        commenter({"video_features": torch.randn(25, 7).numpy()})
    with pytest.raises(ValueError, match="chat\\[0\\]"):
        commenter(str(stream / "vod.mp4"), chat=["no time here"])


def test_default_decoding_samples_when_the_video_is_all_there_is(commenter, stream, monkeypatch):
    """Without chat or transcript, beams agree on what chat says at any moment: the defaults sample 4 candidates;
    with context they are the 8 beams of a beam search (GENERATE_DEFAULTS); a setting the caller names wins."""
    from hf_livechat.pipelines.video_comment_generation import GENERATE_DEFAULTS, VIDEO_ONLY_GENERATE_DEFAULTS

    calls = []
    generate = commenter.model.generate

    def recording_generate(**kwargs):
        calls.append({k: kwargs.get(k) for k in ("do_sample", "num_beams", "num_return_sequences", "top_p")})
        return generate(**kwargs)

    monkeypatch.setattr(commenter.model, "generate", recording_generate)
    expected = {k: VIDEO_ONLY_GENERATE_DEFAULTS.get(k) for k in ("do_sample", "num_beams", "num_return_sequences", "top_p")}
    commenter(str(stream / "vod.mp4"), stride=10, max_new_tokens=5)
    assert calls and all(call == expected for call in calls)
    calls.clear()
    commenter(str(stream / "vod.mp4"), chat=str(stream / "chat.json"), stride=10, max_new_tokens=5)
    assert calls and all(call["num_beams"] == GENERATE_DEFAULTS["num_beams"] and not call["do_sample"] for call in calls)
    calls.clear()
    commenter(str(stream / "vod.mp4"), stride=10, max_new_tokens=5, num_beams=3, num_return_sequences=3)
    assert calls and all(call["num_beams"] == 3 and call["num_return_sequences"] == 3 for call in calls)


def test_sampled_comment_scores_count_the_comment_end_even_when_it_is_the_pad_id(commenter, monkeypatch):
    """An LM decoder may pad with its EOS: the score of a comment still averages its tokens up to and including its
    end, and nothing after it."""
    from types import SimpleNamespace

    model = commenter.model
    end = model.generation_config.eos_token_id
    end = end[0] if isinstance(end, list) else end
    monkeypatch.setattr(model.config, "pad_token_id", end)
    sequences = torch.tensor([[1, 7, 8, end, end, end], [1, 9, end, end, end, end]])
    step_logprobs = torch.log_softmax(torch.randn(2, 5, model.config.vocab_size, generator=torch.Generator().manual_seed(0)), -1)
    out = SimpleNamespace(sequences=sequences, scores=tuple(step_logprobs[:, i] for i in range(5)), sequences_scores=None)
    scores = commenter._sequence_scores(out)
    picked = step_logprobs.gather(-1, sequences[:, 1:, None]).squeeze(-1)
    torch.testing.assert_close(scores, torch.stack([picked[0, :3].mean(), picked[1, :2].mean()]))
