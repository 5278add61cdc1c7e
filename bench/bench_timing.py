"""When to speak: `--when auto` against fixed intervals at the same number of comments, on trigger F1 and TimeDiff.

    python bench/bench_timing.py --model WORLD_MODEL --streams HELD_OUT_STREAMS [--stride 2] [--split test]
    python bench/bench_timing.py --chat-model CHAT_ONLY_MODEL [--data ../shared/data]     # the real chat logs
    python bench/bench_timing.py --chat-model northernlion=M1 --chat-model youtube=M2   # a model per log
    python bench/bench_timing.py --smoke     # a tiny random model on a 150 s world and a small log: seconds

**World streams** (`--streams`: a `make-stream` folder with its `*.truth.json` logs, streams the model never saw,
e.g. a second draw; `--split` keeps one split of its manifest): windows slide over each stream every `--stride`
seconds from the first full context (20 s), as live mode does; each window's predicted activity comes from the model
(`predict_activity`, the stream's own chat and speech up to the window's end) and from the trivial predictor (the
chat's own count in the last 10 s). The speaking policy (`hf_livechat.pipelines.speaking`, `when="auto"`, its
knobs from the flags) turns each into comment times; fixed-interval emission makes as many comments, evenly spaced,
averaged over 10 phases. The truth is each episode's response window holding replies (`bursts_from_truth`).

**Real chat logs** (Northernlion's Twitch VOD, the YouTube premiere, the largest Bilibili log; read and filtered as
`build-dataset` reads them): the bursts come from the log itself (`detect_bursts`), the windows slide over the last
30 % of its time span (a chat-only model built with `build-dataset --split-by-time 0.7` trained on the rest) with
the chat alone as context. Without `--chat-model` only the trivial predictor's rows are printed.

Scores (`hf_livechat.evaluation.timing_metrics`): a burst is hit by a comment in `[start - 1 s, start + tolerance]`;
trigger precision / recall / F1 pooled over the streams of a table, TimeDiff the mean delay from a burst's start to
the first comment after it (capped at 10 s).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench_real_chat import find_logs, log_key  # the same three real logs (bench/ is the script's folder)

from hf_livechat.data.chat import ChatFilters, read_chat
from hf_livechat.data.windows import StreamContext, window_ends
from hf_livechat.evaluation.activity import correlation_metrics
from hf_livechat.evaluation.timing_metrics import (
    bursts_from_truth,
    detect_bursts,
    fixed_interval_times,
    pool_scores,
    recent_counts,
    timing_scores,
)
from hf_livechat.pipelines.speaking import SpeakingPolicy, emission_times

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONTEXT = 20.0
RECENT = 10.0  # the trivial predictor's look-back: the response window's length
PHASES = 10
# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"stride": 5.0, "batch_size": 8, "burst_min_count": 2, "train_fraction": 0.0}


def load_pipeline(model: str):
    import hf_livechat  # noqa: F401  (registers the pipeline)
    from transformers import pipeline

    commenter = pipeline("video-comment-generation", model=model)
    if not commenter.has_activity:
        raise ValueError(f"{model}: the model has no activity head (config.activity_head); train one with it on")
    return commenter


def model_activity(commenter, context: StreamContext, ends: list[float], batch_size: int) -> np.ndarray:
    """The model's predicted activity at each window end, windows batched (the pipeline's window inputs)."""
    out = []
    for start in range(0, len(ends), batch_size):
        windows = [commenter.window_inputs(context, end) for end in ends[start : start + batch_size]]
        inputs = {key: torch.cat([w[key] for w in windows]) for key in windows[0] if key != "time"}
        with torch.no_grad():
            out.append(commenter.model.predict_activity(**{k: commenter._to_device(v) for k, v in inputs.items()}).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


class Table:
    """The rows of one table: per predictor, auto's scores and the fixed-interval baseline's, pooled over streams."""

    def __init__(self, policy: SpeakingPolicy, stride: float, scoring: dict):
        self.policy, self.stride, self.scoring = policy, stride, scoring
        self.auto: dict[str, list] = {}
        self.fixed: dict[str, list[list]] = {}  # predictor -> per phase, the streams' scores
        self.bursts = 0
        self.streams = 0
        self.next_counts: list[np.ndarray] = []  # the chat's real count in the 10 s after each window
        self.predicted: dict[str, list[np.ndarray]] = {}

    def add_stream(self, ends: list[float], bursts, predictions: dict[str, np.ndarray], message_times) -> None:
        self.streams += 1
        self.bursts += len(bursts)
        self.next_counts.append(recent_counts(message_times, np.asarray(ends) + RECENT, RECENT))
        span = (ends[0], ends[-1] + self.stride)
        for name, activity in predictions.items():
            self.predicted.setdefault(name, []).append(np.asarray(activity))
            times, _ = emission_times(ends, activity, self.policy, self.stride)
            self.auto.setdefault(name, []).append(timing_scores(times, bursts, **self.scoring))
            phases = self.fixed.setdefault(name, [[] for _ in range(PHASES)])
            for k in range(PHASES):
                fixed = fixed_interval_times(len(times), *span, phase=k / PHASES)
                phases[k].append(timing_scores(fixed, bursts, **self.scoring))

    def print(self, title: str) -> None:
        print(f"\n{title}: {self.streams} stream(s), {self.bursts} bursts; a window every {self.stride:g} s")
        print("| predictor | emission | comments | trigger P | trigger R | trigger F1 | TimeDiff (s) |")
        print("|---|---|---|---|---|---|---|")
        for name in self.auto:
            auto = pool_scores(self.auto[name])
            per_phase = [pool_scores(streams) for streams in self.fixed[name]]
            fixed = {key: float(np.mean([getattr(s, key) for s in per_phase])) for key in ("precision", "recall", "f1", "time_diff")}
            f1s = [s.f1 for s in per_phase]
            print(f"| {name} | auto | {auto.comments} | {auto.precision:.3f} | {auto.recall:.3f} | {auto.f1:.3f} | {auto.time_diff:.2f} |")
            print(
                f"| {name} | fixed interval, same count ({PHASES} phases; F1 {min(f1s):.3f}-{max(f1s):.3f}) | {auto.comments} | "
                f"{fixed['precision']:.3f} | {fixed['recall']:.3f} | {fixed['f1']:.3f} | {fixed['time_diff']:.2f} |"
            )
        self.print_activity()

    def print_activity(self) -> None:
        real = np.concatenate(self.next_counts)
        spearman = {name: correlation_metrics(np.concatenate(p), real)["spearman"] for name, p in self.predicted.items()}
        print(f"activity: Spearman with the chat's count in the next {RECENT:g} s over {len(real)} windows: "
              + ", ".join(f"{name} {value:.3f}" for name, value in spearman.items()))


def world_rows(args, policy: SpeakingPolicy, scoring: dict) -> None:
    folder = Path(args.streams)
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
    if args.split:
        rows = [row for row in rows if row.get("split") == args.split]
    rows = rows[: args.max_streams] if args.max_streams else rows
    if not rows:
        raise ValueError(f"{folder}: no stream{' of split ' + args.split if args.split else ''} in manifest.jsonl")
    commenter = load_pipeline(args.model)
    table = Table(policy, args.stride, scoring)
    started = time.perf_counter()
    for row in rows:
        paths = {key: str(folder / row[key]) for key in ("video", "chat", "transcript") if row.get(key)}
        context = commenter.stream_context(paths)
        ends = window_ends(context.duration, CONTEXT, args.stride)
        bursts = bursts_from_truth(folder / row["truth"])
        table.add_stream(ends, bursts, {
            "activity model": model_activity(commenter, context, ends, args.batch_size),
            "recent rate (trivial)": recent_counts(context.message_times, ends, RECENT),
        }, context.message_times)
    table.print(f"world streams of {folder} ({time.perf_counter() - started:.0f} s)")


def chat_models(entries: list[str]) -> dict[str | None, str]:
    """`--chat-model` entries: `FOLDER` (every log) or `LOG=FOLDER` (northernlion, youtube, bilibili) -> {log or None: folder}."""
    models = {}
    for entry in entries:
        log, _, folder = entry.rpartition("=") if "=" in entry and not Path(entry).exists() else ("", "", entry)
        models[log or None] = folder
    return models


def real_rows(args, logs: dict[str, Path], policy: SpeakingPolicy, scoring: dict) -> None:
    models, pipelines = chat_models(args.chat_model), {}
    for name, path in logs.items():
        folder = models.get(log_key(name), models.get(None))
        if folder and folder not in pipelines:
            pipelines[folder] = load_pipeline(folder)
        commenter = pipelines.get(folder)
        messages = list(read_chat(path, filters=ChatFilters()))
        if len(messages) < 2:
            print(f"\n{name}: {len(messages)} messages after filtering, skipped")
            continue
        times = [m.time for m in messages]
        first, last = times[0], times[-1]
        held_out = f"{100 - 100 * args.train_fraction:.0f} %"
        cut = first + args.train_fraction * (last - first)
        # Bursts of the whole log (its running median needs the past), scored on the held-out part only.
        bursts = [b for b in detect_bursts(times, factor=args.burst_factor, min_count=args.burst_min_count) if b.start >= cut + CONTEXT]
        context = StreamContext(messages=messages, duration=last)
        ends = window_ends(last - first, CONTEXT, args.stride, start=max(cut - first, 0.0) + CONTEXT)
        ends = [first + e for e in ends]
        if not ends:
            print(f"\n{name}: no window in the held-out {held_out} of the log, skipped")
            continue
        predictions = {"recent rate (trivial)": recent_counts(times, ends, RECENT)}
        if commenter is not None:
            predictions["chat-only model"] = model_activity(commenter, context, ends, args.batch_size)
            print(f"\n{name}: chat-only model {folder}")
        table = Table(policy, args.stride, scoring)
        table.add_stream(ends, bursts, predictions, times)
        if not bursts:  # nothing to trigger on: the activity figures alone
            print(f"\n{name}: {len(messages)} messages, no burst in the held-out {held_out} of the log (no trigger scores)")
            table.print_activity()
            continue
        table.print(f"{name}: {len(messages)} messages, held-out last {held_out} ({(ends[-1] - ends[0]) / 60:.1f} min)")


def smoke(args, policy: SpeakingPolicy, scoring: dict) -> None:
    """A 150 s world whose chat goes quiet and bursts, a tiny random model with an activity head, and the world's
    chat as a stand-in log: the whole bench end to end in seconds (its figures measure nothing)."""
    from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
    from hf_livechat.synthetic import ACTIVITY_KNOBS, WORLD_VARIANTS, MediaSpec, make_streams
    from hf_livechat.tokenization import default_tokenizer
    import dataclasses

    with tempfile.TemporaryDirectory() as tmp:
        config = dataclasses.replace(WORLD_VARIANTS["quickstart"], **ACTIVITY_KNOBS)
        manifest = make_streams(Path(tmp) / "streams", num_streams=1, duration=150.0, seed=1, config=config, spec=MediaSpec(fps=1, size=32), progress=False)
        processor = LiveChatProcessor(default_tokenizer(), max_transcript_length=16, max_eval_context_comments=4)
        model_config = LiveChatConfig(
            **processor.config_kwargs(), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, video_feature_dim=1280,
            feature_model="efficientnet-lite0", frame_size=32, activity_head=True,
        )
        torch.manual_seed(0)
        folder = Path(tmp) / "model"
        LiveChatForCommentGeneration(model_config).save_pretrained(folder)
        processor.save_pretrained(folder)
        args.model, args.streams, args.chat_model = str(folder), str(Path(manifest).parent), [str(folder)]
        world_rows(args, policy, scoring)
        chat = next(Path(args.streams).glob("*.chat.json"))
        real_rows(args, {"smoke log (the world's chat)": chat}, policy, scoring)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a LiveChat model with an activity head, trained on the world family")
    parser.add_argument("--streams", help="held-out world streams: a make-stream folder with manifest.jsonl and *.truth.json")
    parser.add_argument("--split", default=None, help="only the manifest's streams of this split (e.g. test)")
    parser.add_argument("--max-streams", type=int, default=None)
    parser.add_argument("--chat-model", action="append", default=[], metavar="[LOG=]FOLDER",
                        help="a chat-only model with an activity head for the real logs: FOLDER for every log, or "
                        "LOG=FOLDER (northernlion, youtube, bilibili) for one; repeatable")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the real chat logs (../shared/data)")
    parser.add_argument("--no-real", action="store_true", help="skip the real chat logs")
    parser.add_argument("--train-fraction", type=float, default=0.7, help="real logs: the first part of the time span, left out (the chat-only model's training part)")
    parser.add_argument("--burst-factor", type=float, default=2.0, help="real logs: a burst's count exceeds this multiple of the running median")
    parser.add_argument("--burst-min-count", type=int, default=5, help="real logs: messages a burst's 10 s hold at least")
    parser.add_argument("--stride", type=float, default=2.0, help="seconds between windows")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threshold", type=float, default=SpeakingPolicy.threshold, help="auto: multiple of the running median")
    parser.add_argument("--rate-scale", type=float, default=SpeakingPolicy.rate_scale)
    parser.add_argument("--min-gap", type=float, default=SpeakingPolicy.min_gap)
    parser.add_argument("--max-silence", type=float, default=SpeakingPolicy.max_silence)
    parser.add_argument("--tolerance", type=float, default=5.0, help="seconds after a burst's start a comment still hits it")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    torch.set_num_threads(1)
    policy = SpeakingPolicy("auto", threshold=args.threshold, rate_scale=args.rate_scale, min_gap=args.min_gap, max_silence=args.max_silence)
    scoring = {"tolerance": args.tolerance, "early": 1.0, "cap": 10.0}
    print(f"policy: auto, threshold {policy.threshold:g} x running median, rate x{policy.rate_scale:g}, min gap "
          f"{policy.min_gap:g} s, max silence {policy.max_silence:g} s; hit = a comment in [start - 1 s, start + "
          f"{args.tolerance:g} s]")
    if args.smoke:
        smoke(args, policy, scoring)
        return
    if not args.streams and not args.chat_model and args.no_real:
        parser.error("nothing to do: give --streams and --model, and/or the real logs")
    if args.streams:
        if not args.model:
            parser.error("--streams needs --model")
        world_rows(args, policy, scoring)
    if not args.no_real:
        logs = find_logs(Path(args.data))
        if not logs:
            print(f"\nno real chat logs under {args.data}: skipped")
        else:
            real_rows(args, logs, policy, scoring)


if __name__ == "__main__":
    main()
