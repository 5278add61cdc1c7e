import numpy as np
import pytest
import torch
from clip_dataset_fixtures import toy_rows

from hf_livechat import LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.training.collators import DataCollatorForCommentGeneration, DataCollatorForLiveChatPretraining


@pytest.fixture(scope="module")
def processor():
    return LiveChatProcessor(default_tokenizer())


def decoded_targets(processor, batch):
    return [processor.decode(row[row != -100]) for row in batch["labels"]]


def test_random_target_is_drawn_uniformly_from_the_response_window_each_epoch(processor):
    rows = toy_rows(2)
    collator = DataCollatorForCommentGeneration(processor, random_target=True, seed=0)
    seen = {0: [], 1: []}
    for epoch in range(300):
        collator.epoch = epoch
        for i, target in enumerate(decoded_targets(processor, collator(rows))):
            seen[i].append(target)
    for i, row in enumerate(rows):
        texts = [c["text"] for c in row["response_comments"]]
        counts = np.array([seen[i].count(t) for t in texts])
        assert counts.sum() == 300  # every target comes from this clip's response window
        assert counts.min() > 70  # uniform over 3 comments: ~100 each
    # Same seed and epoch, same draws (what makes resumed and multi-process runs exact); another seed differs.
    draws = [decoded_targets(processor, DataCollatorForCommentGeneration(processor, seed=s, epoch=e)(toy_rows(40))) for s, e in ((0, 5), (0, 5), (1, 5))]
    assert draws[0] == draws[1] and draws[0] != draws[2]


def test_deterministic_mode_gives_the_same_target_every_time(processor):
    rows = toy_rows(3)
    collator = DataCollatorForCommentGeneration(processor, random_target=False)
    first = decoded_targets(processor, collator(rows))
    assert all(decoded_targets(processor, collator(rows)) == first for _ in range(5))
    assert all(t in [c["text"] for c in r["response_comments"]] for t, r in zip(first, rows))


def test_collator_builds_model_inputs_and_ablations(processor):
    rows = toy_rows(2)
    batch = DataCollatorForCommentGeneration(processor)(rows)
    assert batch["video_features"].shape == (2, 20, 8) and batch["video_mask"].all()
    assert "pizza" in processor.decode(batch["transcript_input_ids"][0])
    ablated = DataCollatorForCommentGeneration(processor, drop_modalities=("video", "chat"))(rows)
    assert ablated["video_mask"].sum() == 0 and ablated["chat_attention_mask"].sum() == 0
    assert ablated["transcript_attention_mask"].sum() > 0


def test_empty_response_window_is_a_clear_error(processor):
    rows = toy_rows(1)
    rows[0]["response_comments"] = []
    with pytest.raises(ValueError, match="no response comment"):
        DataCollatorForCommentGeneration(processor, activity_labels=False)(rows)


def test_quiet_clips_teach_only_the_activity_head(processor):
    rows = toy_rows(3)
    rows[1]["response_comments"] = []
    batch = DataCollatorForCommentGeneration(processor)(rows)
    assert (batch["labels"][1] == -100).all()
    assert (batch["labels"][0] != -100).any() and (batch["labels"][2] != -100).any()
    assert batch["activity_labels"][1] == 0


def test_mlm_collator_masks_only_real_tokens(processor):
    rows = toy_rows(8)
    batch = DataCollatorForLiveChatPretraining(processor, mlm_probability=0.3, seed=0)(rows)
    for name in ("transcript", "chat"):
        labels, ids, mask = batch[f"{name}_labels"], batch[f"{name}_input_ids"], batch[f"{name}_attention_mask"]
        chosen = labels != -100
        assert chosen.any() and not (chosen & (mask == 0)).any()
        assert (ids[chosen] == processor.tokenizer.mask_token_id).float().mean() > 0.5
        assert not torch.isin(labels[chosen], torch.tensor(processor.tokenizer.all_special_ids)).any()


def test_mlm_collator_masks_every_chosen_token_with_the_reference_share(processor):
    batch = DataCollatorForLiveChatPretraining(processor, mlm_probability=0.3, mask_share=1.0, seed=0)(toy_rows(8))
    for name in ("transcript", "chat"):
        chosen = batch[f"{name}_labels"] != -100
        assert chosen.any() and (batch[f"{name}_input_ids"][chosen] == processor.tokenizer.mask_token_id).all()
    with pytest.raises(ValueError, match="mask_share"):
        DataCollatorForLiveChatPretraining(processor, mask_share=1.5)


def test_modality_dropout_removes_modalities_per_clip_reproducibly(processor):
    rows = toy_rows(60)
    collator = DataCollatorForCommentGeneration(processor, seed=0, modality_dropout=0.3, video_feature_dim=8)
    batch = collator(rows)
    present = {
        "video": batch["video_mask"].any(-1),
        "transcript": batch["transcript_attention_mask"].sum(-1) > 2,  # more than [CLS] [SEP]
        "chat": batch["chat_attention_mask"].flatten(1).any(-1),
    }
    for name, kept in present.items():
        removed = 1 - kept.float().mean().item()
        assert 0.1 <= removed <= 0.5, (name, removed)  # about 30 % of the clips lose each modality
        assert [name in collator.dropped_modalities(r) for r in rows] == (~kept).tolist()
    again = collator(rows)
    assert torch.equal(again["video_mask"], batch["video_mask"])  # the same epoch draws the same clips
    collator.epoch = 1
    assert not torch.equal(collator(rows)["video_mask"], batch["video_mask"])  # a new draw every epoch
    assert DataCollatorForCommentGeneration(processor).dropped_modalities(rows[0]) == ()
    with pytest.raises(ValueError, match="modality_dropout"):
        DataCollatorForCommentGeneration(processor, modality_dropout=1.0)


def test_unconditional_rate_removes_all_three_modalities_together(processor):
    rows = toy_rows(200)
    collator = DataCollatorForCommentGeneration(processor, seed=0, modality_dropout=0.1, unconditional_rate=0.3, video_feature_dim=8)
    dropped = [collator.dropped_modalities(r) for r in rows]
    unconditional = np.array([set(d) == {"video", "transcript", "chat"} for d in dropped])
    # all three at once: about the unconditional rate (0.1 ** 3 = 0.001 from modality dropout alone)
    assert 0.2 <= unconditional.mean() <= 0.4
    batch = collator(rows[:20])
    for i in np.flatnonzero(unconditional[:20]):
        assert not batch["video_mask"][i].any() and not batch["chat_attention_mask"][i].any()
        assert not batch["transcript_attention_mask"][i].any()
    without = DataCollatorForCommentGeneration(processor, seed=0, modality_dropout=0.1, video_feature_dim=8)
    assert np.mean([len(without.dropped_modalities(r)) == 3 for r in rows]) < 0.05
    with pytest.raises(ValueError, match="unconditional_rate"):
        DataCollatorForCommentGeneration(processor, unconditional_rate=1.0)


def test_batch_without_frames_still_gets_video_inputs_with_the_feature_size(processor):
    rows = toy_rows(2)
    for row in rows:
        row["video_features"] = None
    assert "video_features" not in DataCollatorForCommentGeneration(processor)(rows)
    batch = DataCollatorForCommentGeneration(processor, video_feature_dim=8)(rows)
    assert batch["video_features"].shape[0] == 2 and batch["video_features"].shape[-1] == 8
    assert not batch["video_mask"].any()


def test_activity_labels_are_the_response_counts(processor):
    rows = toy_rows(3)
    batch = DataCollatorForCommentGeneration(processor)(rows)
    assert batch["activity_labels"].tolist() == [float(len(r["response_comments"])) for r in rows]
    assert "activity_labels" not in DataCollatorForCommentGeneration(processor, activity_labels=False)(rows)


def test_several_targets_per_clip_are_distinct_comments_of_its_window(processor):
    rows = toy_rows(3)  # 3 response comments each
    rows[1] = {**rows[1], "response_comments": rows[1]["response_comments"][:1]}
    collator = DataCollatorForCommentGeneration(processor, targets_per_clip=4, seed=0)
    batch = collator(rows)
    assert batch["targets_per_clip"] == 4 and batch["labels"].shape[0] == 12
    for clip, row in enumerate(rows):
        texts = sorted(c["text"] for c in row["response_comments"])
        drawn = [processor.decode(ids[ids != -100]) for ids in batch["labels"][clip * 4 : clip * 4 + 4]]
        # every comment of the window once, then rows with nothing to learn
        assert sorted(drawn[: len(texts)]) == texts and all(t == "" for t in drawn[len(texts) :])
        assert batch["labels"][clip * 4 + len(texts) : clip * 4 + 4].eq(-100).all()
    # the draw is a function of (seed, epoch, clip): the same again, another order in another epoch
    assert torch.equal(collator(rows)["labels"], batch["labels"])
    orders = set()
    for epoch in range(20):
        collator.epoch = epoch
        orders.add(tuple(decoded_targets(processor, DataCollatorForCommentGeneration(processor, targets_per_clip=2, epoch=epoch)(rows[:1]))))
    assert len(orders) == 6, "every ordered pair of the 3 comments is drawn"
    assert "targets_per_clip" not in DataCollatorForCommentGeneration(processor)(rows)
    with pytest.raises(ValueError, match="targets_per_clip"):
        DataCollatorForCommentGeneration(processor, targets_per_clip=0)
