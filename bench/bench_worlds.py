"""The training defaults on the world family: R@1 by the modality each ground truth answers, with and without it.

    python bench/bench_worlds.py [--root livechat-worlds] [--variants quickstart,noisy,overlap,copy]
                                 [--train-args "--epochs 60"] [--tag default]

For each variant of `hf_livechat.synthetic.WORLD_VARIANTS` it runs the README's commands (each step is skipped when
its output exists): `make-stream --variant V` (40 streams x 8 min, seed = the variant's index), `build-dataset
--feature-model efficientnet-lite0 --frame-size 112 --selection all`, `train DATA --output-dir M --config small`
(plus `--train-args`, for experiments; nothing else by default), then `evaluate --protocol livechat` with every
modality and with each one removed. It prints, per world, Recall@1 on the test queries whose ground-truth comment
answers a video, transcript or chat cue (from the worlds' `*.truth.json` logs), and the drop when that modality is
removed; the acceptance bar is R@1 >= 0.6 and a drop >= 0.3 for every modality of every world. Figures go to
`<root>/<variant>/<tag>.json`.
"""

import argparse
import json
import shlex
import time
from pathlib import Path

from hf_livechat.cli import main as cli
from hf_livechat.evaluation.evaluate import evaluate_model
from hf_livechat.synthetic import MODALITIES, WORLD_VARIANTS
from hf_livechat.synthetic.truth import comment_cue_labels


def run_world(root: Path, variant: str, seed: int, train_args: list[str], tag: str) -> dict:
    world = root / variant
    streams, dataset, model = world / "streams", world / "dataset", world / f"model-{tag}"
    timings = {}
    for step, done, argv in (
        ("make-stream", streams / "manifest.jsonl",
         ["make-stream", "--variant", variant, "--out", str(streams), "--num-streams", "40", "--duration", "480", "--seed", str(seed)]),
        ("build-dataset", dataset / "README.md",
         ["build-dataset", str(streams / "manifest.jsonl"), "--out", str(dataset), "--feature-model", "efficientnet-lite0",
          "--frame-size", "112", "--selection", "all"]),
        ("train", model / "model.safetensors", ["train", str(dataset), "--output-dir", str(model), "--config", "small", *train_args]),
    ):
        start = time.perf_counter()
        if not done.exists() and cli(argv) != 0:
            raise SystemExit(f"{variant}: {step} failed")
        timings[step] = round(time.perf_counter() - start, 1)
    results = evaluate_model(
        str(model), str(dataset), "test", "livechat", [(), *[(m,) for m in MODALITIES]],
        show_progress=False, group_of=comment_cue_labels(streams),
    )
    by_group = {name: {k.split(" (")[0]: v for k, v in m["recall@1 by group"].items()} for name, m in results.items()}
    counts = {k.split(" (")[0]: int(k.split("(")[1].rstrip(")")) for k in results["full"]["recall@1 by group"]}
    report = {
        "variant": variant, "train_args": train_args, "timings": timings, "counts": counts,
        "recall@1": {name: m["recall@1"] for name, m in results.items()},
        "recall@1 by group": by_group,
        "drop": {m: by_group["full"].get(m, float("nan")) - by_group[f"no {m}"].get(m, float("nan")) for m in MODALITIES},
    }
    (world / f"{tag}.json").write_text(json.dumps(report, indent=1))
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("livechat-worlds"))
    parser.add_argument("--variants", default=",".join(WORLD_VARIANTS))
    parser.add_argument("--train-args", default="", help="extra `hf-livechat train` arguments (experiments only)")
    parser.add_argument("--tag", default="default", help="name of this setting's model folder and figures file")
    args = parser.parse_args()
    names = list(WORLD_VARIANTS)
    reports = [run_world(args.root, v, names.index(v), shlex.split(args.train_args), args.tag) for v in args.variants.split(",")]
    print(f"\nsetting: {args.tag} (train args: {args.train_args or 'none'})")
    print(f"{'world':<12}{'R@1':>7}" + "".join(f"{m + ' (n)':>18}{'drop':>7}" for m in MODALITIES) + f"{'filler R@1':>12}")
    for r in reports:
        g = r["recall@1 by group"]["full"]
        cells = "".join(f"{g.get(m, float('nan')):>12.3f} ({r['counts'].get(m, 0):>3}){r['drop'][m]:>7.3f}" for m in MODALITIES)
        print(f"{r['variant']:<12}{r['recall@1']['full']:>7.3f}{cells}{g.get('filler', float('nan')):>12.3f}")


if __name__ == "__main__":
    main()
