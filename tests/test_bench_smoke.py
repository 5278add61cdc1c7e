"""Every benchmark in bench/ runs: each script's `--smoke` mode (toy sizes, seconds) exits 0 and prints its figures.

Nothing else runs the benchmarks, so without this they rot as the package changes under them (two crashed on landed
code before this test). The smoke figures measure nothing; only that each script still runs end to end is checked.
The scripts run as subprocesses, two at a time (each spends most of its few seconds importing torch and
transformers); a script's case waits for its own run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest


BENCH = Path(__file__).resolve().parent.parent / "bench"
TIMEOUT = 300  # seconds per script; a smoke run takes about 10 to 25 s on 2 shared CPU cores

# script -> patterns its smoke output must contain (the lines that carry its figures)
EXPECTED = {
    "bench_activity_counts.py": [r"\| smoke \(twitch json\) \| \d+ \([\d.]+\) \| 2: [-\d.]+,.* 120: [-\d.]+ \| [-\d.]+ \([\d.]+\), [-+\d.]+ \("],
    "bench_activity_heads.py": [r"\| smoke \| 24 \| attention \| [-\d.]+ / [-\d.]+ \|", r"\| smoke \| 24 \| attention\+max:0.3 \|"],
    "bench_model.py": [r"training: [\d.]+ samples/s", r"model FLOPs: [\d.]+ GFLOP", r"generation \(beam 4\): [\d.]+ ms/comment"],
    "bench_train.py": [r"training: [\d.]+ samples/s", r"model FLOPs: [\d.]+ GFLOP"],
    "bench_ranking.py": [r"speed-up: +[\d.]+x", r"FLOPs per candidate", r"identical ranks: True"],
    "bench_build.py": [r"\| decode \(1 fps\) +\|", r"\| features +\|", r"\| builder +\|", r"time share: decoding \d+%"],
    "bench_pipeline.py": [r"batch  1: +[\d.]+ windows/s", r"batch 16: +[\d.]+ windows/s", r"latency p50 [\d.]+ ms"],
    "bench_live.py": [r"\| tiny \| - \| [\d.]+ \| \d+ / \d+ \|", r"RSS at 25/50/75/100 %", r"\| greedy \| \d+ \|", r"\| beam4\+penalty \| \d+ \|"],
    "bench_v2lc.py": [r"training: [\d.]+ segments/s", r"extraction: [\d.]+ clips/s"],
    "bench_worlds.py": [r"likelihood", r"contrastive", r"R@1 on all queries by prior weight",
                        r"the head, the recent rate, the truth ceiling\n\w+ +\d+ windows(.*\|){3}"],
    "bench_lm_fusion.py": [r"cross_attention: LiveChat adds [\d.]+M parameters; training step", r"prefix: LiveChat adds [\d.]+M parameters"],
    "bench_real_chat.py": [r"bare LM zero-shot .*: per-word perplexity [\d.]+ on 2 messages", r"\| row \| log \| N \| per-word perplexity \|",
                           r"\| LiveChat small, from scratch \| 1 \| [\d.]+( \([\d.]+; \d+\))? \|", r"\| LiveChat small \+ tiny random llama decoder \(LoRA r=16\) \| 1 \| [\d.]+ \|",
                           r"the real next message and each model's greedy comment"],
    "bench_timing.py": [r"\| activity model \| auto \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", r"\| activity model \| fixed interval, same count",
                        r"\| recent rate \(trivial\) \| auto \|", r"\| chat-only model \| auto \|", r"activity: Spearman with the chat.s count in the next 10 s over \d+ windows"],
}


def test_every_bench_script_is_listed():
    assert sorted(p.name for p in BENCH.glob("*.py")) == sorted(EXPECTED)


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # two scripts at a time on a small machine
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        return subprocess.CompletedProcess(error.cmd, -1, error.stdout or "", f"timed out after {timeout} s\n{error.stderr or ''}")


def _smoke(script: str, cwd: Path) -> subprocess.CompletedProcess | None:
    """The script's `--smoke` run; None when its parser has no `--smoke` (argparse refuses the flag, exit 2): one
    process instead of a `--help` run first, since importing the package is most of a smoke run's cost."""
    result = _run([str(BENCH / script), "--smoke"], cwd, TIMEOUT)
    if result.returncode == 2 and "unrecognized arguments: --smoke" in result.stderr:
        return None
    return result


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory):
    """Starts the smoke run of every selected script, two at a time, on first use: script -> Future of its run
    (None for a script without a smoke mode)."""
    selected = [
        item.callspec.params["script"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec") and "script" in item.callspec.params
    ]
    cwd = tmp_path_factory.mktemp("bench-smoke")  # whatever a script writes lands here, not in the checkout
    pool = ThreadPoolExecutor(max_workers=2)

    futures: dict[str, Future] = {script: pool.submit(_smoke, script, cwd) for script in dict.fromkeys(selected)}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_bench_smoke(script, smoke_runs, tmp_path):
    future = smoke_runs.get(script)
    result = future.result() if future is not None else _smoke(script, tmp_path)  # (an unusual selection)
    if result is None:
        pytest.skip(f"{script} has no --smoke in its --help yet (smoke mode pending)")
    output = result.stdout
    assert result.returncode == 0, f"{script} --smoke exited {result.returncode}:\n{output[-2000:]}\n{result.stderr[-4000:]}"
    missing = [pattern for pattern in EXPECTED[script] if not re.search(pattern, output)]
    assert not missing, f"{script} --smoke did not print {missing}:\n{output[-3000:]}"
