"""LiveChat commands: train, evaluate, generate, render, the demo and the quickstarts."""

from __future__ import annotations

import json
from pathlib import Path


def _train(args):
    from ..training.train import LiveChatRecipeArguments, recipe_training_arguments, train_livechat

    recipe = LiveChatRecipeArguments(
        dataset_dir=args.dataset_dir,
        config=args.config,
        pretrain_steps=args.pretrain_steps,
        init_from=args.init_from,
        tokenizer=args.tokenizer,
        text_encoder=args.text_encoder,
        decoder=args.decoder,
        decoder_fusion=args.decoder_fusion,
        decoder_prompt=args.decoder_prompt,
        lora_r=args.lora_r,
        targets_per_clip=args.targets_per_clip,
        config_overrides=args.config_overrides,
        modality_dropout=args.modality_dropout,
        unconditional_rate=args.unconditional_rate,
        select_by_ranking=args.evaluations > 0,
        min_selection_queries=args.min_selection_queries,
        guidance_scale=args.guidance_scale,
        refit_activity=not args.no_refit_activity,
    )
    training_args = recipe_training_arguments(
        args.output_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        evaluations=args.evaluations,
        logging_steps=args.logging_steps,
        seed=args.seed,
        bf16=args.bf16,
    )
    print(f"model saved to {train_livechat(recipe, training_args)}")


def _column_labeller(column: str):
    """`--group-by COLUMN`: each query's label is its clip's value in that column."""

    def label_of(row, ground_truth):
        if column not in row:
            raise ValueError(f"--group-by {column!r}: the dataset has no such column (it has {sorted(row)})")
        return str(row[column])

    return label_of


def _evaluate_activity(model, processor, loading: dict, args) -> dict | None:
    """The activity head's predicted comment counts against the real ones, beside the chat's recent rate."""
    from ..data.clip_dataset import load_clip_dataset
    from ..evaluation.activity import evaluate_activity, format_activity

    if model.activity_head is None or any(key.startswith("activity_head.") for key in loading["missing_keys"]):
        print("\nactivity: not reported (this model was saved without a trained activity head)")
        return None
    dataset = load_clip_dataset(args.dataset_dir, args.split)
    report = evaluate_activity(model, processor, [dataset[i] for i in range(len(dataset))], batch_size=args.batch_size)
    print("\n" + format_activity(report))
    return report


def _evaluate(args):
    from ..evaluation.evaluate import evaluate_model, format_table

    ablations = [()]
    if args.ablate:
        ablations += [(name.strip(),) for name in args.ablate.split(",") if name.strip()]
    group_of = _column_labeller(args.group_by) if args.group_by else None
    from ..models.livechat import LiveChatForCommentGeneration, LiveChatProcessor

    model, loading = LiveChatForCommentGeneration.from_pretrained(args.model_dir, output_loading_info=True)
    model.eval()
    processor = LiveChatProcessor.from_pretrained(args.model_dir)
    results = evaluate_model(
        args.model_dir, args.dataset_dir, args.split, args.protocol, ablations, seed=args.seed, batch_size=args.batch_size, paper_metric=args.paper_metric,
        length_normalize=not args.sum_log_probs, group_of=group_of, prior_weight=args.prior_weight, model=model, processor=processor,
    )
    print(f"scoring: {next(iter(results.values()))['scoring']}")
    print(format_table(results, chance=1 / (100 if args.protocol == "livebot" else 10)))
    if group_of is not None:
        by_group = {name: metrics["recall@1 by group"] for name, metrics in results.items()}
        print(f"\nR@1 by {args.group_by}:")
        print(format_table(by_group, columns=sorted(next(iter(by_group.values())))))
    activity = _evaluate_activity(model, processor, loading, args)
    if args.json:
        report = results["full"] if len(results) == 1 else results
        if activity is not None:
            report = {**report, "activity": activity}
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")


def _fit_activity(args):
    from datasets import get_dataset_split_names

    from ..data.clip_dataset import load_clip_dataset, resolve_dataset_dir
    from ..evaluation.activity import evaluate_activity, format_activity
    from ..models.livechat import LiveChatForCommentGeneration, LiveChatProcessor
    from ..training.activity import clips_slide, fit_activity_head, replace_activity_head, validation_or_held_out

    model, loading = LiveChatForCommentGeneration.from_pretrained(args.model_dir, output_loading_info=True)
    processor = LiveChatProcessor.from_pretrained(args.model_dir)
    config = model.config
    trained_head = model.activity_head is not None and not any(key.startswith("activity_head.") for key in loading["missing_keys"])
    asked = ("comments", args.time_bins, args.bin_seconds, args.pooling, args.dropout)
    same_inputs = asked == (
        config.activity_chat_count, config.activity_chat_bins, config.activity_bin_seconds, config.activity_pooling,
        config.activity_dropout,
    )
    if trained_head and same_inputs and not args.new_head:
        # As `train` refits it: from the trained head, which stays a candidate (epoch 0).
        print("continuing from the model's activity head (it reads these inputs); --new-head starts from a new one")
    else:
        import torch

        torch.manual_seed(args.seed)  # the new head's initialisation too: --seed decides the whole fit
        replace_activity_head(model, processor, args.time_bins, args.bin_seconds, args.pooling, args.dropout)
    splits = get_dataset_split_names(resolve_dataset_dir(args.dataset_dir))
    # Datasets, read a batch at a time; the split reported at the end as rows.
    sets = {name: load_clip_dataset(args.dataset_dir, name) for name in ("train", "validation") if name in splits}
    if not len(sets.get("train", ())):
        raise SystemExit(f"{args.dataset_dir} has no training clips (splits: {splits}): nothing to fit the activity head on")
    if not clips_slide(sets["train"]):
        print(
            "the training clips lie back to back: the head learns that a window holds a burst more than when it starts; "
            "for --when auto, fit it on a sliding build (build-dataset ... --clip-stride 2 --min-response-comments 0)"
        )
    train, validation, held_out = validation_or_held_out(sets["train"], sets.get("validation"), args.hold_out)
    if held_out:
        print(f"no validation split: the latest {args.hold_out:.0%} of each stream's training clips ({len(validation)}) choose the epoch")
    fit = fit_activity_head(
        model, processor, train, validation, epochs=args.epochs, learning_rate=args.learning_rate,
        batch_size=args.batch_size, seed=args.seed,
    )
    kept = "the head it started from" if fit.best_epoch == 0 else f"epoch {fit.best_epoch} of {fit.epochs}"
    print(
        f"activity head fitted on {fit.train_clips} clips; kept {kept}, by the Poisson loss on {len(validation)} validation clips"
    )
    model.save_pretrained(args.output_dir)
    processor.save_pretrained(args.output_dir)
    print(f"model saved to {args.output_dir}")
    if args.split in splits:
        report = list(load_clip_dataset(args.dataset_dir, args.split))
        print("\n" + format_activity(evaluate_activity(model, processor, report, batch_size=args.batch_size)))


def _quickstart(args):
    if args.affect:
        return _affect_quickstart(args)
    from ..quickstart import QuickstartOptions, run_quickstart

    given = {
        "out_dir": args.out,
        "num_streams": args.num_streams,
        "stream_seconds": args.duration,
        "epochs": args.epochs,
        "seed": args.seed,
        "config": args.config,
        "frame_size": args.frame_size,
    }
    run_quickstart(QuickstartOptions(**{name: value for name, value in given.items() if value is not None}))


def _affect_quickstart(args):
    from ..affect_quickstart import AffectQuickstartOptions, run_affect_quickstart

    given = {
        "out_dir": "affect-quickstart" if args.out == "livechat-quickstart" else args.out,
        "num_streams": args.num_streams,
        "stream_seconds": args.duration,
        "v2lc_epochs": args.epochs,
        "seed": args.seed,
        "v2lc_config": args.config,
        "frame_size": args.frame_size,
        "seeds": tuple(args.seeds) if args.seeds else None,
    }
    run_affect_quickstart(AffectQuickstartOptions(**{name: value for name, value in given.items() if value is not None}))


def _generate(args):
    from transformers import pipeline

    from ..data.media import probe_media
    from ..pipelines.comment_files import write_comment_files

    commenter = pipeline("video-comment-generation", model=args.model, feature_model=args.feature_model)
    generate_kwargs = {"num_beams": args.num_beams} if args.num_beams else {}  # none: the pipeline's chat defaults
    if args.sample:
        generate_kwargs = {"do_sample": True, "top_p": 0.9}
    comments = commenter(
        {"video": args.video, "chat": args.chat, "transcript": args.transcript},
        stride=args.stride,
        feed_back=args.feed_back,
        batch_size=1 if args.feed_back else args.batch_size,
        **generate_kwargs,
    )
    info = probe_media(args.video)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = write_comment_files(comments, out.with_suffix("") if out.suffix else out, video_size=(info.width, info.height))
    for comment in comments[:5]:
        print(f"{comment['time']:7.1f} s  {comment['comment']}")
    print(f"{len(comments)} comments -> " + ", ".join(str(p) for p in paths.values()))
    from ..pipelines.diversity import format_diversity
    from ..pipelines.video_comment_generation import summarize_comments

    print(format_diversity(summarize_comments(comments)))


def _render(args):
    from ..pipelines.render import render_comments
    from ..pipelines.comment_files import read_comments_json

    render_comments(args.video, read_comments_json(args.comments), args.output, scroll_seconds=args.scroll_seconds, font=args.font)
    print(f"wrote {args.output}")


def _demo(args):
    from ..pipelines.demo import main as demo_main

    demo_main(["--model", args.model, "--port", str(args.port), "--host", args.host] + (["--share"] if args.share else []))


def add_parsers(sub) -> None:
    from ..evaluation.defaults import DEFAULT_PRIOR_WEIGHT
    from ..training.defaults import TrainingDefaults

    p = sub.add_parser("train", help="train LiveChat (optional MLM pretraining, then comment generation)")
    p.add_argument("dataset_dir", help="a dataset folder from build-dataset, or a Hub dataset id")
    p.add_argument("--output-dir", required=True, help="where checkpoints, the model, its processor and card go (a re-run resumes)")
    p.add_argument("--config", default="small", help="architecture preset (tiny | small | reference | reference-code) or a config folder")
    p.add_argument("--config-overrides", default=None, help="config fields to change, e.g. 'chat_encoder_type=comment,dropout=0.2'")
    p.add_argument("--init-from", default=None, help="start from this LiveChat checkpoint instead of a fresh model")
    p.add_argument("--tokenizer", default=None, help="tokenizer id or folder (default: BERT uncased, shipped offline)")
    p.add_argument("--text-encoder", default=None, help="BERT-family checkpoint whose weights start the transcript and chat encoders")
    p.add_argument(
        "--decoder", default=None,
        help="a pretrained causal LM as the comment decoder: a folder, Hub id or short name (smollm2-135m); its tokenizer reads transcript, chat and targets",
    )
    p.add_argument(
        "--decoder-fusion", choices=["cross_attention", "prefix"], default="cross_attention",
        help="how the LM decoder reads the clip: gated cross-attention blocks (Flamingo) or prefix embeddings (LLaVA)",
    )
    p.add_argument(
        "--decoder-prompt", choices=["chat", "none"], default="chat",
        help="the LM decoder also reads the context comments as text before the comment ('chat'), or the clip through "
        "the fusion alone ('none')",
    )
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank on the LM decoder (0: train the whole LM); the saved model holds merged weights")
    p.add_argument(
        "--targets-per-clip", type=int, default=None,
        help=f"target comments per clip and step (default {TrainingDefaults.targets_per_clip}; "
        f"{TrainingDefaults.lm_decoder_targets_per_clip} with --decoder, which reads the clip once for all of them)",
    )
    p.add_argument("--pretrain-steps", type=int, default=0, help="masked-LM pretraining steps before comment generation")
    p.add_argument("--epochs", type=float, default=TrainingDefaults.epochs, help="passes over the training clips (a new random target each)")
    p.add_argument("--batch-size", type=int, default=TrainingDefaults.batch_size, help="clips per step and process")
    p.add_argument("--learning-rate", type=float, default=TrainingDefaults.learning_rate, help="peak learning rate of the cosine schedule")
    p.add_argument("--warmup-steps", type=int, default=TrainingDefaults.warmup_steps, help="linear warm-up steps")
    p.add_argument("--modality-dropout", type=float, default=TrainingDefaults.modality_dropout, help="chance that each modality of a training clip is removed")
    p.add_argument(
        "--unconditional-rate",
        type=float,
        default=TrainingDefaults.unconditional_rate,
        help="chance that a training clip loses all three modalities (trains the unconditional model that contrastive ranking and guidance subtract)",
    )
    p.add_argument(
        "--evaluations",
        type=int,
        default=TrainingDefaults.evaluations,
        help=f"validation rankings over the run; the best Recall@1 is kept when validation has >= {TrainingDefaults.min_selection_queries} queries, else the last weights; 0: none",
    )
    p.add_argument(
        "--min-selection-queries",
        type=int,
        default=TrainingDefaults.min_selection_queries,
        help="fewest validation queries to select the kept checkpoint on; with fewer, the last weights are kept",
    )
    p.add_argument(
        "--guidance-scale",
        type=float,
        default=TrainingDefaults.guidance_scale,
        help="classifier-free guidance the saved model decodes with by default (generate, pipeline, live); 1: plain decoding",
    )
    p.add_argument("--logging-steps", type=int, default=TrainingDefaults.logging_steps, help="steps between loss logs")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and of the target draws")
    p.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision (a GPU, or a CPU with bf16 units: an LM decoder's step 1.35x and 1.6x as fast on two AVX512-BF16 EPYCs; on a CPU without them, torch emulates bf16, many times slower: it warns)")
    p.add_argument("--no-refit-activity", action="store_true", help="keep the activity head as trained beside the comment, without fitting it again alone on the final encoders")
    p.set_defaults(func=_train)
    p = sub.add_parser("evaluate", help="rank candidate comments with a trained model: Recall@k, mean rank, MRR")
    p.add_argument("model_dir", help="a trained LiveChat model folder or Hub id")
    p.add_argument("dataset_dir", help="a build-dataset folder or Hub dataset id")
    p.add_argument("--split", default="test", help="the split to rank")
    p.add_argument("--protocol", choices=["livechat", "livechat-popular", "livechat-random", "livebot"], default="livechat", help="how the candidates are drawn (see hf_livechat.evaluation.candidates)")
    p.add_argument("--ablate", default="", help="comma-separated modalities to remove in extra runs: video,transcript,chat")
    p.add_argument("--paper-metric", action="store_true", help="reproduce the published (inflated) R@k>1/MR/MRR computation")
    p.add_argument(
        "--sum-log-probs",
        action="store_true",
        help="score a candidate by the sum of its token log-probabilities (the reference code) instead of the mean",
    )
    p.add_argument(
        "--prior-weight",
        type=float,
        default=DEFAULT_PRIOR_WEIGHT,
        help=f"score log P(c|clip) - W log P(c|no modality): how much the clip raises a candidate (default {DEFAULT_PRIOR_WEIGHT:g}); "
        "0 ranks by the likelihood alone, the papers' protocol",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the candidate draws")
    p.add_argument("--batch-size", type=int, default=16, help="clips per forward pass")
    p.add_argument("--json", default=None, help="write the metrics to this file")
    p.add_argument("--group-by", default=None, help="also report Recall@1 per value of this dataset column (e.g. category)")
    p.set_defaults(func=_evaluate)
    p = sub.add_parser(
        "fit-activity",
        help="fit a trained model's activity head alone (when chat will react), reading the chat's time bins",
        description="Fits a trained LiveChat model's activity head alone on the dataset's clips (a new head when the "
        "model's own reads other inputs, or with --new-head): the encoders run once, then the head trains on their "
        "states (it never trains them). Keeps the head of the lowest "
        "validation loss when the dataset has a validation split, then reports the test split against the chat's recent rate.",
    )
    p.add_argument("model_dir", help="a trained LiveChat model folder or Hub id")
    p.add_argument("dataset_dir", help="a build-dataset folder or Hub dataset id (its train split fits the head)")
    p.add_argument("--output-dir", required=True, help="where the model with its new head and its processor go")
    p.add_argument("--new-head", action="store_true", help="start from a new head even when the model's own reads the same inputs (by default it continues from it, as train's refit does)")
    p.add_argument("--time-bins", type=int, default=10, help="bins of the context's comments by age that the head reads (0: none)")
    p.add_argument("--bin-seconds", type=float, default=2.0, help="width of one bin")
    p.add_argument(
        "--pooling", choices=("attention", "attention+max"), default="attention+max",
        help="how the head summarises each memory: a learned query, and with +max the maximum over its slots (the presets' head)",
    )
    p.add_argument("--dropout", type=float, default=0.3, help="dropout on the head's hidden layer (the presets' 0.3)")
    p.add_argument("--epochs", type=int, default=200, help="passes over the cached training clips")
    p.add_argument("--learning-rate", type=float, default=3e-3, help="AdamW learning rate of the head")
    p.add_argument("--batch-size", type=int, default=32, help="clips per step and per encoder pass")
    p.add_argument("--split", default="test", help="the split reported at the end")
    p.add_argument("--hold-out", type=float, default=0.15, help="without a validation split: the latest share of each stream's training clips that chooses the epoch")
    p.add_argument("--seed", type=int, default=0, help="seed of the head's initialisation and batch order")
    p.set_defaults(func=_fit_activity)
    p = sub.add_parser("quickstart", help="generate streams, build a dataset, train, evaluate and generate, end to end")
    # Defaults: QuickstartOptions (40 streams of 480 s, 112 px frames, the small model, 60 epochs, seed 0). A smoke
    # run in seconds: --num-streams 6 --duration 300 --frame-size 32 --config tiny --epochs 1
    p.add_argument("--out", default="livechat-quickstart", help="folder for everything the quickstart writes")
    p.add_argument("--num-streams", type=int, default=None, help="generated streams (default 40)")
    p.add_argument("--duration", type=float, default=None, help="seconds per generated stream (default 480)")
    p.add_argument("--epochs", type=float, default=None, help="training epochs (default 60)")
    p.add_argument("--seed", type=int, default=None, help="seed of the world and the training (default 0)")
    p.add_argument("--config", default=None, help="model preset: tiny, small (default) or reference")
    p.add_argument("--frame-size", type=int, default=None, help="frame side in pixels for the backbone (default 112)")
    # --affect: the LCAffect chain instead (hf_livechat.affect_quickstart; default out affect-quickstart, 48 streams of
    # 240 s, 64 px, the V2LC 'tiny' preset for 15 epochs; --epochs and --config then apply to V2LC)
    p.add_argument("--affect", action="store_true", help="the LCAffect chain: streams -> V2LC -> live-comment features -> affect fusion")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="with --affect: fusion-model seeds (default 0 1 2 3 4)")
    p.set_defaults(func=_quickstart)
    p = sub.add_parser("generate", help="generate live comments for a video: JSON, SRT and danmaku ASS files")
    p.add_argument("video", help="the video file")
    p.add_argument("--model", required=True, help="LiveChat model folder or Hub id")
    p.add_argument("--chat", default=None, help="chat log of the video (any supported format)")
    p.add_argument("--transcript", default=None, help="SRT/VTT/JSON transcript of the streamer's speech")
    p.add_argument("-o", "--output", required=True, help="output prefix: writes PREFIX.json, PREFIX.srt, PREFIX.ass")
    p.add_argument("--stride", type=float, default=5.0, help="seconds between comments")
    p.add_argument("--num-beams", type=int, default=None, help="beam search width (default: 8 beams as candidates, repeat penalty; with the video only, 4 nucleus samples)")
    p.add_argument("--sample", action="store_true", help="nucleus sampling instead of beam search")
    p.add_argument("--feed-back", action="store_true", help="later windows see the comments generated before")
    p.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    p.add_argument("--feature-model", default=None, help="override the frame feature model named in the config")
    p.set_defaults(func=_generate)
    p = sub.add_parser("render", help="burn scrolling comments into a copy of a video (keeps the audio)")
    p.add_argument("video", help="the video file")
    p.add_argument("comments", help="a comments JSON from `hf-livechat generate`")
    p.add_argument("-o", "--output", required=True, help="the rendered mp4")
    p.add_argument("--scroll-seconds", type=float, default=8.0, help="how long a comment takes to cross the screen")
    p.add_argument("--font", default=None, help="a TrueType font file (use a CJK font for Chinese/Japanese comments)")
    p.set_defaults(func=_render)
    p = sub.add_parser("demo", help="Gradio app: upload a video (+ chat log), watch generated comments scroll")
    p.add_argument("--model", default="livechat-quickstart/model", help="a trained LiveChat model folder or Hub id")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on")
    p.add_argument("--port", type=int, default=7860, help="port to serve on")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    p.set_defaults(func=_demo)
