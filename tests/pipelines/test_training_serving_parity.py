"""One way in: the pipeline shows the model, for a window of a stream, exactly what training showed it for the clip of
the same time range (`../shared/notes/architecture.md`, "One way in").

A generated stream (`hf-livechat make-stream`) is built into a dataset (`hf-livechat build-dataset`, offline
EfficientNet-Lite0 features); the pipeline then reads the same video, chat log and transcript, and its window ending at
each clip's `context_end` must give the processor outputs the training collator gives for that clip's row: frame
features, transcript ids, chat ids (context comments as "author: text") and their masks. Only the padding differs (the
pipeline pads every window to fixed shapes so that windows batch), and the collator's own draws (the target comment,
modality dropout) are switched off; the collator runs in evaluation mode, whose number of context comments
(`max_eval_context_comments`) is the one serving keeps.
"""

import json

import pytest
import torch
from datasets import load_dataset
from transformers import pipeline

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.cli import main
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.training.collators import DataCollatorForCommentGeneration


STRIDE = 30.0  # the clip grid: clips start every 30 s, their contexts end 20 s in


@pytest.fixture(scope="module")
def built_stream(tmp_path_factory):
    """A 65 s generated stream (chat with authors, speech, video) and the dataset built from it: two clips."""
    folder = tmp_path_factory.mktemp("parity")
    stream, dataset = folder / "stream", folder / "dataset"
    assert main(["make-stream", "--out", str(stream), "--num-streams", "1", "--duration", "65", "--seed", "0", "--filler-rate", "0.3"]) == 0
    build = ["build-dataset", str(stream / "manifest.jsonl"), "--out", str(dataset), "--selection", "all"]
    assert main(build + ["--feature-model", "efficientnet-lite0", "--frame-size", "64"]) == 0
    (source,) = [json.loads(line) for line in (stream / "manifest.jsonl").read_text().splitlines()]
    rows = [row for split in load_dataset(str(dataset)).values() for row in split.with_format("numpy", columns=["video_features"], output_all_columns=True)]
    return {name: str(stream / source[name]) for name in ("video", "chat", "transcript")}, rows


def commenter_for(folder, chat_encoder_type):
    """A small random model that reads chat as "author: text", as the `small` preset trains it."""
    processor = LiveChatProcessor(
        default_tokenizer(), max_transcript_length=48, chat_encoder_type=chat_encoder_type, chat_with_authors=True, chat_time_bins=10
    )
    config = LiveChatConfig(
        **processor.config_kwargs(),
        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, video_feature_dim=1280, feature_model="efficientnet-lite0", frame_size=64,
    )
    LiveChatForCommentGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return pipeline("video-comment-generation", model=str(folder))


def unpadded(batch: dict) -> dict:
    """The real content of one example's processor outputs: masked-in values, nested as the inputs nest them."""

    def keep(values, mask):
        if mask.dim() == 1:
            return values[mask.bool()]
        return [keep(v, m) for v, m in zip(values, mask) if m.any()]

    return {
        "video_features": keep(batch["video_features"][0], batch["video_mask"][0]),
        "chat_comment_count": batch["chat_comment_count"][0].item(),
        "chat_time_histogram": batch["chat_time_histogram"][0].tolist(),
        "transcript_input_ids": keep(batch["transcript_input_ids"][0], batch["transcript_attention_mask"][0]).tolist(),
        "chat_input_ids": [c.tolist() for c in keep(batch["chat_input_ids"][0], batch["chat_attention_mask"][0])]
        if batch["chat_input_ids"].dim() == 3
        else keep(batch["chat_input_ids"][0], batch["chat_attention_mask"][0]).tolist(),
    }


@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
def test_pipeline_windows_give_the_training_collators_inputs(built_stream, tmp_path, chat_encoder_type):
    paths, rows = built_stream
    commenter = commenter_for(tmp_path / "model", chat_encoder_type)
    collator = DataCollatorForCommentGeneration(commenter.processor, random_target=False, training=False)
    first = min(row["context_end"] for row in rows)
    windows = {
        float(item["time"][0]): item
        for item in commenter.preprocess({"video": paths["video"], "chat": paths["chat"], "transcript": paths["transcript"]}, stride=STRIDE, start=first)
    }
    assert len(rows) == 2 and all(row["context_comments"] for row in rows)
    for row in rows:
        served, trained = unpadded(windows[float(row["context_end"])]), unpadded(collator([row]))
        assert len(trained["video_features"]) == len(row["frame_times"]) == 20
        torch.testing.assert_close(served["video_features"], trained["video_features"])
        assert served["transcript_input_ids"] == trained["transcript_input_ids"] and trained["transcript_input_ids"]
        assert served["chat_input_ids"] == trained["chat_input_ids"]
        # The activity head's counts: all the context comments, and when they came.
        assert served["chat_comment_count"] == trained["chat_comment_count"] == len(row["context_comments"])
        assert served["chat_time_histogram"] == trained["chat_time_histogram"] and sum(trained["chat_time_histogram"]) > 0
        # The chat the model reads names the authors, as it did in training.
        tokenizer = commenter.processor.tokenizer
        flat = sum(trained["chat_input_ids"], []) if chat_encoder_type == "comment" else trained["chat_input_ids"]
        last = row["context_comments"][-1]
        assert tokenizer.decode(tokenizer(f"{last['author']}: {last['text']}", add_special_tokens=False)["input_ids"]) in tokenizer.decode(flat)
