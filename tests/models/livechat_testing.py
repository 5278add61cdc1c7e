"""Tiny LiveChat configs and inputs shared by the model tests."""

import torch

from hf_livechat import LiveChatConfig


def tiny_config(**overrides) -> LiveChatConfig:
    kwargs = dict(
        vocab_size=99,
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        video_feature_dim=12,
        max_video_frames=16,
        max_position_embeddings=128,
        max_chat_length=48,
        pad_token_id=0,
        bos_token_id=1,
        decoder_start_token_id=1,
        eos_token_id=2,
        sep_token_id=2,
        mask_token_id=3,
        dropout=0.0,
        activity_head=True,
    )
    kwargs.update(overrides)
    return LiveChatConfig(**kwargs)


def tiny_inputs(config: LiveChatConfig, batch_size: int = 3, seed: int = 0) -> dict:
    """A padded batch: example 1 has fewer frames, a shorter transcript and fewer comments."""
    g = torch.Generator().manual_seed(seed)
    frames, transcript_len, comments, comment_len = 6, 9, 4, 5
    video = torch.randn(batch_size, frames, config.video_feature_dim, generator=g)
    video_mask = torch.ones(batch_size, frames, dtype=torch.long)
    transcript = torch.randint(4, config.vocab_size, (batch_size, transcript_len), generator=g)
    transcript_mask = torch.ones_like(transcript)
    if config.chat_encoder_type == "comment":
        chat = torch.randint(4, config.vocab_size, (batch_size, comments, comment_len), generator=g)
    else:
        # Comments joined as the processor joins them: each one ends with [SEP].
        chat = torch.randint(4, config.vocab_size, (batch_size, comments * comment_len), generator=g)
        chat[:, comment_len - 1 :: comment_len] = config.sep_token_id
    if batch_size > 1:
        video[1, 4:] = 0
        video_mask[1, 4:] = 0
        transcript[1, 5:] = config.pad_token_id
        transcript_mask[1, 5:] = 0
        if config.chat_encoder_type == "comment":
            chat[1, 2:] = config.pad_token_id
            chat[1, 0, 3:] = config.pad_token_id
        else:
            chat[1, 7:] = config.pad_token_id
    return {
        "video_features": video,
        "video_mask": video_mask,
        "transcript_input_ids": transcript,
        "transcript_attention_mask": transcript_mask,
        "chat_input_ids": chat,
        "chat_attention_mask": chat.ne(config.pad_token_id).long(),
    }


def unpad_example(inputs: dict, index: int) -> dict:
    """Example `index` of a tiny_inputs batch, alone and without padding."""
    video_len = int(inputs["video_mask"][index].sum())
    transcript_len = int(inputs["transcript_attention_mask"][index].sum())
    chat = inputs["chat_input_ids"][index : index + 1]
    chat_mask = inputs["chat_attention_mask"][index : index + 1]
    if chat.dim() == 3:
        keep = chat_mask[0].any(-1)
        chat, chat_mask = chat[:, keep], chat_mask[:, keep]
    else:
        length = int(chat_mask.sum())
        chat, chat_mask = chat[:, :length], chat_mask[:, :length]
    return {
        "video_features": inputs["video_features"][index : index + 1, :video_len],
        "video_mask": inputs["video_mask"][index : index + 1, :video_len],
        "transcript_input_ids": inputs["transcript_input_ids"][index : index + 1, :transcript_len],
        "transcript_attention_mask": inputs["transcript_attention_mask"][index : index + 1, :transcript_len],
        "chat_input_ids": chat,
        "chat_attention_mask": chat_mask,
    }


def random_labels(config: LiveChatConfig, batch_size: int = 3, length: int = 6, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(4, config.vocab_size, (batch_size, length), generator=g)
    labels[:, -1] = config.eos_token_id
    if batch_size > 1:
        labels[1, 3:] = -100
    return labels
