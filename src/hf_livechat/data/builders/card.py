"""Dataset cards (README.md with YAML `configs`, the features schema and split sizes) of built datasets, so that
`load_dataset(folder)` and, once pushed, `load_dataset("org/name")` read them with the right splits and types.

`save_card` writes the part every builder shares; `write_dataset_card` is the LiveChat card."""

from __future__ import annotations

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
| frames | {fps:g} per second of the input span, features of `{feature_model}` ({feature_dim}) |
| input span | {input_span_text} |
| transcript | cues overlapping the input span, clipped to it |
| chat filters | {filters} |
| splits | by {split_by} (never by clip), ratios {split_ratios}, seed {seed} |

## Contents

| split | clips | VODs |
|---|---|---|
{split_rows}

Columns: `clip_id`, `vod_id`, `streamer`, `category`, `clip_index`, `start`/`context_end`/`end`/`input_end`
(seconds from the start of the VOD), `frame_times`, `video_features` (frames x dim), `transcript`,
`transcript_segments`, `context_comments` and `response_comments` (each `time`, `author`, `text`, `emotes`).

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
    )
    done = done_records(state)
    dims = {r.get("feature_dim") for r in done} - {None}
    body = CARD_BODY.format(
        clip_length=clips.clip_length,
        context_length=clips.context_length,
        response_length=clips.response_length,
        selection=selection,
        fps=clips.fps,
        feature_model=options.feature_model or "none",
        feature_dim=f"{dims.pop()}-d" if len(dims) == 1 else "no features",
        input_span_text=input_span_text,
        filters=chat_filters_text(options.filters),
        split_by=options.split_by,
        split_ratios=tuple(options.split_ratios),
        seed=options.seed,
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
            "feature_model": options.feature_model,
            "frame_size": options.frame_size,
            "fps": clips.fps,
            "clip_length": clips.clip_length,
            "context_length": clips.context_length,
            "input_span": clips.input_span,
        },
    )


def done_records(state: dict) -> list[dict]:
    """The build-state records of the VODs that have a shard."""
    return [r for r in state["vods"].values() if r["status"] == "done" and r["shard"]]


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
    splits = sorted({r["split"] for r in done})
    rows = [
        f"| {split} | {sum(r[unit] for r in done if r['split'] == split)} | {sum(1 for r in done if r['split'] == split)} |"
        for split in splits
    ]
    return "\n".join(rows) or "| (none) | 0 | 0 |"


def save_card(
    out_dir: Path, features, state: dict, body: str, *, unit: str, task_categories: list[str], tags: list[str], metadata: dict
) -> Path:
    """Writes `README.md` (atomically): YAML `configs` with one `data/<split>/*.parquet` glob per split, the features
    schema and split sizes in `dataset_info`, `metadata` under the `hf_livechat` key, then `body`."""
    done = done_records(state)
    splits = sorted({r["split"] for r in done})
    # Split sizes in bytes also key `datasets`' cache: without them, two builds in folders of the same name (or a
    # resumed build that grew) would load the cached copy of the first one.
    split_info = [
        {
            "name": split,
            "num_bytes": sum((out_dir / r["shard"]).stat().st_size for r in done if r["split"] == split),
            "num_examples": sum(r[unit] for r in done if r["split"] == split),
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
