"""Small LiveChat clip datasets in the builder's exact schema, for training and evaluation tests."""

from pathlib import Path

import numpy as np
from datasets import Dataset

from hf_livechat.data.builders.livechat import clip_features


WORDS = ["pizza", "jazz", "otters", "boss", "goal", "storm", "bread", "mouse", "snow", "fire"]


def toy_rows(n_clips: int, feature_dim: int = 8, seed: int = 0, vod_prefix: str = "vod") -> list[dict]:
    """Clips whose response comments name a word that also appears in the transcript and the chat."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_clips):
        word = WORDS[i % len(WORDS)]
        start = 30.0 * i
        rows.append(
            {
                "clip_id": f"{vod_prefix}{i // 4}-{i}",
                "vod_id": f"{vod_prefix}{i // 4}",
                "streamer": f"s{i // 8}",
                "category": "test",
                "clip_index": i,
                "start": start,
                "context_end": start + 20,
                "end": start + 30,
                "input_end": start + 20,
                "has_video": True,
                "has_transcript": True,
                "frame_times": [start + k for k in range(20)],
                "transcript": f"let us talk about {word} now",
                "transcript_segments": [{"start": start, "end": start + 5, "text": f"let us talk about {word} now"}],
                "context_comments": [{"time": start + k, "author": f"u{k}", "text": f"hello {word}" if k == 3 else "hi", "emotes": []} for k in range(6)],
                "response_comments": [{"time": start + 21 + k, "author": f"v{k}", "text": f"{word} is great number {k}", "emotes": []} for k in range(3)],
                "video_features": rng.standard_normal((20, feature_dim)).astype(np.float32),
            }
        )
    return rows


def write_clip_dataset(folder: Path, splits: dict[str, int], feature_dim: int = 8) -> Path:
    """Writes `data/<split>/shard.parquet` folders that `load_dataset(folder)` reads."""
    for index, (split, n) in enumerate(splits.items()):
        shard = folder / "data" / split / "shard.parquet"
        shard.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(toy_rows(n, feature_dim, seed=index, vod_prefix=split), features=clip_features(feature_dim)).to_parquet(str(shard))
    return folder
