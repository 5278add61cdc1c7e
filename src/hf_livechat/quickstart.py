"""`hf-livechat quickstart`: the whole LiveChat chain on procedurally generated streams, in minutes on a CPU.

1. make-stream: streams whose frames show events, whose streamer talks about topics and whose chat reacts to both
   and to itself (real mp4 + SRT + TwitchDownloader JSON files);
2. build-dataset: 30 s clips with frame features from a real pretrained ImageNet backbone (EfficientNet-Lite0);
3. train: LiveChat (small preset) with the paper's random-target augmentation;
4. evaluate: Recall@k on the `livechat` ranking protocol with every modality, with each one removed, and chance;
5. generate: comments for a held-out stream with `pipeline("video-comment-generation")`, written as JSON/SRT/ASS.

Each step is the same function the corresponding `hf-livechat` command calls, and each resumes: re-running the
quickstart skips what is already done.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .training.defaults import TrainingDefaults


@dataclass
class QuickstartOptions:
    out_dir: str = "livechat-quickstart"
    # 16 episodes a stream: the same-video distractors of a clip are mostly answers to other cues of its own modality
    num_streams: int = 40
    stream_seconds: float = 480.0
    seed: int = 0
    frame_size: int = 112
    config: str = "small"
    epochs: float = TrainingDefaults.epochs
    batch_size: int = TrainingDefaults.batch_size
    learning_rate: float = TrainingDefaults.learning_rate
    # The small preset's own defaults (15 context comments in training too, token-level chat), chosen on the
    # world family with bench/bench_worlds.py, not on this world alone.
    config_overrides: str = ""


def _step(title: str):
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def run_quickstart(options: QuickstartOptions | None = None) -> dict:
    from .data.builders.livechat import BuildOptions, build_livechat_dataset
    from .data.clips import ClipConfig
    from .evaluation.evaluate import evaluate_model, format_table
    from .synthetic import make_streams
    from .synthetic.truth import comment_cue_labels
    from .training.train import LiveChatRecipeArguments, recipe_training_arguments, train_livechat

    options = options or QuickstartOptions()
    out = Path(options.out_dir)
    timings = {}

    start = _step(f"1/5 make-stream: {options.num_streams} streams x {options.stream_seconds:.0f} s")
    manifest = out / "streams" / "manifest.jsonl"
    if not manifest.is_file():
        make_streams(out / "streams", num_streams=options.num_streams, duration=options.stream_seconds, seed=options.seed, workers=2)
    timings["make-stream"] = time.perf_counter() - start

    start = _step("2/5 build-dataset: 30 s clips, EfficientNet-Lite0 frame features (ImageNet weights)")
    build = BuildOptions(clips=ClipConfig(selection="all"), feature_model="efficientnet-lite0", frame_size=options.frame_size, seed=options.seed)
    summary = build_livechat_dataset(manifest, out / "dataset", build)
    print(summary.format())
    timings["build-dataset"] = time.perf_counter() - start

    start = _step(f"3/5 train: LiveChat '{options.config}', {options.epochs:g} epochs")
    model_dir = out / "model"
    if not (model_dir / "model.safetensors").is_file():
        recipe = LiveChatRecipeArguments(dataset_dir=str(out / "dataset"), config=options.config, config_overrides=options.config_overrides)
        args = recipe_training_arguments(
            str(model_dir), epochs=options.epochs, batch_size=options.batch_size, learning_rate=options.learning_rate,
            seed=options.seed,
        )
        train_livechat(recipe, args)
    timings["train"] = time.perf_counter() - start

    start = _step("4/5 evaluate: livechat protocol (10 candidates), test split, each modality removed in turn")
    ablations = [(), ("video",), ("transcript",), ("chat",)]
    results = evaluate_model(
        str(model_dir),
        str(out / "dataset"),
        "test",
        "livechat",
        ablations,
        seed=options.seed,
        show_progress=False,
        group_of=comment_cue_labels(out / "streams"),
    )
    print(format_table(results, chance=0.1))
    # A modality should matter on the third of the queries whose answer it carries, and nowhere else.
    by_cue = {name: metrics["recall@1 by group"] for name, metrics in results.items()}
    print("\nR@1 by the modality whose cue the ground-truth comment answers (from the streams' *.truth.json):")
    order = ("video", "transcript", "chat", "filler", "unknown")
    columns = sorted(next(iter(by_cue.values())), key=lambda column: order.index(column.split(" (")[0]))
    print(format_table(by_cue, columns=columns))
    (out / "evaluation.json").write_text(json.dumps(results, indent=2))
    timings["evaluate"] = time.perf_counter() - start

    start = _step("5/5 generate: comments for a held-out test stream")
    generated = _generate_for_test_stream(out, model_dir)
    timings["generate"] = time.perf_counter() - start

    _write_card(model_dir, out, results, options)
    print("\n== done in " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f" (total {sum(timings.values()):.0f} s)")
    print(f"model: {model_dir}  ->  AutoModel.from_pretrained({str(model_dir)!r}) / pipeline('video-comment-generation', model=...)")
    return {"results": results, "timings": timings, "generated": generated}


def _generate_for_test_stream(out: Path, model_dir: Path) -> dict[str, list[dict]]:
    """Comments for a held-out stream with every input, and with its video only (the common case of a user without
    a chat log or transcript), with the pipeline's defaults; prints how much each repeats itself."""
    from transformers import pipeline

    from .pipelines.diversity import format_diversity
    from .pipelines.video_comment_generation import summarize_comments

    rows = [json.loads(line) for line in (out / "streams" / "manifest.jsonl").read_text().splitlines() if line.strip()]
    test = next((r for r in rows if r.get("split") == "test"), rows[-1])
    base = out / "streams"
    commenter = pipeline("video-comment-generation", model=str(model_dir))
    inputs = {
        "all inputs": {"video": str(base / test["video"]), "chat": str(base / test["chat"]), "transcript": str(base / test["transcript"])},
        "video only": {"video": str(base / test["video"])},
    }
    (out / "generated").mkdir(exist_ok=True)
    generated = {}
    for name, sources in inputs.items():
        comments = commenter(sources, stride=10)
        suffix = "" if name == "all inputs" else ".video-only"
        target = out / "generated" / f"{test['vod_id']}{suffix}.json"
        target.write_text(json.dumps(comments, indent=1, ensure_ascii=False))
        print(f"  {name}: {format_diversity(summarize_comments(comments))} -> {target}")
        for comment in comments[:5]:
            print(f"    {comment['time']:6.1f} s  {comment['comment']!r}  ({comment['score']:.2f})")
        generated[name] = comments
    return generated


def _write_card(model_dir: Path, out: Path, results: dict, options: QuickstartOptions) -> None:
    try:
        from .model_card import write_model_card
    except ImportError:
        return
    write_model_card(
        model_dir,
        dataset=str(out / "dataset"),
        metrics={name: {k: v for k, v in m.items() if isinstance(v, (int, float))} for name, m in results.items()},
        training={"preset": options.config, "epochs": options.epochs, "batch_size": options.batch_size, "learning_rate": options.learning_rate},
    )
