"""`hf-livechat fit-activity`: a trained model gets a new activity head, fitted alone on the clips' response counts."""

import numpy as np
import pytest
import torch
from clip_dataset_fixtures import toy_rows
from datasets import Dataset
from scipy import stats

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.cli import main
from hf_livechat.data.builders.livechat import clip_features
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.training.activity import hold_out_latest


def bursty_rows(n_clips: int, seed: int, prefix: str) -> list[dict]:
    """Clips whose response holds one comment more than the last 4 s of their context: old chat says nothing."""
    rng = np.random.default_rng(seed)
    rows = toy_rows(n_clips, seed=seed, vod_prefix=prefix)
    for row in rows:
        start, end = row["start"], row["context_end"]
        old, recent = int(rng.integers(0, 8)), int(rng.integers(0, 8))
        times = sorted([start + 14 * rng.random() for _ in range(old)]) + sorted([end - 4 + 3.9 * rng.random() for _ in range(recent)])
        row["context_comments"] = [{"time": t, "author": "u", "text": "hi", "emotes": []} for t in times]
        row["response_comments"] = [{"time": end + 1 + k / 2, "author": "v", "text": "wow", "emotes": []} for k in range(recent + 1)]
    return rows


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    for split, n, seed in (("train", 96, 0), ("test", 48, 1)):
        shard = folder / "data" / split / "shard.parquet"
        shard.parent.mkdir(parents=True)
        Dataset.from_list(bursty_rows(n, seed, split), features=clip_features(8)).to_parquet(str(shard))
    processor = LiveChatProcessor(default_tokenizer(), max_transcript_length=16)
    config = LiveChatConfig(
        **processor.config_kwargs(), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, video_feature_dim=8,
    )
    torch.manual_seed(0)
    LiveChatForCommentGeneration(config).save_pretrained(folder / "model")  # trained without a head
    processor.save_pretrained(folder / "model")
    return folder / "model", folder


def test_fit_activity_gives_a_trained_model_a_head_that_reads_when_chat_came(model_and_data, tmp_path, capsys):
    model_dir, dataset = model_and_data
    out = tmp_path / "fitted"
    assert main(["fit-activity", str(model_dir), str(dataset), "--output-dir", str(out), "--epochs", "60", "--time-bins", "5", "--bin-seconds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "no validation split: the latest 15%" in printed and "recent rate" in printed
    assert "fit it on a sliding build" in printed  # the toy clips lie back to back
    fitted = LiveChatForCommentGeneration.from_pretrained(out)
    processor = LiveChatProcessor.from_pretrained(out)
    assert (fitted.config.activity_chat_bins, processor.chat_time_bins, processor.chat_bin_seconds) == (5, 5, 2.0)
    assert (fitted.config.activity_pooling, fitted.config.activity_dropout) == ("attention+max", 0.3)  # the presets' head
    original = LiveChatForCommentGeneration.from_pretrained(model_dir)
    for name, weight in original.state_dict().items():
        torch.testing.assert_close(fitted.state_dict()[name], weight, msg=name)  # only the head is new

    from hf_livechat.data.clip_dataset import load_clip_dataset
    from hf_livechat.evaluation.activity import predict_activity, response_counts

    test_rows = list(load_clip_dataset(str(dataset), "test"))
    predicted = predict_activity(fitted.eval(), processor, test_rows)
    assert stats.spearmanr(predicted, response_counts(test_rows)).statistic > 0.8
    assert np.abs(predicted - response_counts(test_rows)).mean() < 1.5

    # Fitting the fitted model again continues from its head (it reads the same bins), which stays a candidate.
    again = tmp_path / "again"
    assert main(["fit-activity", str(out), str(dataset), "--output-dir", str(again), "--epochs", "10", "--time-bins", "5", "--bin-seconds", "2"]) == 0
    assert "continuing from the model's activity head" in capsys.readouterr().out
    refitted = predict_activity(LiveChatForCommentGeneration.from_pretrained(again).eval(), processor, test_rows)
    assert stats.spearmanr(refitted, response_counts(test_rows)).statistic > 0.8

    # Asking for other pooling starts a new head that pools that way.
    other = tmp_path / "attention-only"
    assert main(["fit-activity", str(out), str(dataset), "--output-dir", str(other), "--epochs", "5", "--time-bins", "5", "--bin-seconds", "2", "--pooling", "attention"]) == 0
    assert "continuing from" not in capsys.readouterr().out
    assert LiveChatForCommentGeneration.from_pretrained(other).config.activity_pooling == "attention"


def test_fit_activity_without_training_clips_exits_with_an_error(model_and_data, tmp_path):
    model_dir, _ = model_and_data
    shard = tmp_path / "test-only" / "data" / "test" / "shard.parquet"
    shard.parent.mkdir(parents=True)
    Dataset.from_list(bursty_rows(8, 2, "test"), features=clip_features(8)).to_parquet(str(shard))
    with pytest.raises(SystemExit, match="no training clips"):
        main(["fit-activity", str(model_dir), str(tmp_path / "test-only"), "--output-dir", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_hold_out_takes_each_streams_latest_clips_and_drops_the_training_clips_reaching_into_them():
    rows = [{"vod_id": vod, "start": float(s), "context_end": s + 20.0, "end": s + 30.0} for vod in "ab" for s in range(0, 200, 10)]
    train, validation = hold_out_latest(rows, 0.2)
    for vod in "ab":
        held = [r for r in validation if r["vod_id"] == vod]
        kept = [r for r in train if r["vod_id"] == vod]
        assert [r["start"] for r in held] == [160.0, 170.0, 180.0, 190.0]
        assert max(r["end"] for r in kept) <= 160.0 and len(kept) == 14  # the clips of 140 and 150 s reach past 160 s


def test_clips_slide_tells_a_sliding_build_from_clips_back_to_back():
    from hf_livechat.training.activity import clips_slide

    def clips(starts, vod="v"):
        return Dataset.from_list([{"vod_id": vod, "start": t, "end": t + 30.0, "clip_id": f"{vod}{t}"} for t in starts])

    assert not clips_slide(clips([0.0, 30.0, 60.0, 120.0]))
    assert clips_slide(clips([0.0, 2.0, 4.0]))
    assert clips_slide(clips([60.0, 0.0, 58.0]))  # whatever the row order
    # Two streams whose clips share times do not overlap each other.
    two = Dataset.from_list([*clips([0.0, 30.0]).to_list(), *clips([0.0, 30.0], vod="w").to_list()])
    assert not clips_slide(two)


def test_fit_activity_with_one_seed_gives_one_head(model_and_data, tmp_path):
    """`--seed` decides the whole fit, the new head's initialisation included: two runs give the same weights."""
    model_dir, dataset = model_and_data
    heads = []
    for run in ("a", "b"):
        torch.manual_seed(len(run) * 1000 + ord(run))  # whatever state the process is in
        out = tmp_path / run
        assert main(["fit-activity", str(model_dir), str(dataset), "--output-dir", str(out), "--epochs", "3", "--seed", "7", "--split", "none"]) == 0
        heads.append(LiveChatForCommentGeneration.from_pretrained(out).activity_head.state_dict())
    for name, weight in heads[0].items():
        torch.testing.assert_close(heads[1][name], weight, rtol=0, atol=0, msg=name)
