"""What makes a VOD build resumable: the options base every VOD builder extends, its fingerprint, and the build state
(`build_state.json`, one record per VOD) with the per-process parts a multi-process build leaves behind. No torch."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..chat import ChatFilters
from .shards import atomic_write_text


STATE_FILE = "build_state.json"
# Each process of a multi-process build records its own VODs in a part; the main process merges them into STATE_FILE.
STATE_PART_GLOB = "build_state.part-*.json"


def state_part_name(rank: int, world: int) -> str:
    return f"build_state.part-{rank}-of-{world}.json"


@dataclass
class VodBuildOptions:
    """The options every VOD -> Parquet build shares (a restart must use the same options: see `fingerprint`).
    A builder's options extend it with what decides its rows (the clip or segment windowing, ASR, ...).

    Attributes:
        filters: chat clean-up (`ChatFilters()`: the LiveChat setting) applied before comments are counted.
        feature_model: image model id or folder for frame features (`"efficientnet-lite0"`: the offline backbone);
            `None` stores no features.
        frame_size: side of the square frames decoded and given to the feature model (224 for ImageNet backbones;
            smaller is faster).
        split_by: `"vod"` or `"streamer"` (never by example); an explicit `split` in the manifest wins.
        split_ratios: train / validation / test shares.
        seed: seed of the split assignment.
        bad_records: `"raise"` or `"skip"` malformed chat records (skips are counted in the summary).
        split_by_time: instead of whole VODs, cut each VOD's examples in time order: `(train,)` puts the first
            `train` share in train and the rest in test, `(train, validation)` the next `validation` share in
            validation (e.g. `(0.7,)`: a benchmark from one log). A VOD with an explicit `split` in the manifest
            stays whole.
    """

    filters: ChatFilters = field(default_factory=ChatFilters)
    feature_model: str | None = None
    frame_size: int = 224
    split_by: str = "vod"
    split_ratios: Sequence[float] = (0.8, 0.1, 0.1)
    seed: int = 0
    bad_records: str = "raise"
    split_by_time: Sequence[float] | None = None

    def __post_init__(self):
        if self.split_by_time is not None:
            shares = tuple(float(x) for x in self.split_by_time)
            if not 1 <= len(shares) <= 2 or min(shares) <= 0 or sum(shares) >= 1:
                raise ValueError(
                    "split_by_time must be (train,) or (train, validation): positive shares summing to less than 1 "
                    f"(the rest is test), got {tuple(self.split_by_time)}"
                )
            self.split_by_time = shares

    def fingerprint(self) -> str:
        return options_fingerprint(self)


def _json_ready(value):
    # Sets (e.g. the bot names of `ChatFilters`) have no stable order: sort them so the fingerprint is stable.
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    return value


# Options added after builds were made: at their default they are left out of the fingerprint, so that a build made
# before they existed still resumes.
_LATER_OPTIONS = {"split_by_time": None}


def options_fingerprint(options) -> str:
    """A short hash of a dataclass of build options: a restart must use options with the same fingerprint."""
    payload = _json_ready(asdict(options))
    for name, default in _LATER_OPTIONS.items():
        if name in payload and payload[name] == default:
            del payload[name]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_build_state(out_dir: str | os.PathLike, fingerprint: str) -> dict:
    """The build state of `out_dir`: `build_state.json` merged with the per-process parts a multi-process run leaves
    behind (a VOD recorded as done in any of them counts as done). Refuses a folder built with other options."""
    out_dir = Path(out_dir)
    state = {"fingerprint": fingerprint, "vods": {}}
    paths = [out_dir / STATE_FILE, *sorted(out_dir.glob(STATE_PART_GLOB))]
    for path in (p for p in paths if p.is_file()):
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("fingerprint") != fingerprint:
            raise ValueError(
                f"{out_dir} holds a build made with other options (fingerprint {stored.get('fingerprint')} != "
                f"{fingerprint}); use a new --out folder or --overwrite"
            )
        for vod_id, record in stored["vods"].items():
            if record["status"] == "done" or vod_id not in state["vods"]:
                state["vods"][vod_id] = record
    return state


def save_build_state(out_dir: str | os.PathLike, state: dict, name: str = STATE_FILE) -> None:
    atomic_write_text(Path(out_dir) / name, json.dumps(state, indent=1, sort_keys=True))


def fold_state_parts(out_dir: str | os.PathLike, fingerprint: str) -> dict:
    """Folds every per-process record (this run's, or those of an earlier run cut short) into `build_state.json`
    and removes the parts; returns the merged state."""
    state = load_build_state(out_dir, fingerprint)
    save_build_state(out_dir, state)
    for part in Path(out_dir).glob(STATE_PART_GLOB):
        part.unlink()
    return state
