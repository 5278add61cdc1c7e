"""Activity heads compared on trained models: each pooling and dropout, fitted alone on the final encoders over several seeds.

    python bench/bench_activity_heads.py --worlds actworlds [--variants halfnoise copy] [--seeds 0 1 2]
    python bench/bench_activity_heads.py --model northernlion=MODEL_DIR:DATASET_DIR [--model ...]
    python bench/bench_activity_heads.py --smoke   # a tiny random model on toy clips: seconds, measures nothing

For each world `W` under `--worlds` (what `bench_worlds.py --activity` leaves: `W/model-act`, `W/dataset` and the
second draw `W/dataset-draw2`) and each `--model NAME=MODEL:DATASET`, every head of `--heads` (pooling and dropout)
gets a new one per seed
(`replace_activity_head`), fitted by `fit_activity_head` on the training split with the epoch chosen on the
validation split (else the latest 15 % of each stream's training clips), as `hf-livechat fit-activity --new-head`
does. It prints the Spearman of each head with the real counts of the test windows (the second draw's for worlds,
the dataset's own test split otherwise), the mean over seeds, and the chat's recent rate beside it, with the 95 %
block bootstrap interval of the first seed's gain over the recent rate.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from hf_livechat.data.clip_dataset import load_clip_dataset, resolve_dataset_dir
from hf_livechat.evaluation.activity import evaluate_activity
from hf_livechat.models.livechat import LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.training.activity import fit_activity_head, replace_activity_head, validation_or_held_out


def _splits(dataset: str) -> list[str]:
    from datasets import get_dataset_split_names

    return get_dataset_split_names(resolve_dataset_dir(dataset))


def compare_heads(name: str, model_dir: str, dataset: str, test_dataset: str, heads, seeds, time_bins: int, epochs: int = 200) -> None:
    model = LiveChatForCommentGeneration.from_pretrained(model_dir).eval()
    processor = LiveChatProcessor.from_pretrained(model_dir)
    train = load_clip_dataset(dataset, "train")
    validation = load_clip_dataset(dataset, "validation") if "validation" in _splits(dataset) else None
    train, validation, _ = validation_or_held_out(train, validation)
    test = list(load_clip_dataset(test_dataset, "test"))
    for head in heads:
        pooling, _, dropout = head.partition(":")
        reports = []
        for seed in seeds:
            fitted = copy.deepcopy(model)
            torch.manual_seed(seed)
            replace_activity_head(fitted, processor, time_bins, pooling=pooling, dropout=float(dropout or 0))
            fit_activity_head(fitted, processor, train, validation, epochs=epochs, seed=seed)
            reports.append(evaluate_activity(fitted, processor, test))
        spearmans = [r["model"]["spearman"] for r in reports]
        report = reports[0]
        low, high = report["spearman gain 95% interval"]
        print(
            f"| {name} | {len(test)} | {head} | {' / '.join(f'{s:.3f}' for s in spearmans)} | "
            f"**{np.mean(spearmans):.3f}** +- {np.std(spearmans, ddof=1) if len(spearmans) > 1 else 0.0:.3f} | "
            f"{report['recent rate']['spearman']:.3f} | {report['spearman gain']:+.3f} ({low:+.3f} to {high:+.3f}) |",
            flush=True,
        )


def smoke_model(folder: Path) -> tuple[str, str]:
    """A tiny random model and toy clips (chat that bursts at random, responses that follow the last seconds)."""
    from datasets import Dataset

    from hf_livechat import LiveChatConfig
    from hf_livechat.data.builders.livechat import clip_features
    from hf_livechat.tokenization import default_tokenizer

    rng = np.random.default_rng(0)
    for split, n in (("train", 48), ("validation", 16), ("test", 24)):
        rows = []
        for i in range(n):
            start = 30.0 * i
            recent = int(rng.integers(0, 6))
            times = sorted(start + 20 * rng.random(int(rng.integers(0, 6)))) + [start + 17 + k / 2 for k in range(recent)]
            rows.append({
                "clip_id": f"{split}-{i}", "vod_id": f"{split}-vod", "streamer": "s", "category": "smoke", "clip_index": i,
                "start": start, "context_end": start + 20, "end": start + 30, "input_end": start + 20,
                "has_video": True, "has_transcript": False, "frame_times": [start + k for k in range(20)],
                "transcript": "", "transcript_segments": [],
                "context_comments": [{"time": float(t), "author": "u", "text": "hi", "emotes": []} for t in times],
                "response_comments": [{"time": start + 21 + k / 2, "author": "v", "text": "wow", "emotes": []} for k in range(recent)],
                "video_features": rng.standard_normal((20, 8)).astype(np.float32),
            })
        shard = folder / "dataset" / "data" / split / "shard.parquet"
        shard.parent.mkdir(parents=True)
        Dataset.from_list(rows, features=clip_features(8)).to_parquet(str(shard))
    processor = LiveChatProcessor(default_tokenizer(), max_transcript_length=16)
    config = LiveChatConfig(
        **processor.config_kwargs(), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, video_feature_dim=8,
    )
    torch.manual_seed(0)
    LiveChatForCommentGeneration(config).save_pretrained(folder / "model")
    processor.save_pretrained(folder / "model")
    return str(folder / "model"), str(folder / "dataset")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", default=None, help="a bench_worlds.py --activity root (W/model-act, W/dataset, W/dataset-draw2)")
    parser.add_argument("--variants", nargs="+", default=None, help="only these worlds (default: every world under --worlds)")
    parser.add_argument("--model", action="append", default=[], help="NAME=MODEL_DIR:DATASET_DIR, the dataset's test split reported")
    parser.add_argument("--heads", nargs="+", default=["attention", "attention+max:0.3"],
                        help="the heads compared, as POOLING[:DROPOUT] (default: the head before and the presets')")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--time-bins", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200, help="passes of each fit over the cached training clips")
    parser.add_argument("--smoke", action="store_true", help="a tiny random model on toy clips, to check that the script runs")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = []
    workdir = tempfile.TemporaryDirectory() if args.smoke else None
    if args.smoke:
        model_dir, dataset = smoke_model(Path(workdir.name))
        runs.append(("smoke", model_dir, dataset, dataset))
        args.seeds, args.epochs = args.seeds[:2], min(args.epochs, 5)
    if args.worlds:
        root = Path(args.worlds)
        names = args.variants or sorted(p.parent.name for p in root.glob("*/model-act"))
        runs += [(f"`{w}`", str(root / w / "model-act"), str(root / w / "dataset"), str(root / w / "dataset-draw2")) for w in names]
    for spec in args.model:
        name, _, paths = spec.partition("=")
        model_dir, _, dataset = paths.rpartition(":")
        if not (name and model_dir and dataset):
            parser.error(f"--model takes NAME=MODEL_DIR:DATASET_DIR, got {spec!r}")
        runs.append((name, model_dir, dataset, dataset))
    if not runs:
        parser.error("nothing to compare: give --worlds or --model")
    warnings.filterwarnings("ignore", category=UserWarning)
    print("| model | test windows | head (pooling:dropout) | Spearman per seed | mean +- std | recent rate | gain over the recent rate, first seed (95 % block bootstrap) |")
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        compare_heads(*run, args.heads, args.seeds, args.time_bins, args.epochs)
    if workdir is not None:
        workdir.cleanup()


if __name__ == "__main__":
    main()
