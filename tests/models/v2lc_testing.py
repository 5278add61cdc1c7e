"""Tiny V2LC / affect-fusion configs and a generated segment <-> comment set shared by the tests."""

import torch

from hf_livechat.models.v2lc import V2LCConfig


TINY_TEXT_CONFIG = {
    "model_type": "bert",
    "vocab_size": 64,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 32,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def tiny_v2lc_config(**overrides) -> V2LCConfig:
    kwargs = dict(
        text_config=dict(TINY_TEXT_CONFIG),
        video_feature_dim=8,
        video_hidden_size=16,
        video_num_layers=1,
        video_num_heads=2,
        video_intermediate_size=32,
        max_video_frames=8,
        projection_dim=12,
        hidden_dropout=0.0,
    )
    kwargs.update(overrides)
    return V2LCConfig(**kwargs)


def topic_segments(num_segments: int, topics: list[int] | None = None, comments_per_segment: int = 3, num_topics: int = 8,
                   frames: int = 4, feature_dim: int = 8, length: int = 5, seed: int = 0) -> dict:
    """Segments whose frames and comments both depend on a hidden topic: frames are the topic's centre plus noise;
    each comment mixes tokens of the topic's own vocabulary (ids 4 + 7 * topic ...) with shared filler tokens.
    The last comment of every odd segment is padding (all-zero mask), as in a real batch."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_topics, feature_dim, generator=torch.Generator().manual_seed(1234)) * 2
    if topics is None:
        topics = torch.randint(0, num_topics, (num_segments,), generator=g).tolist()
    video = centres[topics].unsqueeze(1) + 0.5 * torch.randn(num_segments, frames, feature_dim, generator=g)
    topic_tokens = 4 + 7 * torch.tensor(topics).view(-1, 1, 1) + torch.randint(0, 3, (num_segments, comments_per_segment, length), generator=g)
    filler = torch.randint(60, 64, (num_segments, comments_per_segment, length), generator=g)
    use_topic = torch.rand(num_segments, comments_per_segment, length, generator=g) < 0.6
    input_ids = torch.where(use_topic, topic_tokens, filler)
    input_ids[:, :, 0] = 1  # a [CLS]-like first token
    input_ids[1::2, -1] = 0
    return {"video_features": video, "input_ids": input_ids, "attention_mask": input_ids.ne(0).long()}
