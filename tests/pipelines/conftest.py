"""Shared fixtures of the pipeline tests: a small random LiveChat model and a generated stream."""

import pytest
import torch
from media_fixtures import write_test_video
from transformers import pipeline

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.data.chat import ChatMessage, write_twitch_json
from hf_livechat.data.transcripts import TranscriptSegment, write_srt
from hf_livechat.tokenization import default_tokenizer


SECONDS = 47


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A small random LiveChat model over the offline EfficientNet-Lite0 features (1280-d, 64 px frames)."""
    folder = tmp_path_factory.mktemp("model")
    processor = LiveChatProcessor(default_tokenizer(), max_transcript_length=32, max_eval_context_comments=6)
    config = LiveChatConfig(
        **processor.config_kwargs(),
        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, video_feature_dim=1280, feature_model="efficientnet-lite0", frame_size=64,
        init_std=0.3, activity_head=True,
    )
    torch.manual_seed(0)
    LiveChatForCommentGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def stream(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    write_test_video(folder / "vod.mp4", seconds=SECONDS, fps=4, width=64, height=64)
    write_test_video(folder / "silent.mp4", seconds=25, fps=4, width=64, height=64, audio=False)
    write_twitch_json([ChatMessage(float(t), f"u{t}", f"message number {t}") for t in range(0, SECONDS, 3)], folder / "chat.json")
    write_srt([TranscriptSegment(float(s), s + 4.0, f"the streamer talks about topic {s}") for s in range(0, SECONDS - 4, 6)], folder / "speech.srt")
    return folder


@pytest.fixture(scope="session")
def commenter(model_dir):
    return pipeline("video-comment-generation", model=str(model_dir))


