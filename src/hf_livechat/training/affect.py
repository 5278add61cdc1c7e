"""The LCAffect training protocol: the fusion classifier over several seeds with dev-based model selection, test
metrics as mean ± standard deviation, with and without live-comment features.

This is the protocol MMSA's tables use (the mean over 5 seeds, each run keeping the checkpoint with the best
validation score): a run trains with `Trainer`, evaluates the validation split every epoch, stops when the selection
metric has not improved for `patience` epochs, and reports the test metrics of its best-validation checkpoint.
MUStARD's speaker-dependent setting has no validation split: each of the authors' 5 folds carves a stratified
validation share out of its training part, and a seed's figure is the mean over the folds (as `train_svm.py` of the
MUStARD repository reports it).

Live-comment features join the benchmark rows by `id` (`join_live_comment_features`); an id without features is an
error, never a silent zero.

    from hf_livechat.training.affect import AffectProtocolArguments, run_affect_protocol
    result = run_affect_protocol({"with live comments": joined, "without": dataset}, AffectProtocolArguments("meld"))
    print(result.format_table())
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, List, Value
from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..data.benchmarks.common import affect_feature_dims
from ..evaluation.affect_metrics import affect_metrics, compute_metrics_for
from ..models.affect_fusion import AffectFusionConfig, AffectFusionForSequenceClassification
from .affect_collator import AffectFusionCollator


logger = logging.getLogger(__name__)

# The dev metric each benchmark selects checkpoints by, and whether higher is better. MMSA selects its regression
# models on the validation loss; MAE is the reported error measure closest to it.
SELECTION_METRICS = {
    "sims": ("mae", False),
    "simsv2": ("mae", False),
    "mosi": ("mae", False),
    "mosei": ("mae", False),
    "meld": ("weighted_f1", True),
    "mustard": ("weighted_f1", True),
    "classification": ("weighted_f1", True),
}
RESULT_FILE = "result.json"
# The setting names of `hf-livechat train-affect` (`live_comment_settings`).
WITH_LIVE_COMMENTS = "with live comments"
WITHOUT_LIVE_COMMENTS = "without live comments"


@dataclass
class AffectProtocolArguments:
    """The protocol's settings (the `hf-livechat train-affect` options)."""

    benchmark: str = field(metadata={"help": f"metrics to report: {', '.join(SELECTION_METRICS)}"})
    seeds: Sequence[int] = (0, 1, 2, 3, 4)
    max_epochs: int = 30
    patience: int = field(default=5, metadata={"help": "epochs without a better dev score before a run stops"})
    selection_metric: str | None = field(default=None, metadata={"help": "dev metric to select by (default per benchmark)"})
    batch_size: int = 64
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    d_model: int = 128
    num_layers: int = 2
    num_heads: int = 4
    ffn_dim: int = 256
    dropout: float = 0.1
    label_column: str = "label"
    output_dir: str = "affect-runs"
    dev_fraction: float = field(default=0.1, metadata={"help": "share of a MUStARD fold's training part held out as dev"})
    save_models: bool = field(default=True, metadata={"help": "keep each setting's best-dev model, with its card"})
    overwrite: bool = field(default=False, metadata={"help": "retrain runs whose stored settings or data differ"})
    progress: bool = True

    def __post_init__(self):
        if self.benchmark not in SELECTION_METRICS:
            raise ValueError(f"Unknown benchmark {self.benchmark!r}; expected one of {sorted(SELECTION_METRICS)}")
        self.seeds = [int(s) for s in self.seeds]
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one, got {self.seeds}")
        if self.max_epochs < 1 or self.patience < 1:
            raise ValueError("max_epochs and patience must be at least 1")

    @property
    def selection(self) -> tuple[str, bool]:
        """(dev metric, higher is better)."""
        default_metric, greater = SELECTION_METRICS[self.benchmark]
        metric = self.selection_metric or default_metric
        return metric, (greater if metric == default_metric else metric not in ("mae", "loss"))


@dataclass
class RunResult:
    """One training run: its seed (and fold), the epoch of its best dev score, the dev metrics of that checkpoint,
    its test metrics, and the dev selection metric after every epoch (`history`: `[[epoch, value], ...]`)."""

    seed: int
    best_epoch: float
    dev: dict[str, float]
    test: dict[str, float]
    fold: int | None = None
    history: list[list[float]] = field(default_factory=list)


@dataclass
class ProtocolResult:
    """Every run of every setting, and their summary."""

    benchmark: str
    runs: dict[str, list[RunResult]]
    selection_metric: str
    models: dict[str, str] = field(default_factory=dict)

    def per_seed(self, setting: str) -> dict[int, dict[str, float]]:
        """Test metrics by seed; with folds, the mean over a seed's folds (MUStARD's reported figure)."""
        by_seed: dict[int, list[dict[str, float]]] = {}
        for run in self.runs[setting]:
            by_seed.setdefault(run.seed, []).append(run.test)
        return {seed: _mean_metrics(values) for seed, values in by_seed.items()}

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """`{setting: {metric: {"mean": m, "std": s}}}` over seeds (sample standard deviation, ddof=1; 0 for one
        seed)."""
        out = {}
        for setting in self.runs:
            values = list(self.per_seed(setting).values())
            out[setting] = {
                name: {"mean": float(np.mean(column)), "std": float(np.std(column, ddof=1)) if len(column) > 1 else 0.0}
                for name in values[0]
                for column in [np.asarray([v[name] for v in values], dtype=np.float64)]
            }
        return out

    def format_table(self, metrics: Sequence[str] | None = None) -> str:
        """A Markdown table: one row per setting, `mean ± std` per metric."""
        summary = self.summary()
        names = list(metrics or next(iter(summary.values())))
        seeds = len(self.per_seed(next(iter(self.runs))))
        folds = {run.fold for runs in self.runs.values() for run in runs} - {None}
        scope = f"{seeds} seeds" + (f" x {len(folds)} folds (fold mean per seed)" if folds else "")
        lines = [
            f"{self.benchmark} test metrics, mean ± std over {scope}; checkpoints selected by dev {self.selection_metric}",
            "",
            "| setting | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for setting, values in summary.items():
            lines.append(f"| {setting} | " + " | ".join(f"{values[n]['mean']:.4f} ± {values[n]['std']:.4f}" for n in names) + " |")
        return "\n".join(lines)

    def write_json(self, path: str | Path) -> Path:
        """Writes `to_dict()` (every run and the summary) to `path`, creating its folder."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark,
            "selection_metric": self.selection_metric,
            "summary": self.summary(),
            "runs": {setting: [asdict(run) for run in runs] for setting, runs in self.runs.items()},
            "models": self.models,
        }


def _mean_metrics(values: list[dict[str, float]]) -> dict[str, float]:
    return {name: float(np.mean([v[name] for v in values])) for name in values[0]}


# ------------------------------------------------------------------------------------------- live-comment features


def join_live_comment_features(
    dataset: DatasetDict, features: Mapping[str, np.ndarray] | Dataset, source: str = "the live-comment features"
) -> DatasetDict:
    """Adds `live_comment_features` to every row of every split, looked up by the row's `id`.

    Args:
        dataset: the benchmark splits (each with an `id` column).
        features: `{id: vector}` (what `hf_livechat.pipelines.lc_features.load_lc_features` returns) or a `Dataset`
            with `id` and `live_comment_features` columns.
        source: how error messages name the features (e.g. their folder).

    Raises:
        ValueError: a `Dataset` without the `id` / `live_comment_features` columns or with an id twice, vectors of
            different sizes, or a row without a vector (the message names the split, the count and a few ids): a
            missing id is never a zero vector.
    """
    if isinstance(features, Dataset):
        for column in ("id", "live_comment_features"):
            if column not in features.column_names:
                raise ValueError(f"{source} have no {column!r} column (columns: {features.column_names})")
        ids = features["id"]
        lookup = dict(zip(ids, features.with_format("numpy", columns=["live_comment_features"])["live_comment_features"]))
        if len(lookup) != len(ids):
            seen = set()
            repeated = [i for i in ids if i in seen or seen.add(i)]
            raise ValueError(f"{source} hold {len(repeated)} repeated id(s) (e.g. {repeated[:3]}); one vector per clip")
        features = lookup
    sizes = {np.shape(vector)[-1] for vector in features.values()}
    if len(sizes) > 1:
        raise ValueError(f"{source} have vectors of different sizes {sorted(sizes)}")
    dim = sizes.pop() if sizes else 0
    joined = {}
    for name, split in dataset.items():
        if "id" not in split.column_names:
            raise ValueError(f"split {name!r} has no id column to join live-comment features on")
        missing = [i for i in split["id"] if i not in features]
        if missing:
            raise ValueError(
                f"{source}: no live-comment features for {len(missing)} of the {len(split)} {name} rows "
                f"(e.g. ids {missing[:3]}); extract features for every clip of the benchmark"
            )
        rows = [np.asarray(features[i], dtype=np.float32) for i in split["id"]]
        if "live_comment_features" in split.column_names:
            split = split.remove_columns("live_comment_features")
        joined[name] = split.add_column("live_comment_features", rows, feature=List(Value("float32"), length=dim))
    return DatasetDict(joined)


# ------------------------------------------------------------------------------------------------------- training


def label_setup(dataset: DatasetDict, label_column: str) -> tuple[int, str, dict | None]:
    """(num_labels, problem_type, id2label) from the label feature: `ClassLabel` or integers -> classes, floats ->
    regression."""
    train = dataset["train"]
    if label_column not in train.column_names:
        raise ValueError(f"the dataset has no label column {label_column!r} (columns: {train.column_names})")
    feature = train.features[label_column]
    if isinstance(feature, ClassLabel):
        return feature.num_classes, "single_label_classification", dict(enumerate(feature.names))
    if isinstance(feature, Value) and feature.dtype.startswith(("int", "uint", "bool")):
        num = int(max(max(split[label_column]) for split in dataset.values() if len(split))) + 1
        return num, "single_label_classification", None
    if isinstance(feature, Value) and feature.dtype.startswith("float"):
        return 1, "regression", None
    raise ValueError(f"label column {label_column!r} must hold class ids or floats, got {feature}")


def build_fusion_model(dataset: DatasetDict, args: AffectProtocolArguments, use_live_comments: bool) -> AffectFusionForSequenceClassification:
    """A fresh fusion classifier sized from the data (feature sizes, labels)."""
    dims = affect_feature_dims(dataset["train"])
    if use_live_comments and dims["lc_dim"] is None:
        raise ValueError("this setting has no live_comment_features column; join them first (join_live_comment_features)")
    modalities = [m for m, f in (("text", "text_dim"), ("acoustic", "acoustic_dim"), ("visual", "visual_dim")) if dims[f]]
    num_labels, problem_type, id2label = label_setup(dataset, args.label_column)
    config = AffectFusionConfig(
        modalities=modalities,
        use_live_comment_features=use_live_comments,
        num_labels=num_labels,
        problem_type=problem_type,
        d_model=args.d_model,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        ffn_dim=args.ffn_dim,
        dropout=args.dropout,
        classifier_dropout=args.dropout,
        **({"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}} if id2label else {}),
        **{f: d for f, d in dims.items() if d is not None},
    )
    return AffectFusionForSequenceClassification(config)


def affect_training_arguments(args: AffectProtocolArguments, seed: int, run_dir: str | Path) -> TrainingArguments:
    """`TrainingArguments` of one protocol run (`train_affect_run`; `hf-livechat train-affect` and the affect
    quickstart): at most `max_epochs` epochs, the validation split evaluated and a checkpoint saved every epoch, the
    best by `args.selection` loaded at the end, a linear warm-up over `warmup_ratio` of the steps, and the seed for
    the weights and the data order. On a machine without CUDA it trains on the CPU."""
    metric, greater = args.selection
    return TrainingArguments(
        output_dir=str(run_dir),
        num_train_epochs=args.max_epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=max(args.batch_size, 256),
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_ratio,  # a float below 1 is a share of the steps
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,  # with load_best_model_at_end the best checkpoint is kept besides the last
        load_best_model_at_end=True,
        metric_for_best_model=metric,
        greater_is_better=greater,
        logging_strategy="epoch",
        report_to=[],
        remove_unused_columns=False,
        seed=seed,
        data_seed=seed,
        use_cpu=not _has_accelerator(),
        disable_tqdm=not args.progress,
        dataloader_pin_memory=False,
    )


def train_affect_run(
    dataset: DatasetDict, args: AffectProtocolArguments, seed: int, run_dir: str | Path, *, fold: int | None = None
) -> RunResult:
    """Trains one fusion model (live-comment features used when the dataset has them), keeps its best-dev
    checkpoint, and returns its dev and test metrics. A finished run (its `result.json`) is read back, and a cut-short
    one resumes from its last checkpoint."""
    run_dir = Path(run_dir)
    for split in ("train", "validation", "test"):
        if split not in dataset:
            raise ValueError(f"the dataset needs a {split!r} split (has {list(dataset)})")
    done = run_dir / RESULT_FILE
    signature = run_signature(dataset, args, seed)
    if done.is_file():
        stored = json.loads(done.read_text())
        if stored.pop("signature", None) == signature:
            return RunResult(**stored)
        if not args.overwrite:
            raise ValueError(
                f"{run_dir} holds a run with other settings or other data (hyperparameters, features or labels "
                f"differ): pass overwrite=True (--overwrite) to retrain it, or use another output folder"
            )
        shutil.rmtree(run_dir)
    use_live_comments = "live_comment_features" in dataset["train"].column_names
    metric = args.selection[0]
    set_seed(seed)
    model = build_fusion_model(dataset, args, use_live_comments)
    training_args = affect_training_arguments(args, seed, run_dir)
    columns = [c for c in dataset["train"].column_names if c.endswith("_features") or c == args.label_column]
    splits = {name: dataset[name].with_format("numpy", columns=columns) for name in ("train", "validation", "test")}
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"],
        data_collator=AffectFusionCollator(label_column=args.label_column, use_live_comment_features=use_live_comments),
        compute_metrics=compute_metrics_for(args.benchmark),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=args.patience)],
    )
    with _cpu_threads(1 if training_args.use_cpu else None):
        trainer.train(resume_from_checkpoint=get_last_checkpoint(str(run_dir)) if run_dir.is_dir() else None)
        best_epoch = _best_epoch(trainer, metric)
        history = [[r["epoch"], r[f"eval_{metric}"]] for r in trainer.state.log_history if f"eval_{metric}" in r]
        dev = _strip_prefix(trainer.evaluate(splits["validation"]), "eval_")
        prediction = trainer.predict(splits["test"])
    test = affect_metrics(args.benchmark, prediction.predictions, prediction.label_ids)
    if args.save_models:
        trainer.save_model(str(run_dir / "model"))
    for checkpoint in run_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)  # the best weights live on in run_dir/model
    result = RunResult(seed=seed, best_epoch=best_epoch, dev=dev, test=test, fold=fold, history=history)
    done.write_text(json.dumps({**asdict(result), "signature": signature}, indent=2))
    return result


def run_signature(dataset: DatasetDict, args: AffectProtocolArguments, seed: int) -> str:
    """A hash of what a run's result depends on: the training settings, the seed, and every split's ids, labels
    and features (so that a run over re-extracted live-comment features is not read back as finished)."""
    settings = {k: v for k, v in asdict(args).items() if k not in ("seeds", "output_dir", "save_models", "overwrite", "progress")}
    digest = hashlib.sha256(json.dumps({"settings": settings, "seed": seed}, sort_keys=True, default=str).encode())
    for name in ("train", "validation", "test"):
        split = dataset[name]
        columns = sorted(c for c in split.column_names if c.endswith("_features") or c in ("id", args.label_column))
        digest.update(name.encode())
        for column in columns:
            digest.update(column.encode())
            for batch in split.with_format("numpy", columns=[column]).iter(batch_size=1024):
                for value in batch[column]:
                    digest.update(np.ascontiguousarray(np.asarray(value, dtype=np.float32 if column.endswith("_features") else None)).tobytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _cpu_threads(count: int | None):
    """The fusion model's matrices are tiny (batch x a few steps x 128): on CPU, intra-op threads cost more in
    synchronisation than they save (measured: 21 ms a step with 1 thread, 390 ms with 2 on a loaded 2-core machine)."""
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def _best_epoch(trainer: Trainer, metric: str) -> float:
    best = trainer.state.best_metric
    for record in trainer.state.log_history:
        if record.get(f"eval_{metric}") == best:
            return float(record.get("epoch", math.nan))
    return math.nan


def _strip_prefix(metrics: Mapping[str, float], prefix: str) -> dict[str, float]:
    skip = ("runtime", "samples_per_second", "steps_per_second", "epoch", "loss")
    return {k[len(prefix):]: float(v) for k, v in metrics.items() if k.startswith(prefix) and not k.endswith(skip)}


def run_affect_protocol(datasets: Mapping[str, DatasetDict], args: AffectProtocolArguments) -> ProtocolResult:
    """Runs every setting (`{name: DatasetDict}` with train / validation / test; a setting uses live-comment features
    when its dataset has the column) over `args.seeds`, and returns every run with the mean ± std summary. A setting
    without a validation split (MUStARD's speaker-independent split) gets a stratified `dev_fraction` of train.

    Runs are stored under `output_dir/<setting>/seed-<k>` and resume there; with `save_models`, the best-dev
    seed's model is copied to `output_dir/<setting>/model` with a model card.
    """
    runs, models = {}, {}
    datasets = {setting: with_dev_split(dataset, args.dev_fraction, args.label_column) for setting, dataset in datasets.items()}
    for setting, dataset in datasets.items():
        setting_dir = Path(args.output_dir) / _slug(setting)
        runs[setting] = []
        for seed in args.seeds:
            logger.info("affect protocol: %s, seed %d", setting, seed)
            runs[setting].append(train_affect_run(dataset, args, seed, setting_dir / f"seed-{seed}"))
        if args.save_models:
            models[setting] = str(_keep_best_model(setting_dir, runs[setting], args, setting))
    result = ProtocolResult(args.benchmark, runs, args.selection[0], models)
    _write_cards(result, args, datasets)
    return result


def run_mustard_protocol(
    datasets: Mapping[str, Sequence[DatasetDict]], args: AffectProtocolArguments
) -> ProtocolResult:
    """MUStARD's speaker-dependent setting: `{setting: [fold DatasetDict(train, test), ...]}` (the authors' folds,
    `mustard_official_folds`). Each fold's training part gives up a stratified `dev_fraction` as validation (the same
    for every seed); each seed trains on every fold, and its figure is the mean over the folds."""
    runs, models = {}, {}
    for setting, folds in datasets.items():
        setting_dir = Path(args.output_dir) / _slug(setting)
        runs[setting] = []
        for fold_index, fold in enumerate(folds):
            split = with_dev_split(fold, args.dev_fraction, args.label_column)
            for seed in args.seeds:
                run_dir = setting_dir / f"fold-{fold_index}" / f"seed-{seed}"
                runs[setting].append(train_affect_run(split, args, seed, run_dir, fold=fold_index))
        if args.save_models:
            models[setting] = str(_keep_best_model(setting_dir, runs[setting], args, setting))
    result = ProtocolResult(args.benchmark, runs, args.selection[0], models)
    _write_cards(result, args, {s: f[0] for s, f in datasets.items()})
    return result


def live_comment_settings(live_comment_features: str | Path | None, without: bool) -> dict[str, str | None]:
    """The settings `hf-livechat train-affect` compares: `{"with live comments": FOLDER}` for a feature store (from
    `extract-lc-features`), and `{"without live comments": None}`, the benchmark as it is, beside it (or alone with
    `without`).

    Raises:
        ValueError: neither a feature store nor `without`.
    """
    if live_comment_features is None and not without:
        raise ValueError("pass --live-comment-features DIR (from extract-lc-features), or --no-live-comments for the text/audio/video model alone")
    settings: dict[str, str | None] = {}
    if live_comment_features is not None:
        settings[WITH_LIVE_COMMENTS] = str(live_comment_features)
    settings[WITHOUT_LIVE_COMMENTS] = None
    return settings


def run_live_comment_protocol(
    data: DatasetDict | Sequence[DatasetDict],
    settings: Mapping[str, str | Path | None],
    args: AffectProtocolArguments,
    load_features: Callable[[str], Mapping[str, np.ndarray]],
) -> ProtocolResult:
    """The with/without live comments comparison, for `hf-livechat train-affect` and the affect quickstart.

    Each setting `{name: folder}` trains on the benchmark joined by id with that feature store's vectors
    (`join_live_comment_features`; a clip without a vector is an error); each `{name: None}` on the benchmark as it
    is. Settings run in their order. A list of folds (MUStARD speaker-dependent) joins every fold and runs
    `run_mustard_protocol`, a `DatasetDict` `run_affect_protocol`.

    Args:
        load_features: folder -> `{id: vector}`, e.g. `hf_livechat.pipelines.lc_features.load_lc_features` (which
            refuses an unfinished store); every store is read before the first run.
    """
    folds = isinstance(data, (list, tuple))
    datasets = {}
    for name, folder in settings.items():
        if folder is None:
            datasets[name] = data
            continue
        vectors, source = load_features(str(folder)), str(folder)
        if folds:
            datasets[name] = [join_live_comment_features(fold, vectors, source) for fold in data]
        else:
            datasets[name] = join_live_comment_features(data, vectors, source)
    run = run_mustard_protocol if folds else run_affect_protocol
    return run(datasets, args)


def with_dev_split(fold: DatasetDict, fraction: float, label_column: str = "label", seed: int = 0) -> DatasetDict:
    """`train` / `test` -> `train` / `validation` / `test`, the validation share drawn from train, stratified by
    label when the label is a class."""
    if "validation" in fold:
        return fold
    stratify = label_column if isinstance(fold["train"].features.get(label_column), ClassLabel) else None
    parts = fold["train"].train_test_split(test_size=fraction, seed=seed, stratify_by_column=stratify)
    return DatasetDict(train=parts["train"], validation=parts["test"], test=fold["test"])


def _slug(name: str) -> str:
    """A folder name for a setting: "with live comments" -> "with-live-comments"."""
    return "-".join("".join(c if c.isalnum() or c == "_" else " " for c in name.lower()).split()) or "run"


def _keep_best_model(setting_dir: Path, runs: list[RunResult], args: AffectProtocolArguments, setting: str) -> Path:
    """Copies the model of the run with the best dev score to `setting_dir/model`."""
    metric, greater = args.selection
    best = (max if greater else min)(runs, key=lambda run: run.dev.get(metric, -math.inf if greater else math.inf))
    source = setting_dir / (f"fold-{best.fold}/" if best.fold is not None else "") / f"seed-{best.seed}" / "model"
    target = setting_dir / "model"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    (target / "selected_run.json").write_text(json.dumps({"setting": setting, **asdict(best)}, indent=2))
    return target


def _write_cards(result: ProtocolResult, args: AffectProtocolArguments, datasets: Mapping[str, DatasetDict]) -> None:
    from ..model_card import write_affect_fusion_model_card

    summary = result.summary()
    for setting, folder in result.models.items():
        dataset = datasets[setting]
        write_affect_fusion_model_card(
            folder,
            benchmark=args.benchmark,
            setting=setting,
            summary=summary,
            selection_metric=result.selection_metric,
            seeds=list(args.seeds),
            training={
                "max epochs": args.max_epochs,
                "early stopping patience (epochs)": args.patience,
                "batch size": args.batch_size,
                "learning rate": args.learning_rate,
                "weight decay": args.weight_decay,
                "training examples": len(dataset["train"]),
            },
        )


__all__ = [
    "AffectProtocolArguments",
    "RunResult",
    "ProtocolResult",
    "SELECTION_METRICS",
    "WITH_LIVE_COMMENTS",
    "WITHOUT_LIVE_COMMENTS",
    "affect_training_arguments",
    "live_comment_settings",
    "run_live_comment_protocol",
    "join_live_comment_features",
    "label_setup",
    "build_fusion_model",
    "train_affect_run",
    "run_affect_protocol",
    "run_mustard_protocol",
    "with_dev_split",
]
