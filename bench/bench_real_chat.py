"""Real chat as a benchmark: per-word perplexity of the true comments on the last 30 % of three real chat logs.

    python bench/bench_real_chat.py [--lm smollm2-135m] [-n 200] [--seed 0] [--data ../shared/data] [--batch-size 8]
    python bench/bench_real_chat.py --smoke   # a tiny random llama, 2 messages per log: seconds, to show it runs
    python bench/bench_real_chat.py --train-minutes 2 --seeds 1 2 3 --work real-chat-runs [--logs northernlion]
    python bench/bench_real_chat.py --livechat-model MODEL_DIR --logs northernlion --work real-chat-runs   # a trained model's rows

The logs (see ../shared/data/README.md): Northernlion's Twitch VOD chat, a YouTube premiere chat and the largest
Bilibili danmaku log. Each is read with the package's chat readers and cleaned with the LiveChat filters
(`ChatFilters()`, what `build-dataset` applies), then split by time: messages in the first 70 % of the log's time
span are the training part, the rest the test part. N test messages are drawn (seeded) and every row scores the
same ones, each given the 15 messages before it.

A row is a scorer, `(contexts, targets) -> (NLL per target, words per target)`: the summed negative log-likelihood
(natural log) of a target's tokens including its line end, and its whitespace words plus one for the line end. The
table gives `exp(sum NLL / sum words)` per log, which compares models with different tokenizers, of the comments as
written: the from-scratch rows' BERT uncased vocabulary also pays for what it does not spell, each `[UNK]` spread over
the log's pieces it stands for and the case of each letter (`hf_livechat.evaluation.perplexity`; the figure as scored
is in brackets). Rows:

- bare LM zero-shot: the LM (default SmolLM2-135M-Instruct, offline through the `lm` extra) given the previous
  15 messages as plain lines; prompt = those lines joined by "\\n" plus "\\n", target = the message plus "\\n".
- LiveChat (`--train-minutes`, or a trained model folder with `--livechat-model`): each test message is scored
  given the row the model sees there, the chat-only window of the 20 s before the message
  (`data.windows.StreamContext.window`, what build-dataset and live mode cut; `clip_inputs.clip_processor_inputs`
  makes the inputs, as training does): the NLL of all of the message's tokens (not cut at `max_comment_length`)
  and the comment end token. Beside it the `livechat`-protocol Recall@1 (`evaluate_model`, 10 candidates) on the
  test split of the log's chat-only dataset (`build-dataset LOG --selection all --clip-stride 5 --split-by-time 0.7`:
  sliding clips, a query every 5 s, so that the shortest log still gives well over a hundred).

Training at equal wall-clock time (`--train-minutes M`): for each log, seed and model (`small` from scratch, and
`small` with the SmolLM2-135M decoder, LoRA r=16, reading the context chat as text), the recipe of `hf-livechat train` runs with `max_steps` chosen
from a measured seconds-per-step so that the run lasts about M minutes (the cosine schedule then completes): the
median seconds per step of the earlier runs of the same log and model in `--work` (`WORK/timings`; one run slowed by
other work on the machine then misplans no later one), or else the mean step after the first of a 4-step probe run
(step times vary by a factor of 5 on the shared machine). A callback also stops a run once its steps have taken M minutes (`StepClock`), so neither model gets more
time when the machine slows down. Both models train with batch size 8 and
`max_comment_length=32` (the preset's 10 tokens would cut a third of the YouTube messages in SmolLM2's tokenizer).
The table reports the steps run and the Trainer's `train_runtime`. Results go to
`WORK/results/*.json`; a re-run skips finished ones and prints the table over all of them (mean +- std over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hf_livechat.data.chat import ChatFilters, ChatMessage, read_chat, write_twitch_json
from hf_livechat.data.clips import ClipConfig
from hf_livechat.data.windows import StreamContext
from hf_livechat.evaluation.perplexity import case_cost, causal_lm_target_nll, count_words, unknown_token_cost


DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONTEXT_MESSAGES = 15
TRAIN_FRACTION = 0.7
# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"n": 2, "lm": "tiny-random", "batch_size": 2}
SMOKE_TRAIN_MINUTES = 0.02  # with --smoke, the trained rows on the first log

# (contexts: the previous messages of each target, targets) -> (summed NLL per target, words per target)
Scorer = Callable[[Sequence[Sequence[ChatMessage]], Sequence[ChatMessage]], tuple[np.ndarray, np.ndarray]]


@dataclass
class LogQueries:
    """The drawn test messages of one log, with what a row needs to score them."""

    name: str
    path: Path
    num_messages: int  # after filtering
    num_test: int  # messages in the last 30 % of the time span
    contexts: list[list[ChatMessage]]
    targets: list[ChatMessage]
    rows: list[dict]  # each target's chat-only window row (the 20 s before it), for LiveChat models
    texts: list[str]  # every message of the log (after filtering): the pieces a closed vocabulary's [UNK] stands for
    train_texts: list[str]  # the messages of the first 70 %: where a lower-casing model's case chain is counted


def find_logs(data: Path) -> dict[str, Path]:
    """The three benchmark logs under `data` (the largest Bilibili log by size); missing ones are left out."""
    logs = {
        "northernlion (twitch)": data / "twitch_vod_chat" / "1087079172.json",
        "youtube premiere": data / "chat_downloader" / "youtube_premiered_video_messages.json",
    }
    danmaku = sorted((data / "bilibili_danmaku").glob("*.xml"), key=lambda p: p.stat().st_size)
    if danmaku:
        logs["bilibili danmaku"] = danmaku[-1]
    return {name: path for name, path in logs.items() if path.is_file()}


def draw_queries(name: str, path: Path, n: int, seed: int, filters: ChatFilters | None = None) -> LogQueries:
    """Reads and filters a log (`ChatFilters()` by default), splits it by time (70/30) and draws `n` test messages
    with their contexts (`n=0`: every test message, in order)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    messages = list(read_chat(path, filters=ChatFilters() if filters is None else filters))
    if len(messages) <= CONTEXT_MESSAGES:
        raise ValueError(f"{path}: {len(messages)} messages after filtering, too few for {CONTEXT_MESSAGES} of context")
    start, end = messages[0].time, messages[-1].time
    cut = start + TRAIN_FRACTION * (end - start)
    test = [i for i, message in enumerate(messages) if message.time >= cut and i >= CONTEXT_MESSAGES]
    rng = np.random.default_rng(seed)
    drawn = test if n == 0 else sorted(rng.choice(test, size=min(n, len(test)), replace=False).tolist())
    # The log's chat on its clock, windowed as build-dataset and live mode window it (no frames, no transcript).
    stream = StreamContext(messages=messages, duration=end)
    rows = [{**stream.window(messages[i].time, ClipConfig().context_length), "has_video": False, "has_transcript": False} for i in drawn]
    return LogQueries(
        name, path, len(messages), len(test),
        contexts=[messages[i - CONTEXT_MESSAGES : i] for i in drawn], targets=[messages[i] for i in drawn], rows=rows,
        texts=[m.text for m in messages], train_texts=[m.text for m in messages if m.time < cut],
    )


def bare_lm_scorer(model, tokenizer, batch_size: int) -> Scorer:
    """The LM alone, zero-shot: the previous messages as plain lines, the target as the next line."""

    def score(contexts, targets):
        prompts = ["".join(m.text + "\n" for m in context) for context in contexts]
        nll, _ = causal_lm_target_nll(model, tokenizer, prompts, [t.text + "\n" for t in targets], batch_size=batch_size)
        return nll, np.array([count_words(t.text) for t in targets])

    return score


@torch.no_grad()
def livechat_target_nll(model, processor, rows: Sequence[dict], targets: Sequence[str], batch_size: int) -> np.ndarray:
    """Summed NLL (natural log) of each whole target comment and the comment end token, given its clip row, under a
    LiveChat model (the copy mechanism's mixed distribution when the model has one: the logits are its log-probs)."""
    import copy

    from hf_livechat.data.clip_inputs import clip_processor_inputs

    # The target is scored whole: a copy of the processor that does not cut it at max_comment_length.
    whole = copy.copy(processor)
    whole.max_comment_length = max(processor.max_comment_length, 1024)
    model.eval()
    out = []
    for start in range(0, len(rows), batch_size):
        batch_rows, batch_targets = rows[start : start + batch_size], list(targets[start : start + batch_size])
        inputs = processor(**clip_processor_inputs(batch_rows, model.config.video_feature_dim))
        labels = whole.encode_targets(batch_targets)
        logits = model(**inputs, labels=labels).logits.float()
        logprobs = logits.log_softmax(-1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
        out.append(-(logprobs * labels.ne(-100)).sum(-1).double().numpy())
    return np.concatenate(out)


@torch.no_grad()
def livechat_generate(model, processor, rows: Sequence[dict], max_new_tokens: int = 32) -> list[str]:
    """Greedy comments of a LiveChat model for clip rows (its generation config otherwise: guidance as trained)."""
    from hf_livechat.data.clip_inputs import clip_processor_inputs

    inputs = processor(**clip_processor_inputs(rows, model.config.video_feature_dim))
    sequences = model.generate(**inputs, num_beams=1, do_sample=False, max_new_tokens=max_new_tokens)
    return [text.strip() for text in processor.batch_decode(sequences, skip_special_tokens=True)]


@torch.no_grad()
def bare_lm_generate(model, tokenizer, contexts: Sequence[Sequence[ChatMessage]], max_new_tokens: int = 32) -> list[str]:
    """Greedy next lines of the bare LM after the previous messages as plain lines (its prompt in the zero-shot row)."""
    comments = []
    for context in contexts:  # one by one: no padding to get wrong
        ids = tokenizer("".join(m.text + "\n" for m in context), return_tensors="pt").input_ids
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new_tokens,
                             pad_token_id=tokenizer.eos_token_id)
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        comments.append(text.lstrip("\n").split("\n")[0].strip().rstrip("\ufffd"))  # no half character at the cut
    return comments


def load_lm(name_or_path: str, queries: list[LogQueries]):
    """The pretrained LM (a short name, folder, GGUF file or Hub id), or for `tiny-random` a random 2-layer llama
    with a byte-level BPE vocabulary learned from the drawn contexts (smoke runs)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name_or_path != "tiny-random":
        from hf_livechat.models.pretrained_lm import resolve_pretrained_lm

        folder = resolve_pretrained_lm(name_or_path)
        return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    texts = [m.text for q in queries for context in q.contexts for m in context]
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    return LlamaForCausalLM(config).eval(), tokenizer


def build_rows(args, queries: list[LogQueries]) -> dict[str, Scorer]:
    """Row name -> scorer. Every row scores the same drawn messages."""
    rows: dict[str, Scorer] = {}
    model, tokenizer = load_lm(args.lm, queries)
    label = "tiny random llama" if args.lm == "tiny-random" else args.lm
    rows[f"bare LM zero-shot ({label}, {model.num_parameters() / 1e6:.3g}M)"] = bare_lm_scorer(model, tokenizer, args.batch_size)
    # The LiveChat rows train on each log (--train-minutes) or load a folder (--livechat-model): run_trained.
    return rows


# The two trained rows: `hf-livechat train DATA --config small [--decoder smollm2-135m --lora-r 16]`.
TRAINED_MODELS = {
    "small": {"label": "LiveChat small, from scratch", "decoder": None},
    "lm": {"label": "LiveChat small + LM decoder (LoRA r=16)", "decoder": "lm"},  # "lm": the bare row's LM
}
TRAIN_OVERRIDES = "max_comment_length=32"
PROBE_STEPS = 4
CLIP_STRIDE = 5.0  # seconds between the chat-only clips' starts
TRAIN_BATCH_SIZE = 8  # both rows: the LM decoder reads up to 15 comments of chat as text, a batch of 32 fills 24 GiB
GENERATED = 10  # comments shown per model and log


def log_key(name: str) -> str:
    return name.split()[0]


def build_chat_dataset(log: Path, out: Path, keep_all_chat: bool = False, clip_stride: float = CLIP_STRIDE) -> Path:
    """The log's chat-only dataset, as docs/building-datasets.md builds it (once; reused when present): sliding
    clips every `clip_stride` seconds, so that even the shortest log gives a test split of many queries."""
    if not (out / "README.md").is_file():
        command = [sys.executable, "-m", "hf_livechat.cli", "build-dataset", str(log), "--out", str(out),
                   "--selection", "all", "--clip-stride", str(clip_stride), "--split-by-time", "0.7", "--overwrite",
                   *(["--keep-all-chat"] if keep_all_chat else [])]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return out


class StepClock:
    """A Trainer callback: the wall-clock seconds of each optimizer step, and a stop once `budget` seconds of steps
    have passed (a cap: `max_steps` is planned to end near it, so that the cosine schedule completes)."""

    def __init__(self, budget: float | None = None):
        from transformers import TrainerCallback

        clock = self

        class _Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                clock.durations, clock.last = [], time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                now = time.perf_counter()
                clock.durations.append(now - clock.last)
                clock.last = now
                if clock.budget is not None and sum(clock.durations) >= clock.budget:
                    control.should_training_stop = True

        self.budget, self.durations, self.last = budget, [], 0.0
        self.callback = _Callback()


def train_model(dataset: Path, out: Path, model: str, seed: int, steps: int, batch_size: int | None, lm: str,
                budget: float | None = None, targets_per_clip: int | None = None, bf16: bool = False) -> dict:
    """`hf-livechat train` (the recipe's defaults, no validation split so the last weights are kept) for `steps`
    steps without intermediate checkpoints, stopped early once `budget` seconds of steps have passed; returns the
    steps run, their seconds, the mean step after the first (the first carries one-off start-up work), and the
    Trainer's `train_runtime`."""
    import transformers.trainer
    from transformers import Seq2SeqTrainingArguments

    from hf_livechat.models.livechat import LiveChatConfig
    from hf_livechat.training.train import LiveChatRecipeArguments, recipe_training_arguments, train_livechat

    recipe = LiveChatRecipeArguments(dataset_dir=str(dataset), config="small", decoder=lm if TRAINED_MODELS[model]["decoder"] else None,
                                     lora_r=16, config_overrides=TRAIN_OVERRIDES, targets_per_clip=targets_per_clip)
    args = recipe_training_arguments(str(out), evaluations=0, seed=seed, logging_steps=max(1, steps // 5), bf16=bf16,
                                     **({"batch_size": batch_size} if batch_size else {}))
    args = Seq2SeqTrainingArguments(**{**args.to_dict(), "max_steps": steps, "save_strategy": "no"})
    # train_livechat builds its own Trainer: the clock joins it as a default callback for this run only.
    clock = StepClock(budget)
    transformers.trainer.DEFAULT_CALLBACKS.append(clock.callback)
    try:
        train_livechat(recipe, args)
    finally:
        transformers.trainer.DEFAULT_CALLBACKS.remove(clock.callback)
    state = json.loads((out / "trainer_state.json").read_text())
    runtime = next(entry["train_runtime"] for entry in state["log_history"] if "train_runtime" in entry)
    later = clock.durations[1:] or clock.durations
    return {"steps": state["global_step"], "planned_steps": steps, "step_seconds": sum(clock.durations),
            "targets_per_clip": recipe.resolved_targets_per_clip(LiveChatConfig.from_pretrained(out)),
            "seconds_per_step": float(np.mean(later)), "train_seconds": runtime}


def run_name(model: str, bf16: bool) -> str:
    """A trained row's name in result, timing and model file names: bf16 runs are kept apart from fp32 ones."""
    return model + ("--bf16" if bf16 else "")


def seconds_per_step(results: Path, dataset: Path, log: str, model: str, scratch: Path, batch_size: int | None, lm: str,
                     targets_per_clip: int | None = None, bf16: bool = False) -> float:
    """Seconds per training step of this log and model: from an earlier run's result, or a short probe run."""
    import shutil

    timings = results.parent / "timings" / f"{log}--{run_name(model, bf16)}.jsonl"
    if timings.is_file():  # every earlier run of this log and model: the median, so that one slowed run misplans none
        runs = [json.loads(line) for line in timings.read_text().splitlines()]
        return float(np.median([run["step_seconds"] / run["steps"] for run in runs]))
    probe = scratch / f"{log}--{model}--probe"
    shutil.rmtree(probe, ignore_errors=True)
    measured = train_model(dataset, probe, model, 0, PROBE_STEPS, batch_size, lm, targets_per_clip=targets_per_clip, bf16=bf16)
    shutil.rmtree(probe, ignore_errors=True)
    return measured["seconds_per_step"]


def record_timing(work: Path, log: str, run: str, trained: dict) -> None:
    timings = work / "timings" / f"{log}--{run}.jsonl"
    timings.parent.mkdir(parents=True, exist_ok=True)
    with timings.open("a") as f:
        f.write(json.dumps({"steps": trained["steps"], "step_seconds": trained["step_seconds"]}) + "\n")


def shown_queries(q: LogQueries) -> list[int]:
    """The test messages whose generated comments are shown: 10 spread over the drawn ones."""
    return sorted(set(np.linspace(0, len(q.targets) - 1, min(GENERATED, len(q.targets))).round().astype(int).tolist()))


def unknown_cost(tokenizer, q: LogQueries, nll: float) -> dict:
    """What a closed, lower-casing vocabulary did not predict, added to a row's NLL: each [UNK] spread over the log's
    pieces it stands for (`unknown_token_cost`) and the case of every letter (`case_cost`); `ppl_open` is the
    per-word perplexity with both (the table's figure)."""
    targets = [t.text for t in q.targets]
    costs, pieces = unknown_token_cost(tokenizer, targets, q.texts)
    case = case_cost(tokenizer, targets, q.train_texts).sum()
    words = sum(count_words(text) for text in targets)
    return {"unknown_nll": float(costs.sum()), "unknown_pieces": pieces, "unknown_targets": int((costs > 0).sum()),
            "case_nll": float(case), "ppl_open": float(np.exp((nll + costs.sum() + case) / words))}


def fill_unknown_cost(results: Path, q: LogQueries, tokenizers: dict[str, object]) -> None:
    """Adds the [UNK] and case adjustments to result files written before the bench computed them, with the tokenizer
    each trained row was built with (`tokenizers`: model key -> tokenizer); the model folders are gone by then."""
    for path in results.glob(f"{log_key(q.name)}--*.json"):
        result = json.loads(path.read_text())
        model = path.stem.split("--")[1]
        if "case_nll" in result or model not in tokenizers:
            continue
        result.update(unknown_cost(tokenizers[model], q, result["nll"]))
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1))


def livechat_result(model_dir: Path, dataset: Path, q: LogQueries, batch_size: int) -> dict:
    """Per-word perplexity on the drawn test messages, chat-only R@1 on the dataset's test split, and comments."""
    from hf_livechat.evaluation.evaluate import evaluate_model
    from hf_livechat.models.livechat import LiveChatForCommentGeneration, LiveChatProcessor

    model = LiveChatForCommentGeneration.from_pretrained(model_dir).eval()
    processor = LiveChatProcessor.from_pretrained(model_dir)
    start = time.perf_counter()
    nll = livechat_target_nll(model, processor, q.rows, [t.text for t in q.targets], batch_size)
    words = np.array([count_words(t.text) for t in q.targets])
    try:
        ranking = evaluate_model(str(model_dir), str(dataset), show_progress=False, batch_size=batch_size, model=model, processor=processor)["full"]
    except ValueError as error:  # a log too short for 10-candidate sets (the smoke run's generated log)
        print(f"no Recall@1 for {model_dir.name}: {error}")
        ranking = {"recall@1": None, "num_queries": 0}
    shown = shown_queries(q)
    return {
        "nll": float(nll.sum()), "words": int(words.sum()), "n": len(q.targets), "ppl": float(np.exp(nll.sum() / words.sum())),
        **unknown_cost(processor.tokenizer, q, float(nll.sum())),
        "recall@1": ranking["recall@1"], "num_queries": ranking["num_queries"],
        "generated": livechat_generate(model, processor, [q.rows[i] for i in shown]),
        "eval_seconds": time.perf_counter() - start,
    }


def run_trained(args, queries: list[LogQueries], lm_row: tuple[str, object, object]) -> None:
    """--train-minutes / --livechat-model: trains (or loads) and scores the LiveChat rows of each log, saving one
    JSON per (log, model, seed) under WORK/results; then prints the table and the generated comments."""
    import shutil

    work = args.work
    results = work / "results"
    lm_path = args.lm
    if args.lm == "tiny-random":  # smoke runs: the random llama, saved, is the decoder too
        lm_path = str(work / "tiny-random-lm")
        lm_row[1].save_pretrained(lm_path), lm_row[2].save_pretrained(lm_path)
    results.mkdir(parents=True, exist_ok=True)
    logs = {log_key(q.name): q for q in queries}
    for key, q in logs.items():
        name = key + ("-all-chat" if args.keep_all_chat else "") + f"-stride{args.clip_stride:g}"
        dataset = build_chat_dataset(q.path, work / "datasets" / name, args.keep_all_chat, args.clip_stride)
        bare = results / f"{key}--bare.json"
        if not bare.is_file():  # the zero-shot row on the same messages, with its comments beside the others
            label, model, tokenizer = lm_row
            nll, words = bare_lm_scorer(model, tokenizer, args.batch_size)(q.contexts, q.targets)
            shown = shown_queries(q)
            bare.write_text(json.dumps({
                "log": q.name, "model": f"bare LM zero-shot ({label})", "seed": None, "n": len(q.targets),
                "nll": float(nll.sum()), "words": int(words.sum()), "ppl": float(np.exp(nll.sum() / words.sum())),
                **unknown_cost(tokenizer, q, float(nll.sum())),
                "generated": bare_lm_generate(model, tokenizer, [q.contexts[i] for i in shown]),
                "real": [q.targets[i].text for i in shown],
                "context": [[m.text for m in q.contexts[i][-3:]] for i in shown],
            }, ensure_ascii=False, indent=1))
        for model_dir in args.livechat_model:
            out = results / f"{key}--{Path(model_dir).name}.json"
            result = livechat_result(Path(model_dir), dataset, q, args.batch_size)
            out.write_text(json.dumps({"log": q.name, "model": str(model_dir), "seed": None, **result}, ensure_ascii=False, indent=1))
            print(f"{q.name} | {model_dir}: per-word perplexity {result['ppl_open']:.1f} (as scored {result['ppl']:.1f}), R@1 {_r1(result)}", flush=True)
        if args.train_minutes is None:
            continue
        for seed in args.seeds:
            for model in args.models:
                run = run_name(model, args.bf16)
                out = results / f"{key}--{run}--seed{seed}.json"
                if out.is_file():
                    continue
                step = seconds_per_step(results, dataset, key, model, work / "models", args.train_batch_size, lm_path,
                                        args.targets_per_clip, args.bf16)
                steps = max(1, int(args.train_minutes * 60 / step))
                model_dir = work / "models" / f"{key}--{run}--seed{seed}"
                shutil.rmtree(model_dir, ignore_errors=True)
                print(f"{q.name} | {run} seed {seed}: {step:.2f} s/step -> {steps} steps", flush=True)
                trained = train_model(dataset, model_dir, model, seed, steps, args.train_batch_size, lm_path, args.train_minutes * 60,
                                      args.targets_per_clip, args.bf16)
                record_timing(work, key, run, trained)
                result = livechat_result(model_dir, dataset, q, args.batch_size)
                lm_name = {"smollm2-135m": "SmolLM2-135M"}.get(lm_row[0], lm_row[0])
                label = TRAINED_MODELS[model]["label"].replace("LM decoder", f"{lm_name} decoder") + (", bf16" if args.bf16 else "")
                out.write_text(json.dumps({"log": q.name, "model": label, "seed": seed,
                                           "seconds_per_step_planned": step, **trained, **result}, ensure_ascii=False, indent=1))
                print(f"{q.name} | {run} seed {seed}: {trained['steps']} steps in {trained['train_seconds']:.0f} s, per-word "
                      f"perplexity {result['ppl_open']:.1f} (as scored {result['ppl']:.1f}), R@1 {_r1(result)}", flush=True)
                if not args.keep_models:
                    shutil.rmtree(model_dir, ignore_errors=True)
    from hf_livechat.tokenization import load_tokenizer

    for q in logs.values():
        fill_unknown_cost(results, q, {"bare": lm_row[2], "lm": lm_row[2], "small": load_tokenizer(None)})
    print_trained_table(results, [q.name for q in queries])


def _r1(result: dict) -> str:
    return "-" if result["recall@1"] is None else f"{result['recall@1']:.3f} ({result['num_queries']} queries)"


def _spread(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} +- {np.std(values, ddof=1):.{digits}f}"


def print_trained_table(results: Path, logs: list[str]) -> None:
    """The table over every result under `results` (mean +- sample std over seeds), then the comments of the first
    seed beside the real next messages."""
    rows = [json.loads(f.read_text()) for f in sorted(results.glob("*.json"))]
    print("\nPer-word perplexity of the comments as written: a closed, lower-casing vocabulary pays for each [UNK] spread "
          "over the log's pieces it cannot spell and for the case of each letter (as scored, without that, in brackets; "
          "the [UNK] pieces of the log after them)")
    print("\n| log | model | seeds | per-word perplexity (as scored; [UNK] pieces) | R@1 (queries) | training steps | training s |\n|---|---|---|---|---|---|---|")
    for log in logs:
        models: dict[str, list[dict]] = {}
        for row in rows:
            if row["log"] == log:
                models.setdefault(row["model"], []).append(row)
        for model, runs in models.items():
            r1 = f"{_spread([r['recall@1'] for r in runs], 3)} ({runs[0]['num_queries']})" if runs[0].get("recall@1") is not None else "-"
            steps = _spread([r["steps"] for r in runs], 0) if "steps" in runs[0] else "-"
            seconds = _spread([r["train_seconds"] for r in runs], 0) if "train_seconds" in runs[0] else "-"
            seeds = ",".join(str(r["seed"]) for r in runs if r["seed"] is not None) or "-"
            ppl = _spread([r.get("ppl_open", r["ppl"]) for r in runs], 1)
            if runs[0].get("unknown_pieces"):
                ppl += f" ({_spread([r['ppl'] for r in runs], 1)}; {runs[0]['unknown_pieces']})"
            print(f"| {log} | {model} | {seeds} | {ppl} | {r1} | {steps} | {seconds} |")
    for log in logs:
        bare = next((r for r in rows if r["log"] == log and r["seed"] is None and "real" in r), None)
        if bare is None:
            continue
        trained = {}
        for row in sorted(rows, key=lambda r: (r["seed"] is None, r["seed"] or 0)):
            if row["log"] == log and "real" not in row:
                trained.setdefault(row["model"], row)
        columns = [(bare["model"], bare)] + [(f"{m} (seed {r['seed']})" if r["seed"] is not None else m, r) for m, r in trained.items()]
        print(f"\n{log}: the real next message and each model's greedy comment for the same context\n")
        print("| last context message | real next message | " + " | ".join(name for name, _ in columns) + " |")
        print("|---" * (len(columns) + 2) + "|")
        for i, real in enumerate(bare["real"]):
            cells = [bare["context"][i][-1] if bare["context"][i] else "", real] + [r["generated"][i] for _, r in columns]
            print("| " + " | ".join(_cell(c) for c in cells) + " |")


def _cell(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return f"`{text[:60]}`" if text else "(empty)"


def smoke_logs(folder: Path) -> dict[str, Path]:
    """When the real logs are absent, a small Twitch JSON log written with the package's writer (smoke runs only)."""
    rng = np.random.default_rng(0)
    words = "gg pog lol nice play wow clutch rip omg why what no way he did it again chat is this real".split()
    messages = [ChatMessage(float(t), f"viewer{t % 7}", " ".join(rng.choice(words, int(rng.integers(1, 6)))), source=str(t)) for t in range(60)]
    path = folder / "synthetic_twitch.json"
    write_twitch_json(messages, path)
    return {"synthetic (twitch json)": path}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("HF_LIVECHAT_REAL_DATA", DEFAULT_DATA)),
                        help="the shared real-data folder (default ../shared/data, or $HF_LIVECHAT_REAL_DATA)")
    parser.add_argument("-n", type=int, default=200, help="test messages drawn per log (0: all of the last 30 %%)")
    parser.add_argument("--keep-all-chat", action="store_true",
                        help="skip the LiveChat chat filters (bots, commands, links, spam, @mentions), as build-dataset's flag")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lm", default="smollm2-135m", help="the bare LM: short name, folder, .gguf file or Hub id")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per forward pass")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    parser.add_argument("--smoke", action="store_true", help="a tiny random llama, 2 messages per log, to check that it runs")
    parser.add_argument("--logs", nargs="+", default=None, help="only these logs (northernlion, youtube, bilibili)")
    parser.add_argument("--train-minutes", type=float, default=None,
                        help="train LiveChat small from scratch and with the LM decoder on each log for about this long each")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="training seeds of --train-minutes")
    parser.add_argument("--train-batch-size", type=int, default=TRAIN_BATCH_SIZE, help="training batch size of both rows")
    parser.add_argument("--targets-per-clip", type=int, default=None,
                        help="comments of each clip's response window per training step (default: train's, by decoder)")
    parser.add_argument("--bf16", action="store_true", help="train both rows in bf16 mixed precision (a GPU, or a CPU with bf16 units)")
    parser.add_argument("--clip-stride", type=float, default=CLIP_STRIDE, help="seconds between the chat-only clips (build-dataset --clip-stride)")
    parser.add_argument("--models", nargs="+", choices=list(TRAINED_MODELS), default=list(TRAINED_MODELS), help="the trained rows to run")
    parser.add_argument("--livechat-model", action="append", default=[], help="score a trained LiveChat model folder on each log")
    parser.add_argument("--work", type=Path, default=Path("real-chat-runs"), help="datasets, models and results of the LiveChat rows")
    parser.add_argument("--keep-models", action="store_true", help="keep the trained model folders (else deleted once scored)")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    logs = find_logs(args.data)
    scratch = None
    if not logs:
        if not args.smoke:
            parser.error(f"none of the benchmark logs is under {args.data} (see --data)")
        scratch = tempfile.TemporaryDirectory()
        logs = smoke_logs(Path(scratch.name))
    if args.logs:
        logs = {name: path for name, path in logs.items() if log_key(name) in args.logs}
    filters = ChatFilters.keep_all() if args.keep_all_chat else ChatFilters()
    queries = [draw_queries(name, path, args.n, args.seed, filters) for name, path in logs.items()]
    for q in queries:
        print(f"{q.name}: {q.path.name}, {q.num_messages} messages after filtering, {q.num_test} in the last 30 %, {len(q.targets)} drawn")

    if args.train_minutes is not None or args.livechat_model:
        model, tokenizer = load_lm(args.lm, queries)
        label = "tiny random llama" if args.lm == "tiny-random" else args.lm
        run_trained(args, queries, (label, model, tokenizer))
        return

    results = []
    for row, scorer in build_rows(args, queries).items():
        for q in queries:
            start = time.perf_counter()
            nll, words = scorer(q.contexts, q.targets)
            seconds = time.perf_counter() - start
            if len(nll) != len(q.targets) or not np.array_equal(words, [count_words(t.text) for t in q.targets]):
                raise RuntimeError(f"row {row!r} returned {len(nll)} scores or word counts that do not match the targets")
            ppl = float(np.exp(nll.sum() / words.sum()))
            results.append((row, q.name, len(q.targets), ppl, seconds))
            print(f"{row} | {q.name}: per-word perplexity {ppl:.1f} on {len(q.targets)} messages ({seconds:.1f} s)", flush=True)

    print(f"\n| row | log | N | per-word perplexity | seconds |\n|---|---|---|---|---|")
    for row, name, n, ppl, seconds in results:
        print(f"| {row} | {name} | {n} | {ppl:.1f} | {seconds:.1f} |")
    if args.smoke:  # the trained rows too, on the first log: a step or two of each model
        with tempfile.TemporaryDirectory() as work:
            args.train_minutes, args.work, args.seeds = SMOKE_TRAIN_MINUTES, Path(work), [1]
            model, tokenizer = load_lm(args.lm, queries[:1])
            run_trained(args, queries[:1], ("tiny random llama", model, tokenizer))
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
