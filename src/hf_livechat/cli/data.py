"""Data commands: procedural streams, dataset builds, chat logs and tokenizers."""

from __future__ import annotations

import argparse
import json

from ..data.backbones import DEFAULT_FEATURE_MODEL


# hf_livechat.synthetic.WORLD_VARIANTS, without importing it (a test holds the two equal)
WORLD_VARIANTS_NAMES = ("quickstart", "noisy", "overlap", "copy", "related", "prior", "recurring", "position", "halfnoise")


def _make_stream(args):
    import dataclasses

    from ..synthetic import WORLD_VARIANTS, MediaSpec, make_streams

    from ..synthetic import ACTIVITY_KNOBS

    knobs = {name: getattr(args, name) for name in WORLD_KNOBS if getattr(args, name) is not None}
    world = dataclasses.replace(WORLD_VARIANTS[args.variant], **(ACTIVITY_KNOBS if args.activity else {}), **knobs)
    manifest = make_streams(
        args.out, num_streams=args.num_streams, duration=args.duration, seed=args.seed, config=world, workers=args.workers,
        spec=MediaSpec(fps=args.fps, size=args.frame_size),
    )
    print(f"wrote {args.num_streams} streams; manifest: {manifest}")


WORLD_KNOBS = ("max_cues", "filler_rate", "response_filler_rate", "cue_placement", "paraphrase_rate", "invented_rate", "scene_style",
               "paraphrase_every_cue", "template_rate", "cue_recurrence", "positional_events", "quiet_rate", "hype_share")


def _build_dataset(args):
    from ..data.builders.livechat import BuildOptions, build_livechat_dataset
    from ..data.chat import ChatFilters
    from ..data.clips import ClipConfig
    from ._build import run_build

    options = BuildOptions(
        clips=ClipConfig(
            selection=args.selection,
            input_span=args.input_span,
            min_response_comments=args.min_response_comments,
            clip_stride=args.clip_stride,
        ),
        filters=ChatFilters() if not args.keep_all_chat else ChatFilters.keep_all(),
        feature_model=None if args.feature_model == "none" else args.feature_model,
        keep_frames=args.keep_frames,
        frame_size=args.frame_size,
        split_by=args.split_by,
        split_by_time=args.split_by_time,
        seed=args.seed,
        bad_records=args.bad_records,
        asr_model=args.asr_model,
        asr_engine=args.asr_engine,
    )
    run_build(args, build_livechat_dataset, options, unit="clip")


def _time_shares(text: str) -> tuple[float, ...]:
    """`--split-by-time 0.7` -> (0.7,): train, then test; `0.8,0.1` -> (0.8, 0.1): train, validation, then test."""
    try:
        shares = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TRAIN or TRAIN,VALIDATION shares such as 0.7 or 0.8,0.1, got {text!r}") from None
    if not 1 <= len(shares) <= 2 or min(shares) <= 0 or sum(shares) >= 1:
        raise argparse.ArgumentTypeError(f"the shares must be positive and sum to less than 1 (the rest is test), got {text!r}")
    return shares


def _read_chat(args):
    from ..data.chat import ChatFilters, ChatStats, detect_chat_format, read_chat

    stats = ChatStats()
    messages = list(read_chat(args.path, args.format, errors=args.errors, filters=ChatFilters() if args.filter else None, stats=stats))
    print(f"{args.path}: format {args.format or detect_chat_format(args.path)}, {stats.summary()}")
    if messages:
        print(f"time span {messages[0].time:.1f} s .. {messages[-1].time:.1f} s")
    for message in messages[: args.head]:
        print(json.dumps(message.to_dict(), ensure_ascii=False))


def _train_tokenizer(args):
    from ..data.chat import read_chat
    from ..tokenization import find_emotes, train_chat_tokenizer

    texts = [message.text for path in args.chat_logs for message in read_chat(path)]
    emotes = find_emotes(texts, min_count=args.min_emote_count)
    tokenizer = train_chat_tokenizer(texts, vocab_size=args.vocab_size, emotes=emotes)
    tokenizer.save_pretrained(args.out)
    print(f"trained on {len(texts)} messages: {len(tokenizer)} tokens, {len(emotes)} emotes kept whole; saved to {args.out}")


def add_parsers(sub) -> None:
    p = sub.add_parser("make-stream", help="generate procedural streams (mp4 + SRT + Twitch chat JSON + manifest)")
    p.add_argument("--out", required=True, help="folder for the streams and manifest.jsonl")
    p.add_argument("--num-streams", type=int, default=12, help="how many streams (VODs)")
    p.add_argument("--duration", type=float, default=600.0, help="seconds per stream")
    p.add_argument("--seed", type=int, default=0, help="the same seed writes the same files")
    p.add_argument("--workers", type=int, default=2, help="processes writing streams in parallel")
    # The world's knobs (hf_livechat.synthetic.WorldConfig): a named variant, then any knob given on top of it.
    p.add_argument("--variant", default="quickstart", choices=sorted(WORLD_VARIANTS_NAMES), help="a world of the family (default: the quickstart's)")
    p.add_argument("--max-cues", type=int, choices=[1, 2, 3], help="modalities with a cue per 30 s episode")
    p.add_argument("--filler-rate", type=float, help="background chat messages per second of context")
    p.add_argument("--response-filler-rate", type=float, help="unpredictable messages per second of response")
    p.add_argument("--cue-placement", choices=["early", "anywhere"], help="where in the context window a cue starts")
    p.add_argument("--paraphrase-rate", type=float, help="share of replies that relate to their cue without its word")
    p.add_argument("--invented-rate", type=float, help="share of chat cues made of invented memes / names to copy")
    p.add_argument("--scene-style", choices=["classic", "neon"], help="how the screen is drawn")
    p.add_argument("--paraphrase-every-cue", action=argparse.BooleanOptionalAction, default=None,
                   help="paraphrases also cover copypastas and invented memes / names (no reply repeats its marker)")
    p.add_argument("--template-rate", type=float, help="long templated comments (answering nothing) per second, everywhere")
    p.add_argument("--cue-recurrence", type=int, help="times each topic / chat thread / event kind recurs in a stream")
    p.add_argument("--positional-events", action=argparse.BooleanOptionalAction, default=None,
                   help="events are objects told apart by their place on screen (a marker word per object and place)")
    p.add_argument("--activity", action="store_true",
                   help="chat that goes quiet and bursts (hf_livechat.synthetic.ACTIVITY_KNOBS): episodes without a cue, "
                   "cues that draw many replies")
    p.add_argument("--quiet-rate", type=float, help="share of episodes without any cue (quiet response windows)")
    p.add_argument("--hype-share", type=float, help="share of cue keys that draw hype_responses replies")
    p.add_argument("--frame-size", type=int, default=224, help="side of the square video frames (even, >= 32)")
    p.add_argument("--fps", type=int, default=4, help="video frame rate")
    p.set_defaults(func=_make_stream)
    p = sub.add_parser("build-dataset", help="build a LiveChat dataset (Parquet + card) from VODs and chat logs")
    p.add_argument("manifest", help="JSONL/CSV manifest (chat, video, transcript, duration, streamer, category, vod_id, split; "
                   "a row without video is chat-only), a folder of x.mp4 + x.json [+ x.srt] or of chat logs alone, or one chat log")
    p.add_argument("--out", required=True, help="the dataset folder (a re-run resumes it)")
    p.add_argument("--feature-model", default=DEFAULT_FEATURE_MODEL, help="image model id/folder, 'efficientnet-lite0' (offline) or 'none'")
    p.add_argument("--frame-size", type=int, default=224, help="side of the square frames the feature model sees")
    p.add_argument("--keep-frames", action="store_true", help="also store the frames (JPEG) for end-to-end training")
    p.add_argument("--selection", choices=["busiest", "all"], default="busiest", help="clips from the busiest stretches of chat (the paper) or every window")
    p.add_argument("--input-span", choices=["context", "paper"], default="context", help="'paper' reproduces the published overlap leak")
    p.add_argument("--clip-stride", type=float, default=None, metavar="SECONDS",
                   help="with --selection all, a clip every SECONDS (default: the clip length, back to back); shorter "
                   "gives sliding clips: more examples from a short log, windows at every offset from an event")
    p.add_argument("--min-response-comments", type=int, default=1,
                   help="drop clips with fewer response comments; 0 keeps quiet windows, which teach the activity head when chat is silent")
    p.add_argument("--split-by", choices=["vod", "streamer"], default="vod", help="keep each VOD (or streamer) within one split")
    p.add_argument("--split-by-time", type=_time_shares, default=None, metavar="TRAIN[,VALIDATION]",
                   help="cut each VOD's clips in time order instead: 0.7 = first 70%% train, last 30%% test (one log "
                   "makes a benchmark); 0.8,0.1 adds a validation share")
    p.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    p.add_argument("--keep-all-chat", action="store_true", help="disable the chat filters")
    p.add_argument("--bad-records", choices=["raise", "skip"], default="raise", help="malformed chat records")
    p.add_argument("--on-error", choices=["skip", "raise"], default="skip", help="VODs that cannot be read")
    p.add_argument("--asr-model", default=None, help="Whisper checkpoint for VODs without a transcript file")
    p.add_argument("--asr-engine", choices=["transformers", "faster-whisper"], default="transformers", help="ASR back-end for VODs without a transcript")
    p.add_argument("--overwrite", action="store_true", help="delete the output folder and build anew instead of resuming")
    p.set_defaults(func=_build_dataset)
    p = sub.add_parser("read-chat", help="read a chat log (any supported format) and summarise it")
    p.add_argument("path", help="a chat log file")
    p.add_argument("--format", default=None, help="the log format (default: detected from the file)")
    p.add_argument("--errors", choices=["raise", "skip"], default="raise", help="stop at a malformed record, or skip and count it")
    p.add_argument("--filter", action="store_true", help="apply the LiveChat chat filters")
    p.add_argument("--head", type=int, default=3, help="print the first N messages")
    p.set_defaults(func=_read_chat)
    p = sub.add_parser("train-tokenizer", help="train a WordPiece chat tokenizer keeping emotes whole")
    p.add_argument("chat_logs", nargs="+", help="chat logs to learn the vocabulary from")
    p.add_argument("--out", required=True, help="folder for the tokenizer")
    p.add_argument("--vocab-size", type=int, default=8000, help="WordPiece vocabulary size")
    p.add_argument("--min-emote-count", type=int, default=5, help="emotes seen this often become whole tokens")
    p.set_defaults(func=_train_tokenizer)
