"""Real chat as a benchmark: per-word perplexity of the true comments on the last 30 % of three real chat logs.

    python bench/bench_real_chat.py [--lm smollm2-135m] [-n 200] [--seed 0] [--data ../shared/data] [--batch-size 8]
    python bench/bench_real_chat.py --smoke   # a tiny random llama, 2 messages per log: seconds, to show it runs

The logs (see ../shared/data/README.md): Northernlion's Twitch VOD chat, a YouTube premiere chat and the largest
Bilibili danmaku log. Each is read with the package's chat readers and cleaned with the LiveChat filters
(`ChatFilters()`, what `build-dataset` applies), then split by time: messages in the first 70 % of the log's time
span are the training part, the rest the test part. N test messages are drawn (seeded) and every row scores the
same ones, each given the 15 messages before it.

A row is a scorer, `(contexts, targets) -> (NLL per target, words per target)`: the summed negative log-likelihood
(natural log) of a target's tokens including its line end, and its whitespace words plus one for the line end. The
table gives `exp(sum NLL / sum words)` per log, which compares models with different tokenizers. Rows:

- bare LM zero-shot: the LM (default SmolLM2-135M-Instruct, offline through the `lm` extra) given the previous
  15 messages as plain lines; prompt = those lines joined by "\\n" plus "\\n", target = the message plus "\\n".
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hf_livechat.data.chat import ChatFilters, ChatMessage, read_chat, write_twitch_json
from hf_livechat.evaluation.perplexity import causal_lm_target_nll, count_words


DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONTEXT_MESSAGES = 15
TRAIN_FRACTION = 0.7
# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"n": 2, "lm": "tiny-random", "batch_size": 2}

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
    return LogQueries(
        name, path, len(messages), len(test),
        contexts=[messages[i - CONTEXT_MESSAGES : i] for i in drawn], targets=[messages[i] for i in drawn],
    )


def bare_lm_scorer(model, tokenizer, batch_size: int) -> Scorer:
    """The LM alone, zero-shot: the previous messages as plain lines, the target as the next line."""

    def score(contexts, targets):
        prompts = ["".join(m.text + "\n" for m in context) for context in contexts]
        nll, _ = causal_lm_target_nll(model, tokenizer, prompts, [t.text + "\n" for t in targets], batch_size=batch_size)
        return nll, np.array([count_words(t.text) for t in targets])

    return score


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
    # Rows to come (issue #17): each trains on a log's first 70 % (or loads a checkpoint) and returns a Scorer.
    # - LiveChat `small` from scratch: chat-only rows of the same 15 context messages, the target as the comment.
    # - LiveChat with the LM decoder (`--decoder smollm2-135m`): the same, fine-tuned from the bare LM above.
    return rows


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
    filters = ChatFilters.keep_all() if args.keep_all_chat else ChatFilters()
    queries = [draw_queries(name, path, args.n, args.seed, filters) for name, path in logs.items()]
    for q in queries:
        print(f"{q.name}: {q.path.name}, {q.num_messages} messages after filtering, {q.num_test} in the last 30 %, {len(q.targets)} drawn")

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
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
