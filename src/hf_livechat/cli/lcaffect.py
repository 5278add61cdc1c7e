"""LCAffect commands: segments, V2LC training, live-comment features per clip, the affect protocol."""

from __future__ import annotations

from pathlib import Path

from ..data.backbones import DEFAULT_FEATURE_MODEL


def _build_lcaffect(args):
    from ..data.builders.v2lc_segments import LCAffectBuildOptions, SegmentConfig, build_lcaffect_dataset
    from ..data.chat import ChatFilters
    from ._build import run_build

    options = LCAffectBuildOptions(
        segments=SegmentConfig(
            segment_length=args.segment_length, stride=args.stride, min_comments=args.min_comments, max_comments=args.max_comments or None
        ),
        filters=ChatFilters.keep_all() if args.keep_all_chat else ChatFilters(),
        feature_model=None if args.feature_model == "none" else args.feature_model,
        frame_size=args.frame_size,
        split_by=args.split_by,
        seed=args.seed,
        bad_records=args.bad_records,
    )
    run_build(args, build_lcaffect_dataset, options, unit="segment")


def _train_v2lc(args):
    from ..training.v2lc import V2LCRecipeArguments, train_v2lc, v2lc_training_arguments

    recipe = V2LCRecipeArguments(
        dataset_dir=args.dataset_dir,
        config=args.config,
        text_model=args.text_model,
        init_from=args.init_from,
        config_overrides=args.config_overrides,
        max_comments_per_segment=args.max_comments,
    )
    training_args = v2lc_training_arguments(
        args.output_dir, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps, logging_steps=args.logging_steps, seed=args.seed, bf16=args.bf16,
    )
    print(f"model saved to {train_v2lc(recipe, training_args)}")


def _extract_lc_features(args):
    from transformers import AutoModel  # V2LC is registered with the Auto classes when hf_livechat is imported

    from ..pipelines.lc_features import extract_lc_features

    model = AutoModel.from_pretrained(args.model)
    summary = extract_lc_features(
        model,
        args.source,
        args.out,
        segment_length=args.segment_length,
        frame_size=args.frame_size,
        feature_model=args.feature_model,
        id_column=args.id_column,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        device=args.device,
    )
    print(summary.format())
    print(f"features: hf_livechat.pipelines.lc_features.load_lc_features({str(args.out)!r}) -> {{id: vector}}")


def _train_affect(args):
    from ..pipelines.lc_features import load_lc_features
    from ..training.affect import AffectProtocolArguments, live_comment_settings, run_live_comment_protocol
    from ..training.affect_benchmarks import load_affect_benchmark

    settings = live_comment_settings(args.live_comment_features, without=args.no_live_comments)
    data = load_affect_benchmark(
        args.benchmark, args.data, allow_pickle=args.allow_pickle, meld_label=args.meld_label,
        mustard_setting=args.mustard_setting, split_indices=args.split_indices,
    )
    protocol = AffectProtocolArguments(
        benchmark=args.benchmark, seeds=args.seeds, max_epochs=args.max_epochs, patience=args.patience,
        batch_size=args.batch_size, learning_rate=args.learning_rate, d_model=args.d_model, num_layers=args.num_layers,
        output_dir=args.output_dir, overwrite=args.overwrite,
    )
    result = run_live_comment_protocol(data, settings, protocol, load_features=load_lc_features)
    print(result.format_table(args.metrics.split(",") if args.metrics else None))
    for setting, folder in result.models.items():
        print(f"{setting}: best-dev model with its card in {folder}")
    report = result.write_json(args.json or Path(args.output_dir) / "affect_results.json")
    print(f"wrote {report}")


def add_parsers(sub) -> None:
    p = sub.add_parser("train-affect", help="train the affect fusion model: N seeds, dev-selected, test mean ± std, with/without live comments")
    p.add_argument("--benchmark", required=True, choices=["sims", "simsv2", "mosi", "mosei", "meld", "mustard"], help="which benchmark --data holds")
    p.add_argument("--data", required=True, help="MMSA .pkl, MELD folder of csvs, or MUStARD sarcasm_data.json")
    p.add_argument("--live-comment-features", default=None, help="folder from extract-lc-features (rows joined by id)")
    p.add_argument("--no-live-comments", action="store_true", help="train the model without live-comment features (alone, or beside)")
    p.add_argument("--allow-pickle", action="store_true", help="allow reading an MMSA pickle (trusted files only)")
    p.add_argument("--meld-label", choices=["emotion", "sentiment"], default="emotion", help="MELD's 7 emotions or 3 sentiments")
    p.add_argument("--mustard-setting", choices=["dependent", "independent"], default="dependent", help="speaker-dependent (the authors' 5 folds) or speaker-independent (test on FRIENDS)")
    p.add_argument("--split-indices", default=None, help="MUStARD's data/split_indices.p (default: beside the json)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="one run per seed; the table gives mean +- std")
    p.add_argument("--max-epochs", type=int, default=30, help="epochs at most (early stopping on dev)")
    p.add_argument("--patience", type=int, default=5, help="epochs without a better dev score before a run stops")
    p.add_argument("--batch-size", type=int, default=64, help="utterances per step")
    p.add_argument("--learning-rate", type=float, default=5e-4, help="peak learning rate")
    p.add_argument("--d-model", type=int, default=128, help="width of the fusion model")
    p.add_argument("--num-layers", type=int, default=2, help="fusion transformer layers")
    p.add_argument("--metrics", default=None, help="comma-separated metrics to print (default all)")
    p.add_argument("--output-dir", default="affect-runs", help="runs (resumable), best models with cards, results")
    p.add_argument("--json", default=None, help="write every run and the summary here (default OUTPUT_DIR/affect_results.json)")
    p.add_argument("--overwrite", action="store_true", help="retrain stored runs made with other settings or data (else refused)")
    p.set_defaults(func=_train_affect)
    p = sub.add_parser("build-lcaffect", help="build an LCAffect segment dataset (8 s segments + their live comments)")
    p.add_argument("manifest", help="JSONL/CSV manifest (video, chat, streamer, category, vod_id, split) or a folder")
    p.add_argument("--out", required=True, help="the segment dataset folder (a re-run resumes it)")
    p.add_argument("--feature-model", default=DEFAULT_FEATURE_MODEL, help="image model id/folder, 'efficientnet-lite0' (offline) or 'none'")
    p.add_argument("--frame-size", type=int, default=224, help="side of the square frames the feature model sees")
    p.add_argument("--segment-length", type=float, default=8.0, help="seconds per segment (LCAffect: 8)")
    p.add_argument("--stride", type=float, default=None, help="seconds between segment starts (default: the segment length)")
    p.add_argument("--min-comments", type=int, default=5, help="segments with fewer live comments are left out")
    p.add_argument("--max-comments", type=int, default=32, help="comments stored per segment (0: all)")
    p.add_argument("--split-by", choices=["vod", "streamer"], default="vod", help="keep each VOD (or streamer) within one split")
    p.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    p.add_argument("--keep-all-chat", action="store_true", help="disable the chat filters")
    p.add_argument("--bad-records", choices=["raise", "skip"], default="raise", help="malformed chat records")
    p.add_argument("--on-error", choices=["skip", "raise"], default="skip", help="VODs that cannot be read")
    p.add_argument("--overwrite", action="store_true", help="delete the output folder and build anew instead of resuming")
    p.set_defaults(func=_build_lcaffect)

    p = sub.add_parser("train-v2lc", help="train the V2LC video <-> live comment encoder on build-lcaffect segments")
    p.add_argument("dataset_dir", metavar="SEGMENTS_DIR", help="a build-lcaffect dataset folder (with frame features), or a Hub id")
    p.add_argument("--output-dir", required=True, help="where checkpoints, the model, its card and retrieval.json go (a re-run resumes)")
    p.add_argument("--config", default="small", help="video tower preset (tiny | small | base) or a V2LC config folder")
    p.add_argument("--text-model", default="minilm", help="'minilm' (all-MiniLM-L6-v2, offline), a random tower 'tiny' | 'small', or an id/folder")
    p.add_argument("--init-from", default=None, help="continue from a trained V2LC model")
    p.add_argument("--config-overrides", default=None, help="V2LC config fields, e.g. 'projection_dim=128,multi_positive_loss=mean'")
    p.add_argument("--max-comments", type=int, default=8, help="comments per segment in a batch (drawn anew each epoch)")
    p.add_argument("--epochs", type=float, default=10, help="passes over the training segments")
    p.add_argument("--batch-size", type=int, default=64, help="segments per step and process (negatives: all processes' segments)")
    p.add_argument("--learning-rate", type=float, default=1e-4, help="peak learning rate")
    p.add_argument("--warmup-steps", type=int, default=20, help="linear warm-up steps")
    p.add_argument("--logging-steps", type=int, default=20, help="steps between loss logs")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the data order")
    p.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision (GPU)")
    p.set_defaults(func=_train_v2lc)

    p = sub.add_parser("extract-lc-features", help="one synthetic live-comment vector per clip (V2LC video tower), under the clip's id")
    p.add_argument("source", metavar="CLIPS", help="manifest of clips (id, video[, start, end]), folder of clip videos, or frame features")
    p.add_argument("--model", required=True, help="V2LC model folder or id")
    p.add_argument("--out", required=True, help="feature store: Parquet shards (id, live_comment_features) + lc_features.json")
    p.add_argument("--feature-model", default=None, help="image model for frame features (default: the one the V2LC config names)")
    p.add_argument("--frame-size", type=int, default=None, help="default: the V2LC config's (its training data's), else 224")
    p.add_argument("--segment-length", type=float, default=None, help="window seconds (default: the V2LC config's, else 8)")
    p.add_argument("--id-column", default=None, help="id column of a frame-feature source (default: id, else segment_id)")
    p.add_argument("--batch-size", type=int, default=64, help="clips per forward pass")
    p.add_argument("--device", default=None, help="where to run V2LC (default: CUDA when present)")
    p.add_argument("--overwrite", action="store_true", help="replace features made by another model or from another source")
    p.set_defaults(func=_extract_lc_features)
