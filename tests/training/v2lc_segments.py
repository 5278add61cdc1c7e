"""A small segment dataset in `build-lcaffect`'s layout (data/<split>/<vod>.parquet), whose frames and comments both
depend on a hidden topic per segment, so that a V2LC model can learn the video -> comment mapping in seconds."""

from pathlib import Path

import numpy as np

from hf_livechat.data.builders.shards import write_parquet_shard
from hf_livechat.data.builders.v2lc_segments import segment_features


TOPIC_WORDS = [
    ["goal", "score", "striker", "net"], ["boss", "dragon", "sword", "fight"], ["cake", "oven", "flour", "bake"],
    ["rain", "storm", "cloud", "thunder"], ["car", "race", "engine", "lap"], ["cat", "kitten", "meow", "paw"],
    ["guitar", "song", "chord", "drum"], ["rocket", "moon", "launch", "orbit"],
]  # fmt: skip
FILLER = ["lol", "hi", "chat", "ok", "wow"]


def write_segment_dataset(folder: Path, vods: dict[str, list[str]], segments_per_vod: int = 12, feature_dim: int = 8,
                          frames: int = 8, seed: int = 0) -> Path:
    """`vods`: split -> VOD ids. Returns the dataset folder."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).normal(size=(len(TOPIC_WORDS), feature_dim)) * 2
    features = segment_features(feature_dim)
    for split, vod_ids in vods.items():
        for vod in vod_ids:
            rows = []
            for index in range(segments_per_vod):
                topic = int(rng.integers(len(TOPIC_WORDS)))
                comments = []
                for k in range(int(rng.integers(3, 7))):
                    words = list(rng.choice(TOPIC_WORDS[topic], 2)) + list(rng.choice(FILLER, 1))
                    comments.append({"time": 8.0 * index + k, "author": f"u{k}", "text": " ".join(rng.permutation(words)), "emotes": []})
                rows.append({
                    "segment_id": f"{vod}-{index}", "vod_id": vod, "streamer": "s", "category": "c",
                    "start": 8.0 * index, "end": 8.0 * index + 8, "frame_times": [8.0 * index + t for t in range(frames)],
                    "num_comments": len(comments), "comments": comments,
                    "video_features": (centres[topic] + 0.5 * rng.normal(size=(frames, feature_dim))).astype(np.float32),
                })  # fmt: skip
            write_parquet_shard(rows, features, folder / "data" / split / f"{vod}.parquet")
    return folder
