"""LiveChat dataset build throughput: frames/s of 1 fps decoding, of frame features, and of the whole builder.

    python bench/bench_build.py [--seconds 120] [--frame-size 224] [--batch-size 64] [--device cpu|cuda]
                                [--feature-model PATH_OR_ID] [--source-fps 4] [--video-size 224]
    python bench/bench_build.py --smoke     # a 60 s stream at 32 px, batch 8: seconds, to show it runs

A generated stream (`hf_livechat.synthetic.make_streams`: H.264 video at --source-fps, AAC audio, SRT, chat JSON)
is built three ways:

- decode: `iter_frames_1fps` over the whole video (PyAV, --video-size frames scaled to --frame-size);
- features: `FrameFeatureExtractor` on those frames (default: the real offline EfficientNet-Lite0 from
  `hf_livechat.data.backbones.default_offline_backbone()`; bf16 on GPU, fp32 on CPU);
- builder: `build_livechat_dataset` on the stream's manifest (every 30 s clip kept, frame features, Parquet shard);
  it decodes and encodes only the clips' 20 s context windows, so it covers 1.5 s of video per frame.

"video h / h" is hours of video processed per hour of compute (at 1 frame per second of video, the frames/s of the
decode and feature rows); "438 h takes" is how many hours the LiveChat paper's 438 hours of video would take at that
rate. The synthetic video is low-motion and, by default, small and at 4 fps, so its decode cost is a lower bound:
real Twitch VODs (720p-1080p at 30-60 fps) decode many more pixels per sampled frame (try --source-fps 30
--video-size 720).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hf_livechat.data.backbones import default_offline_backbone
from hf_livechat.data.builders.livechat import BuildOptions, build_livechat_dataset
from hf_livechat.data.clips import ClipConfig
from hf_livechat.data.features import FrameFeatureExtractor
from hf_livechat.data.media import iter_frames_1fps
from hf_livechat.synthetic import MediaSpec, make_streams


PAPER_HOURS = 438  # hours of video in the LiveChat dataset
# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"seconds": 60.0, "frame_size": 32, "batch_size": 8, "source_fps": 2}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def decode(video: Path, frame_size: int) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    frames = [frame for _, frame in iter_frames_1fps(video, size=(frame_size, frame_size))]
    return np.stack(frames), time.perf_counter() - start


def extract(extractor: FrameFeatureExtractor, frames: np.ndarray) -> float:
    extractor(frames[: extractor.batch_size])  # warm-up: kernels, allocator, cudnn autotuning
    synchronize(extractor.device)
    start = time.perf_counter()
    features = extractor(frames)
    synchronize(extractor.device)
    assert features.shape == (len(frames), extractor.feature_dim)
    return time.perf_counter() - start


def build(manifest: Path, out_dir: Path, extractor: FrameFeatureExtractor, frame_size: int) -> tuple[int, float, float]:
    """Builds the dataset; returns (frames encoded, video seconds, wall seconds)."""
    frames_seen = 0

    def counting_encoder(frames: np.ndarray) -> np.ndarray:
        nonlocal frames_seen
        frames_seen += len(frames)
        return extractor(frames)

    options = BuildOptions(clips=ClipConfig(selection="all"), frame_size=frame_size)
    start = time.perf_counter()
    summary = build_livechat_dataset(manifest, out_dir, options, on_error="raise", frame_encoder=counting_encoder, progress=False)
    synchronize(extractor.device)
    return frames_seen, summary.hours * 3600, time.perf_counter() - start


def row(name: str, video_seconds: float, frames: int, seconds: float) -> str:
    speed = video_seconds / seconds  # seconds of video per second = hours of video per hour
    return (
        f"| {name:<18} | {video_seconds:>7.0f} | {frames:>6} | {seconds:>7.2f} | {frames / seconds:>8.1f} "
        f"| {speed:>11.1f} | {PAPER_HOURS / speed:>11.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the generated stream")
    parser.add_argument("--frame-size", type=int, default=224, help="side of the decoded square frames")
    parser.add_argument("--batch-size", type=int, default=64, help="frames per forward pass")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--feature-model", default=None, help="image model id or folder (default: offline EfficientNet-Lite0)")
    parser.add_argument("--source-fps", type=int, default=4, help="frame rate of the generated video")
    parser.add_argument("--video-size", type=int, default=None, help="side of the generated video (default: --frame-size)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()

    device = torch.device(args.device)
    model = args.feature_model or str(default_offline_backbone())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = MediaSpec(fps=args.source_fps, size=args.video_size or args.frame_size)
        manifest = make_streams(tmp / "streams", num_streams=1, duration=args.seconds, spec=spec, progress=False)
        video = next((tmp / "streams").glob("*.mp4"))
        extractor = FrameFeatureExtractor(model, device=device, batch_size=args.batch_size, input_size=(args.frame_size,) * 2)
        print(
            f"{os.path.basename(model.rstrip('/'))} ({extractor.feature_dim}-d) on {device} {extractor.dtype}, batch "
            f"{args.batch_size}, {args.frame_size} px; video {args.seconds:.0f} s, {spec.size} px at {args.source_fps} fps, "
            f"torch threads {torch.get_num_threads()}"
        )

        frames, decode_seconds = decode(video, args.frame_size)
        feature_seconds = extract(extractor, frames)
        built_frames, video_seconds, build_seconds = build(manifest, tmp / "dataset", extractor, args.frame_size)

    print()
    print(f"| {'stage':<18} | {'video s':>7} | {'frames':>6} | {'seconds':>7} | {'frames/s':>8} | {'video h / h':>11} | {'438 h takes':>11} |")
    print(f"|{'-' * 20}|{'-' * 9}|{'-' * 8}|{'-' * 9}|{'-' * 10}|{'-' * 13}|{'-' * 13}|")
    print(row("decode (1 fps)", len(frames), len(frames), decode_seconds))
    print(row("features", len(frames), len(frames), feature_seconds))
    print(row("decode + features", len(frames), len(frames), decode_seconds + feature_seconds))
    print(row("builder", video_seconds, built_frames, build_seconds))
    print()
    total = decode_seconds + feature_seconds
    print(f"time share: decoding {decode_seconds / total:.0%}, feature extraction {feature_seconds / total:.0%}")
    print("('438 h takes' is in hours of compute)")


if __name__ == "__main__":
    main()
