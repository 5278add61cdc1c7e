"""`hf-livechat quickstart --affect`: the LCAffect chain on procedural data, from unlabelled streams to the proof that
live-comment features help a small labelled affect set.

1. make-stream: unlabelled streams whose live comments voice the affect of what happens on screen
   (`hf_livechat.synthetic.affect_world`), mp4 + chat JSON + manifest;
2. build-lcaffect: 8 s segments with their comments, EfficientNet-Lite0 frame features (ImageNet weights);
3. train-v2lc: the video <-> live comment contrastive encoder, with its held-out retrieval table;
4. a small labelled affect set: utterance clips cut from *other* streams (text, acoustic and visual features,
   labels), split by game, so the scene kinds of the test clips never occur in labelled training;
5. extract-lc-features: one live-comment vector per clip, from the trained V2LC and from an untrained one (the same
   architecture with random weights: the control);
6. train-affect: the fusion model without live-comment features, with the trained V2LC's, and with the untrained
   one's; 5 seeds, dev-selected checkpoints, test accuracy and weighted F1 as mean ± std.

Each step is the function the corresponding `hf-livechat` command calls, and each resumes: re-running skips what is
done. The verdict compares the settings as the issue asks: a gain counts when it exceeds twice the larger of the two
standard deviations.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

NO_LIVE_COMMENTS = "text + acoustic + visual"
TRAINED = "+ live comments (trained V2LC)"
UNTRAINED = "+ live comments (untrained V2LC)"


@dataclass
class AffectQuickstartOptions:
    """Sizes of the affect quickstart (the defaults are the run in docs/lcaffect.md)."""

    out_dir: str = "affect-quickstart"
    seed: int = 0
    num_games: int = 12
    num_streams: int = 48  # unlabelled, 4 per game
    stream_seconds: float = 240.0
    labelled_streams_per_game: int = 1
    labelled_seconds: float = 300.0
    frame_size: int = 64
    v2lc_epochs: float = 15
    v2lc_batch_size: int = 64
    v2lc_learning_rate: float = 2e-3
    v2lc_config: str = "tiny"
    v2lc_text_model: str = "tiny"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    affect_max_epochs: int = 40
    affect_patience: int = 8
    affect_learning_rate: float = 1e-3
    affect_batch_size: int = 32
    d_model: int = 64
    progress: bool = True
    settings: tuple[str, ...] = field(default=(NO_LIVE_COMMENTS, TRAINED, UNTRAINED))

    def __post_init__(self):
        self.seeds = tuple(int(seed) for seed in self.seeds)
        unknown = set(self.settings) - {NO_LIVE_COMMENTS, TRAINED, UNTRAINED}
        if unknown or not self.settings:
            raise ValueError(f"settings must be among {[NO_LIVE_COMMENTS, TRAINED, UNTRAINED]}, got {list(self.settings)}")
        if not self.seeds:
            raise ValueError("the affect protocol needs at least one seed")


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def run_affect_quickstart(options: AffectQuickstartOptions | None = None) -> dict:
    """Runs (or resumes) the chain into `options.out_dir` and returns the protocol summary, the verdict and timings."""
    from .data.builders.v2lc_segments import LCAffectBuildOptions, build_lcaffect_dataset
    from .synthetic.affect_world import make_affect_streams, make_labelled_clips, make_world

    options = options or AffectQuickstartOptions()
    out = Path(options.out_dir)
    world = make_world(options.seed, options.num_games)
    timings = {}

    start = _step(f"1/6 make-stream: {options.num_streams} unlabelled streams x {options.stream_seconds:.0f} s, "
                  f"{len(world.games)} games x 4 scene kinds")
    manifest = make_affect_streams(out / "streams", world, options.num_streams, options.stream_seconds, options.seed,
                                   size=options.frame_size, progress=options.progress)
    timings["make-stream"] = time.perf_counter() - start

    start = _step(f"2/6 build-lcaffect: 8 s segments with their comments, EfficientNet-Lite0 features at {options.frame_size} px")
    build = LCAffectBuildOptions(feature_model="efficientnet-lite0", frame_size=options.frame_size, seed=options.seed)
    summary = build_lcaffect_dataset(manifest, out / "segments", build, progress=options.progress)
    print(summary.format())
    timings["build-lcaffect"] = time.perf_counter() - start

    start = _step(f"3/6 train-v2lc: '{options.v2lc_config}' video tower, '{options.v2lc_text_model}' text tower, "
                  f"{options.v2lc_epochs:g} epochs")
    v2lc_dir = _train_v2lc(out, options)
    timings["train-v2lc"] = time.perf_counter() - start

    start = _step("4/6 labelled affect set: utterance clips cut from other streams, split by game")
    clips = out / "labelled" / "manifest.jsonl"
    if not clips.is_file():
        make_labelled_clips(out / "labelled", world, options.labelled_streams_per_game, options.labelled_seconds,
                            seed=options.seed + 1, size=options.frame_size, progress=options.progress)
    dataset = _labelled_dataset(out / "labelled")
    segments = dict(summary.examples)
    print(", ".join(f"{name} {len(rows)} clips" for name, rows in dataset.items())
          + f" (pretraining segments: {sum(segments.values())})")
    timings["labelled set"] = time.perf_counter() - start

    start = _step("5/6 extract-lc-features: one vector per clip, from the trained V2LC and from an untrained one")
    stores = _extract(out, v2lc_dir, clips, options)
    timings["extract-lc-features"] = time.perf_counter() - start

    start = _step(f"6/6 train-affect: {len(options.seeds)} seeds each, dev-selected, test metrics mean ± std")
    result = _affect_protocol(out, dataset, stores, options)
    table = result.format_table(["accuracy", "weighted_f1"])
    print(table)
    timings["train-affect"] = time.perf_counter() - start

    verdict = compare_settings(result.summary())
    print("\n" + format_verdict(verdict))
    report = {
        "summary": result.summary(),
        "verdict": verdict,
        "timings": timings,
        "clips": {name: len(rows) for name, rows in dataset.items()},
        "segments": segments,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(options).items()},
    }
    (out / "affect_evaluation.json").write_text(json.dumps(report, indent=2))
    print("\n== done in " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f" (total {sum(timings.values()):.0f} s)")
    print(f"table and verdict: {out / 'affect_evaluation.json'}; runs and best models: {out / 'affect-runs'}")
    return report


def _train_v2lc(out: Path, options: AffectQuickstartOptions) -> Path:
    from .training.v2lc import V2LCRecipeArguments, train_v2lc, v2lc_training_arguments

    model_dir = out / "v2lc"
    if (model_dir / "model.safetensors").is_file():
        print(f"already trained: {model_dir}")
        return model_dir
    recipe = V2LCRecipeArguments(dataset_dir=str(out / "segments"), config=options.v2lc_config,
                                 text_model=options.v2lc_text_model, max_comment_length=16)
    args = v2lc_training_arguments(
        str(model_dir), epochs=options.v2lc_epochs, batch_size=options.v2lc_batch_size,
        learning_rate=options.v2lc_learning_rate, warmup_steps=10, logging_steps=25, seed=options.seed, evaluate=False,
        disable_tqdm=not options.progress, dataloader_pin_memory=False,
    )
    return train_v2lc(recipe, args)


def _untrained_v2lc(out: Path, v2lc_dir: Path, seed: int):
    """The control: V2LC with the trained model's architecture and frame settings, and random weights (saved, so
    that `hf-livechat extract-lc-features --model OUT/v2lc-untrained` reproduces its features)."""
    from transformers import set_seed

    from .models.v2lc import V2LCConfig, V2LCModel

    folder = out / "v2lc-untrained"
    if (folder / "model.safetensors").is_file():
        return V2LCModel.from_pretrained(folder)
    set_seed(seed + 1000)
    model = V2LCModel(V2LCConfig.from_pretrained(v2lc_dir))
    model.save_pretrained(folder)
    return model


def _extract(out: Path, v2lc_dir: Path, clips: Path, options: AffectQuickstartOptions) -> dict[str, tuple[Path, str]]:
    """-> {setting: (feature store, model sha256)} for the two V2LC models."""
    from .models.v2lc import V2LCModel
    from .pipelines.lc_features import extract_lc_features

    models = {TRAINED: lambda: V2LCModel.from_pretrained(v2lc_dir), UNTRAINED: lambda: _untrained_v2lc(out, v2lc_dir, options.seed)}
    stores = {}
    for setting in (s for s in (TRAINED, UNTRAINED) if s in options.settings):
        model = models[setting]()
        folder = out / "lc-features" / ("trained" if setting == TRAINED else "untrained")
        summary = extract_lc_features(model, clips, folder, progress=options.progress)
        print(f"{setting}: {summary.format()}")
        stores[setting] = (folder, summary.model_sha256)
    return stores


def _labelled_dataset(folder: Path):
    """The labelled clips with MiniLM sentence features of their text (`text_features`, one step)."""
    from datasets import load_dataset

    from .training.affect_benchmarks import with_sentence_features

    dataset = load_dataset("parquet", data_dir=str(folder / "data"))
    return with_sentence_features(dataset, lambda row: [row["text"]], cache_dir=folder / "sentence-features")


def _affect_protocol(out: Path, dataset, stores: dict, options: AffectQuickstartOptions):
    from .pipelines.lc_features import load_lc_features
    from .training.affect import AffectProtocolArguments, run_live_comment_protocol

    settings = {setting: None if setting == NO_LIVE_COMMENTS else str(stores[setting][0]) for setting in options.settings}
    model_of = {str(folder): sha256 for folder, sha256 in stores.values()}
    args = AffectProtocolArguments(
        benchmark="classification",
        seeds=list(options.seeds),
        max_epochs=options.affect_max_epochs,
        patience=options.affect_patience,
        batch_size=options.affect_batch_size,
        learning_rate=options.affect_learning_rate,
        d_model=options.d_model,
        num_layers=1,
        ffn_dim=2 * options.d_model,
        output_dir=str(out / "affect-runs"),
        progress=options.progress,
    )
    # each store must hold the features of the model it was extracted with (a stale store is refused)
    return run_live_comment_protocol(
        dataset, settings, args, load_features=lambda folder: load_lc_features(folder, model_sha256=model_of[folder])
    )


def compare_settings(summary: dict, metrics: tuple[str, ...] = ("accuracy", "weighted_f1")) -> dict:
    """Each live-comment setting against the model without live comments: the gain of the mean, and whether it
    exceeds twice the larger standard deviation of the two (the issue's bar)."""
    verdict = {}
    base = summary.get(NO_LIVE_COMMENTS)
    if base is None:
        return verdict
    for setting, values in summary.items():
        if setting == NO_LIVE_COMMENTS:
            continue
        verdict[setting] = {}
        for metric in metrics:
            gain = values[metric]["mean"] - base[metric]["mean"]
            bar = 2 * max(values[metric]["std"], base[metric]["std"])
            verdict[setting][metric] = {"gain": gain, "twice_std": bar, "beats": bool(gain > bar)}
    return verdict


def format_verdict(verdict: dict) -> str:
    lines = [f"against '{NO_LIVE_COMMENTS}' (a gain counts when it exceeds twice the larger std of the two):"]
    for setting, metrics in verdict.items():
        parts = [f"{metric} {v['gain']:+.3f} (2 std {v['twice_std']:.3f}: {'beats it' if v['beats'] else 'does not beat it'})"
                 for metric, v in metrics.items()]
        lines.append(f"  {setting}: " + ", ".join(parts))
    return "\n".join(lines)


__all__ = ["AffectQuickstartOptions", "compare_settings", "format_verdict", "run_affect_quickstart"]
