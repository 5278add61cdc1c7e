"""Dataset cards (README.md with YAML `configs`, the features schema and split sizes) of built datasets, so that
`load_dataset(folder)` and, once pushed, `load_dataset("org/name")` read them with the right splits and types.

`save_card` writes the part every builder shares; `write_dataset_card` is the LiveChat card."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from huggingface_hub import DatasetCard, DatasetCardData


CARD_BODY = """
# LiveChat clips

Built with [hf-livechat](https://github.com/hf-livechat/hf-livechat) `build-dataset`. Each row is a {clip_length:.0f} s
clip of a stream: a {context_length:.0f} s **context window** (inputs) followed by a {response_length:.0f} s
**response window** whose comments are the candidate targets.

## Clip protocol

| | |
|---|---|
| selection | {selection} |
| frames | {frames_text} |
| input span | {input_span_text} |
| transcript | cues overlapping the input span, clipped to it |
| chat filters | {filters} |
| splits | {splits_text} |
| inputs | {inputs_text} |

## Contents

| split | clips | VODs |
|---|---|---|
{split_rows}

Columns: `clip_id`, `vod_id`, `streamer`, `category`, `clip_index`, `start`/`context_end`/`end`/`input_end`
(seconds from the start of the VOD), `has_video`, `has_transcript`, `frame_times`, `video_features` (frames x dim,
when frame features were extracted), `transcript`, `transcript_segments`, `context_comments` and `response_comments`
(each `time`, `author`, `text`, `emotes`).

An absent input is marked, never filled in: a clip of a VOD built from its chat log alone has `has_video` false, no
`frame_times` and 0 frames of `video_features`; a VOD without a transcript (no file, no ASR) has `has_transcript`
false and `transcript` null, while an empty `transcript` with `has_transcript` true means nobody spoke in the window.

```python
from datasets import load_dataset
dataset = load_dataset("{path}")
```
"""


def write_dataset_card(out_dir: Path, options, features, state: dict) -> Path:
    """The card of a LiveChat build (`BuildOptions`, clip schema, build state)."""
    clips = options.clips
    input_span_text = (
        "the context window only: no frame or transcript cue lies past its end"
        if clips.input_span == "context"
        else "the whole clip, as the published LiveChat pipeline (inputs overlap the response window: a leak)"
    )
    selection = (
        f"the {clips.num_stretches} busiest {clips.stretch_length / 60:g}-minute stretches of the chat histogram per VOD, "
        f"{clips.clips_per_stretch} clips each"
        if clips.selection == "busiest"
        else "every consecutive clip"
        if clips.stride == clips.clip_length
        else f"a clip starting every {clips.stride:g} s (sliding, overlapping clips; with a time split, the clips that "
        "overlap the next split are dropped)"
    )
    done = done_records(state)
    dims = {r.get("feature_dim") for r in done} - {None}
    notes = Counter()
    for record in done:
        notes.update(record.get("notes") or {})
    vods = len(done)
    with_video = vods - notes["vods_without_video"]
    # A build whose VODs are all chat logs stores no frames: the card names no frame model for training to inherit.
    feature_model = options.feature_model if with_video else None
    frames_text = (
        f"{clips.fps:g} per second of the input span, features of `{feature_model or 'none'}` "
        + (f"({dims.pop()}-d)" if len(dims) == 1 else "(no features)")
        if with_video or not vods
        else "none: every VOD is a chat log without its video"
    )
    inputs_text = (
        f"video in {with_video} of {vods} VODs (the others: chat log only, clips cut on the "
        f"chat's clock), a transcript in {vods - notes['vods_without_transcript'] - notes['vods_without_audio']} of {vods}"
    )
    body = CARD_BODY.format(
        clip_length=clips.clip_length,
        context_length=clips.context_length,
        response_length=clips.response_length,
        selection=selection,
        frames_text=frames_text,
        input_span_text=input_span_text,
        filters=chat_filters_text(options.filters),
        splits_text=splits_text(options, "clip"),
        inputs_text=inputs_text,
        split_rows=split_table(done, "clips"),
        path=str(out_dir),
    )
    return save_card(
        out_dir,
        features,
        state,
        body,
        unit="clips",
        task_categories=["text-generation"],
        tags=["live-comments", "danmaku", "twitch", "video", "hf-livechat"],
        # Read back by `hf-livechat train`, so that the model knows which image model its frame features need.
        metadata={
            "feature_model": feature_model,
            "frame_size": options.frame_size,
            "fps": clips.fps,
            "clip_length": clips.clip_length,
            "clip_stride": clips.stride,
            "context_length": clips.context_length,
            "input_span": clips.input_span,
        },
    )


def done_records(state: dict) -> list[dict]:
    """The build-state records of the VODs that have a shard."""
    return [r for r in state["vods"].values() if r["status"] == "done" and (r.get("shards") or r.get("shard"))]


def splits_text(options, unit: str) -> str:
    """How the examples were split, for the protocol table."""
    if options.split_by_time:
        shares = options.split_by_time
        parts = [f"first {shares[0]:.0%} train"]
        if len(shares) == 2:
            parts.append(f"next {shares[1]:.0%} validation")
        parts.append(f"last {1 - sum(shares):.0%} test")
        return f"each VOD's {unit}s cut in time order: " + ", ".join(parts) + " (a VOD with a split in the manifest stays whole)"
    return f"by {options.split_by} (never by {unit}), ratios {tuple(options.split_ratios)}, seed {options.seed}"


def _shards(done: list[dict], unit: str) -> list[tuple[str, str, int]]:
    from .vod_builder import record_shards

    return [shard for record in done for shard in record_shards(record, unit)]


def chat_filters_text(filters) -> str:
    """`ChatFilters` in words, for the protocol table."""
    return ", ".join(
        text
        for text, on in (
            ("drop empty", filters.drop_empty),
            ("drop !commands", filters.drop_commands),
            (f"drop bots ({', '.join(sorted(filters.drop_bots))})", bool(filters.drop_bots)),
            (f"drop repeats within {filters.drop_duplicates} s", filters.drop_duplicates is not None),
            (f"@mentions -> {filters.replace_mentions}", filters.replace_mentions is not None),
            ("drop URLs", filters.drop_urls),
        )
        if on
    ) or "none"


def split_table(done: list[dict], unit: str) -> str:
    """Markdown rows `| split | rows | VODs |` (`unit` is the record key counting a VOD's rows)."""
    shards = _shards(done, unit)
    rows = [
        f"| {split} | {sum(n for s, _, n in shards if s == split)} | {sum(1 for s, _, _ in shards if s == split)} |"
        for split in sorted({s for s, _, _ in shards})
    ]
    return "\n".join(rows) or "| (none) | 0 | 0 |"


def save_card(
    out_dir: Path, features, state: dict, body: str, *, unit: str, task_categories: list[str], tags: list[str], metadata: dict
) -> Path:
    """Writes `README.md` (atomically): YAML `configs` with one `data/<split>/*.parquet` glob per split, the features
    schema and split sizes in `dataset_info`, `metadata` under the `hf_livechat` key, then `body`."""
    shards = _shards(done_records(state), unit)
    splits = sorted({s for s, _, _ in shards})
    # Split sizes in bytes also key `datasets`' cache: without them, two builds in folders of the same name (or a
    # resumed build that grew) would load the cached copy of the first one.
    split_info = [
        {
            "name": split,
            "num_bytes": sum((out_dir / path).stat().st_size for s, path, _ in shards if s == split),
            "num_examples": sum(n for s, _, n in shards if s == split),
        }
        for split in splits
    ]
    total_bytes = sum(info["num_bytes"] for info in split_info)
    card_data = DatasetCardData(
        configs=[{"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}/*.parquet"} for s in splits]}],
        dataset_info={"features": features._to_yaml_list(), "splits": split_info, "download_size": total_bytes, "dataset_size": total_bytes},
        task_categories=task_categories,
        tags=tags,
        hf_livechat=metadata,
    )
    card = DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")
    path = out_dir / "README.md"
    tmp = path.with_name("README.md.tmp")
    card.save(tmp)
    tmp.replace(path)
    return path
