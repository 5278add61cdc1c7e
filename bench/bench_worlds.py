"""The training defaults on the world family, judged on a second draw of each world: R@1 by the modality each
ground truth answers, with and without that modality, under the likelihood and the contrastive score side by side.

    python bench/bench_worlds.py [--root livechat-worlds] [--variants quickstart,noisy,...] [--tag default]
                                 [--train-args "--epochs 60"] [--draw2-streams 24] [--smoke]

For each variant of `hf_livechat.synthetic.WORLD_VARIANTS` it runs the README's commands (each step is skipped when
its output exists): `make-stream --variant V` (40 streams x 8 min, seed = the variant's index), `build-dataset
--feature-model efficientnet-lite0 --frame-size 112 --selection all`, `train DATA --output-dir M --config small`
(plus `--train-args`, for experiments; nothing else by default). It then draws the world again with another seed
(`1000 +` the variant's index, the same rules, `--draw2-streams` streams), builds every clip of that draw into one
`test` split, and ranks the `livechat` protocol's candidates of all of them with every modality and with each one
removed. The figures are R@1 on the queries whose ground-truth comment answers a video, transcript or chat cue
(from the draw's `*.truth.json` logs) and the drop when that modality is removed, under the likelihood
(`prior_weight=0`, the papers' protocol) and the contrastive score (`DEFAULT_PRIOR_WEIGHT`); the bar is R@1 >= 0.7
and a drop >= 0.3 for every modality of every world. Both scores come from the same forward passes, and so does
the sweep of prior weights printed last. Figures go to `<root>/<variant>/<tag>.json`.

`--activity` draws every world with chat that goes quiet and bursts (`make-stream --activity`), keeps the quiet
windows in the builds (`--min-response-comments 0`) and also reports the activity head on the second draw: Spearman /
Pearson / MAE of the predicted comment count per response window, beside the chat's recent-rate predictor and the
ceiling the world allows (`synthetic.truth.cue_reply_predictor`: the cues of each window, read from the truth logs,
and each cue key's mean reply count in the first draw's training logs) (figures in `<tag>.json` under `"activity"`). `--streams` sets the first draw's size.

`--cue-aware` counts a distractor as a right answer when the truth logs say it replies to the ground truth's cue
elsewhere in the same video (`synthetic.truth.same_cue_judge`): in the `recurring` world the protocol's distractors are
often such replies. The trained model of the tag is reused when the figures go to another tag (copy or link
`model-<tag>`).

`--smoke` runs the whole chain on toy sizes (two short streams per draw, the `tiny` model, one epoch) in a scratch
folder, with `--activity`'s parts: it checks the script, not the defaults.
"""

import argparse
import json
import shlex
import tempfile
import time
from pathlib import Path

from hf_livechat.cli import main as cli
from hf_livechat.evaluation.activity import correlation_metrics, evaluate_activity, response_counts
from hf_livechat.evaluation.defaults import DEFAULT_PRIOR_WEIGHT
from hf_livechat.evaluation.evaluate import evaluate_model
from hf_livechat.synthetic import MODALITIES, WORLD_VARIANTS
from hf_livechat.synthetic.truth import comment_cue_labels, cue_reply_predictor, same_cue_judge


PRIOR_SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25)
SMOKE = dict(num_streams=2, draw2_streams=2, duration=300, frame_size=32, train_args=["--config", "tiny", "--epochs", "1"])


def _run(step: str, done: Path, argv: list[str], timings: dict) -> None:
    start = time.perf_counter()
    if not done.exists() and cli(argv) != 0:
        raise SystemExit(f"{step} failed: hf-livechat {' '.join(argv)}")
    timings[step] = round(time.perf_counter() - start, 1)


def _draw(world: Path, name: str, variant: str, seed: int, streams: int, duration: float, frame_size: int, timings, all_test=False,
          activity=False):
    """Writes and builds one draw of a world; `all_test` puts every clip in the test split; `activity` draws chat that
    goes quiet and bursts and keeps the quiet windows."""
    stream_dir, dataset = world / f"streams{name}", world / f"dataset{name}"
    _run(f"make-stream{name}", stream_dir / "manifest.jsonl", ["make-stream", "--variant", variant, "--out", str(stream_dir),
         "--num-streams", str(streams), "--duration", str(duration), "--seed", str(seed), *(["--activity"] if activity else [])],
         timings)
    manifest = stream_dir / "manifest.jsonl"
    if all_test:
        manifest = stream_dir / "manifest-test.jsonl"
        if not manifest.exists():
            rows = [json.loads(line) for line in (stream_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]
            manifest.write_text("".join(json.dumps({**row, "split": "test"}) + "\n" for row in rows))
    _run(f"build-dataset{name}", dataset / "README.md", ["build-dataset", str(manifest), "--out", str(dataset),
         "--feature-model", "efficientnet-lite0", "--frame-size", str(frame_size), "--selection", "all",
         *(["--min-response-comments", "0"] if activity else [])], timings)
    return stream_dir, dataset


def _by_group(metrics: dict) -> dict[str, float]:
    return {key.split(" (")[0]: value for key, value in metrics["recall@1 by group"].items()}


def _summary(results: dict) -> dict:
    """R@1 overall and by tied modality, and the drop when that modality is removed, for one scoring."""
    by_group = {name: _by_group(m) for name, m in results.items()}
    return {
        "recall@1": {name: m["recall@1"] for name, m in results.items()},
        "recall@1 by group": by_group,
        "drop": {m: by_group["full"].get(m, float("nan")) - by_group[f"no {m}"].get(m, float("nan")) for m in MODALITIES},
    }


def run_world(root: Path, variant: str, seed: int, train_args: list[str], tag: str, sizes: dict, activity: bool = False,
              cue_aware: bool = False) -> dict:
    world = root / variant
    timings = {}
    streams, dataset = _draw(world, "", variant, seed, sizes["num_streams"], sizes["duration"], sizes["frame_size"], timings,
                       activity=activity)
    model = world / f"model-{tag}"
    _run("train", model / "model.safetensors",
         ["train", str(dataset), "--output-dir", str(model), "--config", "small", *train_args], timings)
    streams2, dataset2 = _draw(world, "-draw2", variant, 1000 + seed, sizes["draw2_streams"], sizes["duration"],
                               sizes["frame_size"], timings, all_test=True, activity=activity)
    start = time.perf_counter()
    results = evaluate_model(
        str(model), str(dataset2), "test", "livechat", [(), *[(m,) for m in MODALITIES]],
        show_progress=False, group_of=comment_cue_labels(streams2), prior_weight=DEFAULT_PRIOR_WEIGHT,
        compare_prior_weights=PRIOR_SWEEP, also_correct=same_cue_judge(streams2) if cue_aware else None,
    )
    timings["evaluate"] = round(time.perf_counter() - start, 1)
    first = results["full"]
    counts = {key.split(" (")[0]: int(key.split("(")[1].rstrip(")")) for key in first["recall@1 by group"]}
    scorings = {
        f"prior {weight:g}": _summary({name: m["by prior weight"][weight] for name, m in results.items()}) for weight in PRIOR_SWEEP
    }
    report = {
        "variant": variant, "tag": tag, "train_args": train_args, "same-cue distractors count as right": cue_aware, "timings": timings, "num_queries": first["num_queries"],
        "counts": counts, "default prior weight": DEFAULT_PRIOR_WEIGHT,
        "likelihood": scorings["prior 0"], "contrastive": scorings[f"prior {DEFAULT_PRIOR_WEIGHT:g}"], "sweep": scorings,
    }
    if activity:
        from hf_livechat.data.clip_dataset import load_clip_dataset
        from hf_livechat.models.livechat import LiveChatForCommentGeneration, LiveChatProcessor

        test = list(load_clip_dataset(str(dataset2), "test"))
        report["activity"] = evaluate_activity(
            LiveChatForCommentGeneration.from_pretrained(str(model)).eval(), LiveChatProcessor.from_pretrained(str(model)), test
        )
        ceiling = cue_reply_predictor(streams, streams2)
        report["activity"]["truth ceiling"] = correlation_metrics([ceiling(row) for row in test], response_counts(test))
    (world / f"{tag}.json").write_text(json.dumps(report, indent=1))
    return report


def _cells(summary: dict, counts: dict) -> str:
    group = summary["recall@1 by group"]["full"]
    return f"{summary['recall@1']['full']:>6.3f}" + "".join(
        f"{group.get(m, float('nan')):>8.3f}/{summary['drop'][m]:<6.3f}" for m in MODALITIES
    )


def print_tables(reports: list[dict], tag: str, train_args: str) -> None:
    print(f"\nsetting: {tag} (train args: {train_args or 'none'}); every clip of a second draw of each world, "
          f"livechat protocol; R@1 / drop when the modality is removed")
    head = f"{'all':>6}" + "".join(f"{m[:5] + ' R@1/drop':>15}" for m in MODALITIES)
    print(f"{'world':<11}{'queries (v/t/c/filler)':>24} | likelihood {head} | contrastive ({DEFAULT_PRIOR_WEIGHT:g}) {head}")
    for r in reports:
        c = r["counts"]
        n = f"{r['num_queries']} ({c.get('video', 0)}/{c.get('transcript', 0)}/{c.get('chat', 0)}/{c.get('filler', 0)})"
        contrastive = r["sweep"][f"prior {DEFAULT_PRIOR_WEIGHT:g}"]  # the current default, also for older figures files
        print(f"{r['variant']:<11}{n:>24} | {'':>10} {_cells(r['likelihood'], c)} | {'':>16}{_cells(contrastive, c)}")
    print("\nR@1 on all queries by prior weight (the same forward passes):")
    print(f"{'world':<11}" + "".join(f"{w:>8g}" for w in PRIOR_SWEEP))
    for r in reports:
        print(f"{r['variant']:<11}" + "".join(f"{r['sweep'][f'prior {w:g}']['recall@1']['full']:>8.3f}" for w in PRIOR_SWEEP))
    with_activity = [r for r in reports if "activity" in r]
    if with_activity:
        print("\nactivity per response window of the second draw (Spearman / Pearson / MAE): the head, the recent rate, the truth ceiling")
        for r in with_activity:
            a = r["activity"]
            cells = "".join(f" | {a[k]['spearman']:>6.3f} {a[k]['pearson']:>6.3f} {a[k]['mae']:>5.2f}" for k in ("model", "recent rate", "truth ceiling") if k in a)
            print(f"{r['variant']:<11}{a['num_windows']:>5} windows, mean {a['mean_count']:.2f}{cells}")
    print("\nR@1 on the tied queries of every modality of every world, by prior weight:")
    for w in PRIOR_SWEEP:
        tied = [r["sweep"][f"prior {w:g}"]["recall@1 by group"]["full"].get(m, float("nan")) for r in reports for m in MODALITIES]
        print(f"  {w:g}: mean {sum(tied) / len(tied):.3f}, worst {min(tied):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("livechat-worlds"), help="folder of the worlds, models and figures")
    parser.add_argument("--variants", default=",".join(WORLD_VARIANTS), help="comma-separated worlds of the family")
    parser.add_argument("--train-args", default="", help="extra `hf-livechat train` arguments (experiments only)")
    parser.add_argument("--tag", default="default", help="name of this setting's model folder and figures file")
    parser.add_argument("--draw2-streams", type=int, default=24, help="streams in the second draw every clip of which is ranked")
    parser.add_argument("--streams", type=int, default=40, help="streams in the first draw (the training data)")
    parser.add_argument("--cue-aware", action="store_true",
                        help="count distractors that reply to the ground truth's cue elsewhere in the video as right answers "
                        "(recurring cues; use with another --tag: the trained model is reused)")
    parser.add_argument("--activity", action="store_true", help="worlds whose chat goes quiet and bursts; report the activity head too")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in a scratch folder: checks the script in seconds")
    parser.add_argument("--report", action="store_true", help="only print the tables of the figures files already written")
    args = parser.parse_args()
    if args.report:
        files = [args.root / v / f"{args.tag}.json" for v in args.variants.split(",")]
        reports = [json.loads(f.read_text()) for f in files if f.exists()]
        if not reports:
            raise SystemExit(f"no {args.tag}.json under {args.root}")
        missing = [f.parent.name for f in files if not f.exists()]
        print_tables(reports, args.tag, " ".join(reports[0]["train_args"]) + (f"; not run: {', '.join(missing)}" if missing else ""))
        return
    sizes = dict(num_streams=args.streams, draw2_streams=args.draw2_streams, duration=480, frame_size=112)
    train_args = shlex.split(args.train_args)
    variants = args.variants.split(",")
    scratch = None
    if args.smoke:
        scratch = tempfile.TemporaryDirectory()
        args.root, variants = Path(scratch.name), variants[:1] if args.variants != ",".join(WORLD_VARIANTS) else ["quickstart"]
        sizes.update({k: v for k, v in SMOKE.items() if k != "train_args"})
        train_args = SMOKE["train_args"] + train_args
        args.activity = True  # the smoke run covers the activity report too
    names = list(WORLD_VARIANTS)
    unknown = [v for v in variants if v not in names]
    if unknown:
        raise SystemExit(f"unknown worlds {unknown}; choose from {names}")
    reports = [run_world(args.root, v, names.index(v), train_args, args.tag, sizes, args.activity, args.cue_aware) for v in variants]
    print_tables(reports, args.tag, " ".join(train_args))
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
