"""`hf-livechat live`: comment on a live stream as it plays."""

from __future__ import annotations


def _log_to(path):
    """Logs the run (INFO and up, the package's loggers) to ``path``; warnings still reach stderr."""
    import logging
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    package = logging.getLogger("hf_livechat")
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    to_stderr = logging.StreamHandler()
    to_stderr.setLevel(logging.WARNING)
    package.addHandler(to_file)
    package.addHandler(to_stderr)
    previous = package.level
    package.setLevel(logging.INFO)

    def undo():
        package.removeHandler(to_file)
        package.removeHandler(to_stderr)
        package.setLevel(previous)
        to_file.close()

    return undo


def _live(args):
    undo = _log_to(args.log_file) if args.log_file else None
    try:
        _run_live(args)
    finally:
        if undo is not None:
            undo()


def _run_live(args):
    from transformers import pipeline

    from ..pipelines.live_session import LiveOptions, make_poster, run_live, speaking_policy

    generate_kwargs = {}
    if args.num_candidates is not None:
        generate_kwargs.update(num_beams=args.num_candidates, num_return_sequences=args.num_candidates)
    if args.sample:
        if args.greedy:
            raise SystemExit("--sample and --greedy exclude each other")
        generate_kwargs.update(do_sample=True, top_p=0.9, num_beams=1, num_return_sequences=args.num_candidates or 4)
    if args.greedy:
        generate_kwargs.update(do_sample=False, num_beams=1, num_return_sequences=1)
    options = LiveOptions(
        interval=args.interval,
        when=args.when,
        min_gap=args.min_gap,
        max_silence=args.max_silence,
        activity_threshold=args.activity_threshold,
        rate_scale=args.rate_scale,
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
        post=args.post,
        bot_nick=args.bot_nick,
        post_rate=args.post_rate,
        dry_run=args.dry_run,
    )
    speaking_policy(options)  # a bad --when setting is told before the model loads
    make_poster(options)  # a bad --post setting or a missing token is told before the model loads
    commenter = pipeline("video-comment-generation", model=args.model, feature_model=args.feature_model)
    if args.quantize:
        from ..pipelines.quantization import quantize_decoder

        quantize_decoder(commenter.model, args.quantize)
    elif getattr(commenter.model.config, "decoder", None) is not None and commenter.device.type == "cpu":
        print("an LM decoder on the CPU: `--quantize int8 --sample --num-candidates 3` keeps a window near 0.8 s "
              "instead of about 3 s (docs/model.md, Serving an LM decoder on a CPU)")
    report = run_live(args.source, commenter, options)
    print(report.summary())
    if not report.stats.emitted:
        raise ValueError(f"no comment was generated: {report.frames_decoded} frames decoded from {args.source}")


def add_parsers(sub) -> None:
    p = sub.add_parser("live", help="comment on a live stream as it plays, with its live chat and live speech")
    p.add_argument("source", help="anything PyAV opens live: an HLS/RTMP/HTTP URL, a device, a file (--follow-source while it grows)")
    p.add_argument("--model", required=True, help="LiveChat model folder or Hub id")
    p.add_argument("--chat", default=None, help="twitch:CHANNEL (IRC), or a chat log (any supported format; --follow to tail it)")
    p.add_argument("--follow", action="store_true", help="tail the --chat log as it is written")
    p.add_argument("--irc-server", default=None, help="HOST:PORT of the IRC server for twitch:CHANNEL (default Twitch, TLS)")
    p.add_argument("--asr", default=None, help="Whisper model for live speech (CTranslate2 folder or size: faster-whisper; else transformers)")
    p.add_argument("--asr-engine", choices=["transformers", "faster-whisper"], default=None, help="ASR back-end (default: faster-whisper for CTranslate2 folders, else transformers)")
    p.add_argument("--interval", type=float, default=None, help="seconds of stream between windows (default 5; 2 with --when auto)")
    p.add_argument("--when", choices=["interval", "auto"], default="interval", help="interval: a comment every window; auto: when the model predicts a burst of chat, at its predicted rate")
    p.add_argument("--min-gap", type=float, default=2.0, metavar="S", help="with --when auto: seconds between two comments at least (default 2)")
    p.add_argument("--max-silence", type=float, default=30.0, metavar="S", help="with --when auto: seconds without a comment at most, 0 for no limit (default 30)")
    p.add_argument("--activity-threshold", type=float, default=1.5, help="with --when auto: speak above this multiple of the running median predicted activity (default 1.5)")
    p.add_argument("--rate-scale", type=float, default=1.0, help="with --when auto: comments per predicted chat comment while activity is high (default 1)")
    p.add_argument("--out", default="comments.jsonl", help="append each comment to this JSONL file")
    p.add_argument("--overlay", type=int, default=None, metavar="PORT", help="serve a danmaku overlay page on 127.0.0.1:PORT (OBS browser source)")
    p.add_argument("--follow-source", action="store_true", help="SOURCE is a file still being written (MPEG-TS, MKV or fragmented MP4)")
    p.add_argument("--idle-timeout", type=float, default=10.0, help="with --follow-source: seconds without growth that end the stream")
    p.add_argument("--speed", type=float, default=None, help="replay a recorded SOURCE as live at this multiple of real time")
    p.add_argument("--max-lag", type=float, default=1.0, help="drop a due window when more than this many seconds behind")
    p.add_argument("--num-candidates", type=int, default=None, help="beams per window, each a candidate (default 8)")
    p.add_argument("--repeat-penalty", type=float, default=None, help="penalty on repeating a recent comment (default 1.0)")
    p.add_argument("--greedy", action="store_true", help="greedy decoding, one candidate (no sampling)")
    p.add_argument("--sample", action="store_true", help="draw the candidates by nucleus sampling (top-p 0.9; --num-candidates of them, default 4) instead of beam search: cheaper than beams for an LM decoder")
    p.add_argument("--quantize", choices=["int8"], default=None, help="serve the decoder's linear layers in int8 on the CPU (dynamic quantization): for an LM decoder, about half the latency")
    p.add_argument("--feature-model", default=None, help="override the frame feature model named in the config")
    p.add_argument("--post", default=None, metavar="twitch:CHANNEL", help="post each comment into this Twitch channel as a bot (token from TWITCH_OAUTH_TOKEN)")
    p.add_argument("--bot-nick", default=None, help="with --post: the bot account's login name")
    p.add_argument("--post-rate", default="20/30", metavar="N/SECONDS", help="with --post: at most N messages in any SECONDS (default 20/30, Twitch's limit for a regular account); comments over it are dropped")
    p.add_argument("--dry-run", action="store_true", help="with --post: print what would be sent, send nothing")
    p.add_argument("--log-file", default=None, help="also log the run (connections, NOTICEs, posting) to this file")
    p.set_defaults(func=_live)
