"""`hf-livechat`: a thin command line over the package. Each subcommand parses arguments and calls one function."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data.backbones import DEFAULT_FEATURE_MODEL


def _make_stream(args):
    import dataclasses

    from .synthetic import WORLD_VARIANTS, make_streams

    knobs = {name: getattr(args, name) for name in WORLD_KNOBS if getattr(args, name) is not None}
    world = dataclasses.replace(WORLD_VARIANTS[args.variant], **knobs)
    manifest = make_streams(
        args.out, num_streams=args.num_streams, duration=args.duration, seed=args.seed, config=world, workers=args.workers
    )
    print(f"wrote {args.num_streams} streams; manifest: {manifest}")


WORLD_KNOBS = ("max_cues", "filler_rate", "response_filler_rate", "cue_placement", "paraphrase_rate", "invented_rate", "scene_style")


def _build_dataset(args):
    from .data.builders.livechat import BuildOptions, build_livechat_dataset
    from .data.builders.vod_builder import clear_out_dir
    from .data.chat import ChatFilters
    from .data.clips import ClipConfig
    from .distributed import launched_processes

    feature_model = args.feature_model
    processes = launched_processes()  # `accelerate launch hf-livechat build-dataset ...` shares the VODs out
    if args.overwrite:
        clear_out_dir(args.out, processes)
    options = BuildOptions(
        clips=ClipConfig(selection=args.selection, input_span=args.input_span),
        filters=ChatFilters() if not args.keep_all_chat else ChatFilters.keep_all(),
        feature_model=None if feature_model == "none" else feature_model,
        keep_frames=args.keep_frames,
        frame_size=args.frame_size,
        split_by=args.split_by,
        seed=args.seed,
        bad_records=args.bad_records,
        asr_model=args.asr_model,
        asr_engine=args.asr_engine,
    )
    summary = build_livechat_dataset(args.manifest, args.out, options, on_error=args.on_error, processes=processes)
    if processes is not None and processes.process_index != 0:
        return
    print(summary.format())
    if not sum(summary.examples.values()):
        raise SystemExit(f"hf-livechat build-dataset: error: no clip was built from {args.manifest} (see the skipped VODs above)")
    print(f"dataset: {args.out} (load with datasets.load_dataset({str(args.out)!r}))")


def _train(args):
    from .training.train import LiveChatRecipeArguments, recipe_training_arguments, train_livechat

    recipe = LiveChatRecipeArguments(
        dataset_dir=args.dataset_dir,
        config=args.config,
        pretrain_steps=args.pretrain_steps,
        init_from=args.init_from,
        tokenizer=args.tokenizer,
        text_encoder=args.text_encoder,
        config_overrides=args.config_overrides,
        modality_dropout=args.modality_dropout,
        select_by_ranking=args.evaluations > 0,
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


def _evaluate(args):
    from .evaluation.run import evaluate_model, format_table

    ablations = [()]
    if args.ablate:
        ablations += [(name.strip(),) for name in args.ablate.split(",") if name.strip()]
    group_of = None
    if args.group_by:
        def group_of(row, ground_truth, column=args.group_by):
            if column not in row:
                raise ValueError(f"--group-by {column!r}: the dataset has no such column (it has {sorted(row)})")
            return str(row[column])

    results = evaluate_model(
        args.model_dir, args.dataset_dir, args.split, args.protocol, ablations, seed=args.seed, batch_size=args.batch_size, paper_metric=args.paper_metric,
        length_normalize=not args.sum_log_probs, group_of=group_of,
    )
    print(format_table(results, chance=1 / (100 if args.protocol == "livebot" else 10)))
    if group_of is not None:
        by_group = {name: metrics["recall@1 by group"] for name, metrics in results.items()}
        print(f"\nR@1 by {args.group_by}:")
        print(format_table(by_group, columns=sorted(next(iter(by_group.values())))))
    if args.json:
        report = results["full"] if len(results) == 1 else results
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")


def _quickstart(args):
    if args.affect:
        return _affect_quickstart(args)
    from .quickstart import QuickstartOptions, run_quickstart

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
    from .affect_quickstart import AffectQuickstartOptions, run_affect_quickstart

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

    from .data.media import probe_media
    from .pipelines.writers import write_comment_files

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
    from .pipelines.diversity import format_diversity
    from .pipelines.video_comment_generation import summarize_comments

    print(format_diversity(summarize_comments(comments)))


def _render(args):
    from .pipelines.render import render_comments
    from .pipelines.writers import read_comments_json

    render_comments(args.video, read_comments_json(args.comments), args.output, scroll_seconds=args.scroll_seconds, font=args.font)
    print(f"wrote {args.output}")


def _demo(args):
    from .pipelines.demo import main as demo_main

    demo_main(["--model", args.model, "--port", str(args.port), "--host", args.host] + (["--share"] if args.share else []))


def _train_tokenizer(args):
    from .data.chat import read_chat
    from .tokenization import find_emotes, train_chat_tokenizer

    texts = [message.text for path in args.chat_logs for message in read_chat(path)]
    emotes = find_emotes(texts, min_count=args.min_emote_count)
    tokenizer = train_chat_tokenizer(texts, vocab_size=args.vocab_size, emotes=emotes)
    tokenizer.save_pretrained(args.out)
    print(f"trained on {len(texts)} messages: {len(tokenizer)} tokens, {len(emotes)} emotes kept whole; saved to {args.out}")


def _read_chat(args):
    from .data.chat import ChatFilters, ChatStats, detect_chat_format, read_chat

    stats = ChatStats()
    messages = list(read_chat(args.path, args.format, errors=args.errors, filters=ChatFilters() if args.filter else None, stats=stats))
    print(f"{args.path}: format {args.format or detect_chat_format(args.path)}, {stats.summary()}")
    if messages:
        print(f"time span {messages[0].time:.1f} s .. {messages[-1].time:.1f} s")
    for message in messages[: args.head]:
        print(json.dumps(message.to_dict(), ensure_ascii=False))


WORLD_VARIANTS_NAMES = ("quickstart", "noisy", "overlap", "copy")  # hf_livechat.synthetic.WORLD_VARIANTS, without importing it


def _train_affect(args):
    from .pipelines.lc_features import load_lc_features
    from .training.affect import AffectProtocolArguments, join_live_comment_features, run_affect_protocol, run_mustard_protocol
    from .training.affect_benchmarks import load_affect_benchmark

    if args.live_comment_features is None and not args.no_live_comments:
        raise ValueError("pass --live-comment-features DIR (from extract-lc-features), or --no-live-comments for the text/audio/video model alone")
    data = load_affect_benchmark(
        args.benchmark, args.data, allow_pickle=args.allow_pickle, meld_label=args.meld_label,
        mustard_setting=args.mustard_setting, split_indices=args.split_indices,
    )
    protocol = AffectProtocolArguments(
        benchmark=args.benchmark, seeds=args.seeds, max_epochs=args.max_epochs, patience=args.patience,
        batch_size=args.batch_size, learning_rate=args.learning_rate, d_model=args.d_model, num_layers=args.num_layers,
        output_dir=args.output_dir, overwrite=args.overwrite,
    )
    folds = data if isinstance(data, list) else None
    settings = {}
    if args.live_comment_features is not None:
        features = load_lc_features(args.live_comment_features)  # refuses an unfinished or unrecorded store
        source = str(args.live_comment_features)
        if folds:
            settings["with live comments"] = [join_live_comment_features(fold, features, source) for fold in folds]
        else:
            settings["with live comments"] = join_live_comment_features(data, features, source)
    if args.no_live_comments or args.live_comment_features is not None:
        settings["without live comments"] = data
    run = run_mustard_protocol if folds else run_affect_protocol
    result = run(settings, protocol)
    print(result.format_table(args.metrics.split(",") if args.metrics else None))
    for setting, folder in result.models.items():
        print(f"{setting}: best-dev model with its card in {folder}")
    report = Path(args.json) if args.json else Path(args.output_dir) / "affect_results.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result.to_dict(), indent=2))
    print(f"wrote {report}")


def _live(args):
    from transformers import pipeline

    from .pipelines.live_session import LiveOptions, run_live

    generate_kwargs = {}
    if args.num_candidates is not None:
        generate_kwargs.update(num_beams=args.num_candidates, num_return_sequences=args.num_candidates)
    if args.greedy:
        generate_kwargs.update(do_sample=False, num_beams=1, num_return_sequences=1)
    options = LiveOptions(
        interval=args.interval,
        chat=args.chat,
        follow_chat=args.follow,
        irc_server=args.irc_server,
        asr_model=args.asr,
        asr_engine=args.asr_engine,
        out=args.out,
        overlay_port=args.overlay,
        follow=args.follow_source,
        idle_timeout=args.idle_timeout,
        speed=args.speed,
        max_lag=args.max_lag,
        generate_kwargs=generate_kwargs,
        repeat_penalty=args.repeat_penalty,
    )
    commenter = pipeline("video-comment-generation", model=args.model, feature_model=args.feature_model)
    report = run_live(args.source, commenter, options)
    print(report.summary())
    if not report.stats.emitted:
        raise ValueError(f"no comment was generated: {report.frames_decoded} frames decoded from {args.source}")


def build_parser() -> argparse.ArgumentParser:
    from .training.defaults import TrainingDefaults

    parser = argparse.ArgumentParser(prog="hf-livechat", description="Live-comment modelling for the Hugging Face ecosystem.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("make-stream", help="generate procedural streams (mp4 + SRT + Twitch chat JSON + manifest)")
    p.add_argument("--out", required=True)
    p.add_argument("--num-streams", type=int, default=12)
    p.add_argument("--duration", type=float, default=600.0, help="seconds per stream")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    # The world's knobs (hf_livechat.synthetic.WorldConfig): a named variant, then any knob given on top of it.
    p.add_argument("--variant", default="quickstart", choices=sorted(WORLD_VARIANTS_NAMES), help="a world of the family (default: the quickstart's)")
    p.add_argument("--max-cues", type=int, choices=[1, 2, 3], help="modalities with a cue per 30 s episode")
    p.add_argument("--filler-rate", type=float, help="background chat messages per second of context")
    p.add_argument("--response-filler-rate", type=float, help="unpredictable messages per second of response")
    p.add_argument("--cue-placement", choices=["early", "anywhere"], help="where in the context window a cue starts")
    p.add_argument("--paraphrase-rate", type=float, help="share of replies that relate to their cue without its word")
    p.add_argument("--invented-rate", type=float, help="share of chat cues made of invented memes / names to copy")
    p.add_argument("--scene-style", choices=["classic", "neon"], help="how the screen is drawn")
    p.set_defaults(func=_make_stream)

    p = sub.add_parser("build-dataset", help="build a LiveChat dataset (Parquet + card) from VODs and chat logs")
    p.add_argument("manifest", help="JSONL/CSV manifest (video, chat, transcript, streamer, category, vod_id, split) or a folder")
    p.add_argument("--out", required=True)
    p.add_argument("--feature-model", default=DEFAULT_FEATURE_MODEL, help="image model id/folder, 'efficientnet-lite0' (offline) or 'none'")
    p.add_argument("--frame-size", type=int, default=224)
    p.add_argument("--keep-frames", action="store_true", help="also store the frames (JPEG) for end-to-end training")
    p.add_argument("--selection", choices=["busiest", "all"], default="busiest")
    p.add_argument("--input-span", choices=["context", "paper"], default="context", help="'paper' reproduces the published overlap leak")
    p.add_argument("--split-by", choices=["vod", "streamer"], default="vod")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-all-chat", action="store_true", help="disable the chat filters")
    p.add_argument("--bad-records", choices=["raise", "skip"], default="raise", help="malformed chat records")
    p.add_argument("--on-error", choices=["skip", "raise"], default="skip", help="VODs that cannot be read")
    p.add_argument("--asr-model", default=None, help="Whisper checkpoint for VODs without a transcript file")
    p.add_argument("--asr-engine", choices=["transformers", "faster-whisper"], default="transformers")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_build_dataset)

    p = sub.add_parser("train", help="train LiveChat (optional MLM pretraining, then comment generation)")
    p.add_argument("dataset_dir", help="a dataset folder from build-dataset, or a Hub dataset id")
    p.add_argument("--output-dir", required=True, help="where checkpoints, the model, its processor and card go (a re-run resumes)")
    p.add_argument("--config", default="small", help="architecture preset (tiny | small | reference | reference-code) or a config folder")
    p.add_argument("--config-overrides", default=None, help="config fields to change, e.g. 'chat_encoder_type=comment,dropout=0.2'")
    p.add_argument("--init-from", default=None, help="start from this LiveChat checkpoint instead of a fresh model")
    p.add_argument("--tokenizer", default=None, help="tokenizer id or folder (default: BERT uncased, shipped offline)")
    p.add_argument("--text-encoder", default=None, help="BERT-family checkpoint whose weights start the transcript and chat encoders")
    p.add_argument("--pretrain-steps", type=int, default=0, help="masked-LM pretraining steps before comment generation")
    p.add_argument("--epochs", type=float, default=TrainingDefaults.epochs, help="passes over the training clips (a new random target each)")
    p.add_argument("--batch-size", type=int, default=TrainingDefaults.batch_size, help="clips per step and process")
    p.add_argument("--learning-rate", type=float, default=TrainingDefaults.learning_rate, help="peak learning rate of the cosine schedule")
    p.add_argument("--warmup-steps", type=int, default=TrainingDefaults.warmup_steps, help="linear warm-up steps")
    p.add_argument("--modality-dropout", type=float, default=TrainingDefaults.modality_dropout, help="chance that each modality of a training clip is removed")
    p.add_argument("--evaluations", type=int, default=TrainingDefaults.evaluations, help="validation rankings over the run (best Recall@1 kept); 0: none, keep the last")
    p.add_argument("--logging-steps", type=int, default=TrainingDefaults.logging_steps, help="steps between loss logs")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and of the target draws")
    p.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision (GPU)")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="rank candidate comments with a trained model: Recall@k, mean rank, MRR")
    p.add_argument("model_dir")
    p.add_argument("dataset_dir")
    p.add_argument("--split", default="test")
    p.add_argument("--protocol", choices=["livechat", "livechat-popular", "livechat-random", "livebot"], default="livechat")
    p.add_argument("--ablate", default="", help="comma-separated modalities to remove in extra runs: video,transcript,chat")
    p.add_argument("--paper-metric", action="store_true", help="reproduce the published (inflated) R@k>1/MR/MRR computation")
    p.add_argument(
        "--sum-log-probs",
        action="store_true",
        help="score a candidate by the sum of its token log-probabilities (the reference code) instead of the mean",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", default=None, help="write the metrics to this file")
    p.add_argument("--group-by", default=None, help="also report Recall@1 per value of this dataset column (e.g. category)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("quickstart", help="generate streams, build a dataset, train, evaluate and generate, end to end")
    # Defaults: QuickstartOptions (40 streams of 480 s, 112 px frames, the small model, 60 epochs, seed 0). A smoke
    # run in seconds: --num-streams 6 --duration 300 --frame-size 32 --config tiny --epochs 1
    p.add_argument("--out", default="livechat-quickstart")
    p.add_argument("--num-streams", type=int, default=None, help="generated streams (default 40)")
    p.add_argument("--duration", type=float, default=None, help="seconds per generated stream (default 480)")
    p.add_argument("--epochs", type=float, default=None, help="training epochs (default 60)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--config", default=None, help="model preset: tiny, small (default) or reference")
    p.add_argument("--frame-size", type=int, default=None, help="frame side in pixels for the backbone (default 112)")
    # --affect: the LCAffect chain instead (hf_livechat.affect_quickstart; default out affect-quickstart, 48 streams of
    # 240 s, 64 px, the V2LC 'tiny' preset for 15 epochs; --epochs and --config then apply to V2LC)
    p.add_argument("--affect", action="store_true", help="the LCAffect chain: streams -> V2LC -> live-comment features -> affect fusion")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="with --affect: fusion-model seeds (default 0 1 2 3 4)")
    p.set_defaults(func=_quickstart)

    p = sub.add_parser("generate", help="generate live comments for a video: JSON, SRT and danmaku ASS files")
    p.add_argument("video")
    p.add_argument("--model", required=True, help="LiveChat model folder or Hub id")
    p.add_argument("--chat", default=None, help="chat log of the video (any supported format)")
    p.add_argument("--transcript", default=None, help="SRT/VTT/JSON transcript of the streamer's speech")
    p.add_argument("-o", "--output", required=True, help="output prefix: writes PREFIX.json, PREFIX.srt, PREFIX.ass")
    p.add_argument("--stride", type=float, default=5.0, help="seconds between comments")
    p.add_argument("--num-beams", type=int, default=None, help="beam search width (default: 8 beams as candidates, repeat penalty)")
    p.add_argument("--sample", action="store_true", help="nucleus sampling instead of beam search")
    p.add_argument("--feed-back", action="store_true", help="later windows see the comments generated before")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--feature-model", default=None, help="override the frame feature model named in the config")
    p.set_defaults(func=_generate)

    p = sub.add_parser("render", help="burn scrolling comments into a copy of a video (keeps the audio)")
    p.add_argument("video")
    p.add_argument("comments", help="a comments JSON from `hf-livechat generate`")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--scroll-seconds", type=float, default=8.0)
    p.add_argument("--font", default=None, help="a TrueType font file (use a CJK font for Chinese/Japanese comments)")
    p.set_defaults(func=_render)

    p = sub.add_parser("demo", help="Gradio app: upload a video (+ chat log), watch generated comments scroll")
    p.add_argument("--model", default="livechat-quickstart/model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true")
    p.set_defaults(func=_demo)

    _add_lcaffect_parsers(sub)

    p = sub.add_parser("train-affect", help="train the affect fusion model: N seeds, dev-selected, test mean ± std, with/without live comments")
    p.add_argument("--benchmark", required=True, choices=["sims", "simsv2", "mosi", "mosei", "meld", "mustard"])
    p.add_argument("--data", required=True, help="MMSA .pkl, MELD folder of csvs, or MUStARD sarcasm_data.json")
    p.add_argument("--live-comment-features", default=None, help="folder from extract-lc-features (rows joined by id)")
    p.add_argument("--no-live-comments", action="store_true", help="train the model without live-comment features (alone, or beside)")
    p.add_argument("--allow-pickle", action="store_true", help="allow reading an MMSA pickle (trusted files only)")
    p.add_argument("--meld-label", choices=["emotion", "sentiment"], default="emotion")
    p.add_argument("--mustard-setting", choices=["dependent", "independent"], default="dependent")
    p.add_argument("--split-indices", default=None, help="MUStARD's data/split_indices.p (default: beside the json)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=5, help="epochs without a better dev score before a run stops")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--metrics", default=None, help="comma-separated metrics to print (default all)")
    p.add_argument("--output-dir", default="affect-runs", help="runs (resumable), best models with cards, results")
    p.add_argument("--json", default=None, help="write every run and the summary here (default OUTPUT_DIR/affect_results.json)")
    p.add_argument("--overwrite", action="store_true", help="retrain stored runs made with other settings or data (else refused)")
    p.set_defaults(func=_train_affect)

    p = sub.add_parser("train-tokenizer", help="train a WordPiece chat tokenizer keeping emotes whole")
    p.add_argument("chat_logs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--min-emote-count", type=int, default=5)
    p.set_defaults(func=_train_tokenizer)

    p = sub.add_parser("live", help="comment on a live stream as it plays, with its live chat and live speech")
    p.add_argument("source", help="anything PyAV opens live: an HLS/RTMP/HTTP URL, a device, a file (--follow-source while it grows)")
    p.add_argument("--model", required=True, help="LiveChat model folder or Hub id")
    p.add_argument("--chat", default=None, help="twitch:CHANNEL (IRC), or a chat log (any supported format; --follow to tail it)")
    p.add_argument("--follow", action="store_true", help="tail the --chat log as it is written")
    p.add_argument("--irc-server", default=None, help="HOST:PORT of the IRC server for twitch:CHANNEL (default Twitch, TLS)")
    p.add_argument("--asr", default=None, help="Whisper model for live speech (CTranslate2 folder or size: faster-whisper; else transformers)")
    p.add_argument("--asr-engine", choices=["transformers", "faster-whisper"], default=None)
    p.add_argument("--interval", type=float, default=5.0, help="seconds of stream between comments")
    p.add_argument("--out", default="comments.jsonl", help="append each comment to this JSONL file")
    p.add_argument("--overlay", type=int, default=None, metavar="PORT", help="serve a danmaku overlay page on 127.0.0.1:PORT (OBS browser source)")
    p.add_argument("--follow-source", action="store_true", help="SOURCE is a file still being written (MPEG-TS, MKV or fragmented MP4)")
    p.add_argument("--idle-timeout", type=float, default=10.0, help="with --follow-source: seconds without growth that end the stream")
    p.add_argument("--speed", type=float, default=None, help="replay a recorded SOURCE as live at this multiple of real time")
    p.add_argument("--max-lag", type=float, default=1.0, help="drop a due window when more than this many seconds behind")
    p.add_argument("--num-candidates", type=int, default=None, help="beams per window, each a candidate (default 8)")
    p.add_argument("--repeat-penalty", type=float, default=None, help="penalty on repeating a recent comment (default 1.0)")
    p.add_argument("--greedy", action="store_true", help="greedy decoding, one candidate (no sampling)")
    p.add_argument("--feature-model", default=None, help="override the frame feature model named in the config")
    p.set_defaults(func=_live)

    p = sub.add_parser("read-chat", help="read a chat log (any supported format) and summarise it")
    p.add_argument("path")
    p.add_argument("--format", default=None)
    p.add_argument("--errors", choices=["raise", "skip"], default="raise")
    p.add_argument("--filter", action="store_true", help="apply the LiveChat chat filters")
    p.add_argument("--head", type=int, default=3, help="print the first N messages")
    p.set_defaults(func=_read_chat)
    return parser


def _quiet_model_loading() -> None:
    """transformers draws a bar for every model it loads or saves ("Loading weights", "Writing model shards"): noise
    in a command that loads several; the commands' own bars (VODs, training steps) stay."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    from .data.backbones import FeatureModelError

    args = build_parser().parse_args(argv)
    _quiet_model_loading()
    try:
        args.func(args)
    except FeatureModelError as error:  # nothing could be built
        print(f"hf-livechat {args.command}: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as error:
        print(f"hf-livechat {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


# -- LCAffect: segments, V2LC training, live-comment features per clip -------------------------------------------------


def _build_lcaffect(args):
    from .data.builders.lcaffect import LCAffectBuildOptions, SegmentConfig, build_lcaffect_dataset
    from .data.builders.vod_builder import clear_out_dir
    from .data.chat import ChatFilters
    from .distributed import launched_processes

    processes = launched_processes()  # under torchrun / accelerate launch the processes share the VODs
    if args.overwrite:
        clear_out_dir(args.out, processes)
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
    summary = build_lcaffect_dataset(args.manifest, args.out, options, on_error=args.on_error, processes=processes)
    if processes is not None and processes.process_index != 0:
        return
    print(summary.format())
    if not sum(summary.examples.values()):
        raise SystemExit(f"hf-livechat build-lcaffect: error: no segment was built from {args.manifest}")
    print(f"dataset: {args.out} (load with datasets.load_dataset({str(args.out)!r}))")


def _train_v2lc(args):
    import os

    import torch
    from transformers import TrainingArguments

    from .training.v2lc import V2LCRecipeArguments, train_v2lc

    recipe = V2LCRecipeArguments(
        dataset_dir=args.dataset_dir,
        config=args.config,
        text_model=args.text_model,
        init_from=args.init_from,
        config_overrides=args.config_overrides,
        max_comments_per_segment=args.max_comments,
    )
    training_args = TrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        lr_scheduler_type="cosine",
        weight_decay=0.1,
        logging_steps=args.logging_steps,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        report_to="none",
        seed=args.seed,
        bf16=args.bf16,
        use_cpu=int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available(),  # gloo DDP on CPU
    )
    print(f"model saved to {train_v2lc(recipe, training_args)}")


def _extract_lc_features(args):
    from transformers import AutoModel  # V2LC is registered with the Auto classes when hf_livechat is imported

    from .pipelines.lc_features import extract_lc_features

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


def _add_lcaffect_parsers(sub) -> None:
    p = sub.add_parser("build-lcaffect", help="build an LCAffect segment dataset (8 s segments + their live comments)")
    p.add_argument("manifest", help="JSONL/CSV manifest (video, chat, streamer, category, vod_id, split) or a folder")
    p.add_argument("--out", required=True)
    p.add_argument("--feature-model", default=DEFAULT_FEATURE_MODEL, help="image model id/folder, 'efficientnet-lite0' (offline) or 'none'")
    p.add_argument("--frame-size", type=int, default=224)
    p.add_argument("--segment-length", type=float, default=8.0)
    p.add_argument("--stride", type=float, default=None, help="seconds between segment starts (default: the segment length)")
    p.add_argument("--min-comments", type=int, default=5)
    p.add_argument("--max-comments", type=int, default=32, help="comments stored per segment (0: all)")
    p.add_argument("--split-by", choices=["vod", "streamer"], default="vod")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-all-chat", action="store_true", help="disable the chat filters")
    p.add_argument("--bad-records", choices=["raise", "skip"], default="raise", help="malformed chat records")
    p.add_argument("--on-error", choices=["skip", "raise"], default="skip", help="VODs that cannot be read")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_build_lcaffect)

    p = sub.add_parser("train-v2lc", help="train the V2LC video <-> live comment encoder on build-lcaffect segments")
    p.add_argument("dataset_dir", metavar="SEGMENTS_DIR", help="a build-lcaffect dataset folder (with frame features), or a Hub id")
    p.add_argument("--output-dir", required=True, help="where checkpoints, the model, its card and retrieval.json go (a re-run resumes)")
    p.add_argument("--config", default="small", help="video tower preset (tiny | small | base) or a V2LC config folder")
    p.add_argument("--text-model", default="minilm", help="'minilm' (all-MiniLM-L6-v2, offline), a random tower 'tiny' | 'small', or an id/folder")
    p.add_argument("--init-from", default=None, help="continue from a trained V2LC model")
    p.add_argument("--config-overrides", default=None, help="V2LC config fields, e.g. 'projection_dim=128,multi_positive_loss=mean'")
    p.add_argument("--max-comments", type=int, default=8, help="comments per segment in a batch (drawn anew each epoch)")
    p.add_argument("--epochs", type=float, default=10)
    p.add_argument("--batch-size", type=int, default=64, help="segments per step and process (negatives: all processes' segments)")
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--logging-steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default=None)
    p.add_argument("--overwrite", action="store_true", help="replace features made by another model or from another source")
    p.set_defaults(func=_extract_lc_features)


if __name__ == "__main__":
    sys.exit(main())
