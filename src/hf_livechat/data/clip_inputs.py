"""From dataset clip rows to `LiveChatProcessor` arguments, with modality ablation (torch-free).

Training collators, ranking evaluation, the `video-comment-generation` pipeline and live mode all feed rows to the
processor through this one function: a built clip's row, or a served window's (`data.windows.StreamContext.window`),
which has the same columns. `tests/pipelines/test_training_serving_parity.py` holds the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


MODALITIES = ("video", "transcript", "chat")


def check_ablation(ablate: Iterable[str] | str) -> frozenset[str]:
    ablate = frozenset([ablate] if isinstance(ablate, str) else ablate)
    unknown = ablate - set(MODALITIES)
    if unknown:
        raise ValueError(f"Unknown modalities to ablate {sorted(unknown)}; choose from {list(MODALITIES)}")
    return ablate


def clip_processor_inputs(
    rows: Sequence[Mapping],
    video_feature_dim: int | None = None,
    ablate: Iterable[str] | str = (),
    row_ablations: Sequence[Iterable[str]] | None = None,
) -> dict[str, list]:
    """Processor arguments (`video_features`, `transcript`, `chat`, `chat_end_time`) for a batch of clip rows.

    A clip without frames (`video_features` missing, `None` or empty, or `has_video` false: a chat-only VOD), and any
    clip when `"video"` is ablated, gets a `(0, video_feature_dim)` array; an absent transcript (`has_transcript`
    false, `transcript` None) or an ablated one is `""` and ablated chat `[]` (an absent modality, as the model sees a
    stream without audio or without chat). `ablate` removes modalities from every row, `row_ablations` (one
    collection per row) from single rows (modality dropout). `video_feature_dim` defaults to the rows' own; when no
    row has frames and no dimension is given (a chat-only dataset outside training), `video_features` is left out and
    the model sees no video for the whole batch. `chat_end_time` is each row's `context_end` (when every row has one:
    the activity head counts the context comments by age before it).
    """
    ablate = check_ablation(ablate)
    if row_ablations is not None:
        if len(row_ablations) != len(rows):
            raise ValueError(f"row_ablations has {len(row_ablations)} entries for {len(rows)} rows")
        removed = [ablate | check_ablation(extra) for extra in row_ablations]
    else:
        removed = [ablate] * len(rows)
    # Modalities a row's source never had (rows built before these flags, and served windows, have none).
    missing = [frozenset(name for name in ("video", "transcript") if row.get(f"has_{name}") is False) for row in rows]
    removed = [gone | absent for gone, absent in zip(removed, missing)]
    if video_feature_dim is None:
        # A (0, D) array of a chat-only clip also tells D.
        shapes = (np.shape(r["video_features"]) for r in rows if r.get("video_features") is not None)
        video_feature_dim = next((shape[-1] for shape in shapes if len(shape) == 2 and shape[-1]), None)
    inputs: dict[str, list] = {
        "transcript": ["" if "transcript" in gone else row.get("transcript") or "" for row, gone in zip(rows, removed)],
        "chat": [[] if "chat" in gone else list(row.get("context_comments") or []) for row, gone in zip(rows, removed)],
    }
    ends = [row.get("context_end") for row in rows]
    if rows and None not in ends:
        inputs["chat_end_time"] = [float(end) for end in ends]
    if video_feature_dim is not None:
        no_video = np.zeros((0, video_feature_dim), dtype=np.float32)
        video = []
        for row, gone in zip(rows, removed):
            features = None if "video" in gone else row.get("video_features")
            features = no_video if features is None else np.asarray(features, dtype=np.float32)
            video.append(features.reshape(-1, video_feature_dim) if features.size else no_video)
        inputs["video_features"] = video
    return inputs
