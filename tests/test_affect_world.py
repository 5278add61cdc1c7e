"""The affect world: labels come from what is on screen, live comments voice that affect, the labelled set's features
do not give the label away, and its files are the ones `build-lcaffect` and `extract-lc-features` read."""

from __future__ import annotations

import json
import re
from collections import Counter

import av
import numpy as np
import pytest
from datasets import load_dataset

from hf_livechat.data.builders.manifest import read_manifest
from hf_livechat.data.chat import read_chat
from hf_livechat.synthetic.affect_world import (
    AFFECT_LINES,
    AFFECTS,
    REACTIONS,
    AffectWorldConfig,
    generate_affect_streams,
    generate_labelled_clips,
    make_affect_streams,
    make_labelled_clips,
    make_world,
    render_kind,
    split_games,
)
from hf_livechat.synthetic.vocabulary import EMOTE_IDS


@pytest.fixture(scope="module")
def world():
    return make_world(seed=5)


@pytest.fixture(scope="module")
def labelled(world):
    return generate_labelled_clips(world, streams_per_game=1, duration=120, seed=6)


def test_world_deals_every_kind_once_and_is_deterministic(world):
    kinds = [kind for game in world.games.values() for kind in game.values()]
    assert len(kinds) == len(set(kinds)) == 48
    assert all(set(game) == set(AFFECTS) for game in world.games.values())
    assert make_world(seed=5) == world
    assert make_world(seed=6) != world
    # The same scene in two colourings usually carries two affects: the pixels do not tell the affect.
    by_scene = {}
    for kind in kinds:
        by_scene.setdefault(kind.rpartition("-")[0], set()).add(world.affect_of(kind))
    assert np.mean([len(affects) > 1 for affects in by_scene.values()]) > 0.5


def test_render_kind_recolours_the_scene_and_rejects_unknown_kinds():
    base = render_kind("boss-rgb", 32, 0)
    assert np.array_equal(render_kind("boss-gbr", 32, 0), base[..., [1, 2, 0]])
    with pytest.raises(ValueError, match="unknown scene kind"):
        render_kind("boss-xyz", 32, 0)


def test_live_comments_voice_the_affect_of_the_event_on_screen(world):
    stream = generate_affect_streams(world, 1, 240, seed=2)[0]
    assert stream.screen, "a 4-minute stream has events"
    words = {affect: set(REACTIONS[affect]) for affect in AFFECTS}
    checked = 0
    for message in stream.chat:
        text = " ".join(w for w in message.text.split(" ") if w not in EMOTE_IDS)  # decorative emotes carry no affect
        affect = next((a for a, lines in words.items() if text in lines), None)
        if affect is None:
            continue
        # Every affect comment is written during (or just after) an event of that affect.
        owners = [a for e, a in zip(stream.screen, stream.affects) if e.start <= message.time <= e.end + 2.0]
        assert affect in owners, (message.time, message.text)
        checked += 1
    assert checked > 0.5 * len(stream.screen)
    for event in stream.screen:  # no comment names the scene
        assert not any(event.kind.split("-")[0] in m.text for m in stream.chat)


def test_labels_are_the_affect_of_the_scene_the_clip_shows(world, labelled):
    streams, clips = labelled
    by_vod = {s.vod_id: s for s in streams}
    for clip in clips:
        stream = by_vod[clip.vod_id]
        seconds = np.arange(clip.start, clip.end, 0.25)
        shown = {stream.scene_at(float(t)) for t in seconds} - {None}
        assert shown == {clip.kind}, "one event per clip, never a neighbour"
        assert clip.label == world.affect_of(clip.kind)
        assert AffectWorldConfig().clip_seconds[0] <= clip.end - clip.start <= AffectWorldConfig().clip_seconds[1] + 1e-6
        inside = sum(stream.scene_at(float(t)) == clip.kind for t in seconds) * 0.25
        assert inside >= 0.75


def test_labelled_splits_are_by_game(world, labelled):
    _, clips = labelled
    games = split_games(world, seed=6)
    assert Counter(games.values()) == {"train": 6, "validation": 2, "test": 4}
    train_kinds = {c.kind for c in clips if c.split == "train"}
    assert train_kinds.isdisjoint({c.kind for c in clips if c.split == "test"})
    assert all(c.split == games[c.game] for c in clips)


def test_ids_are_unique_and_say_nothing_about_the_label(labelled):
    _, clips = labelled
    ids = [c.id for c in clips]
    assert len(set(ids)) == len(ids)
    assert not any(affect in clip_id for clip_id in ids for affect in AFFECTS)


def test_text_voices_the_affect_only_sometimes(labelled):
    _, clips = labelled
    true = np.mean([c.text in AFFECT_LINES[c.label] for c in clips])
    assert 0.2 < true < 0.5, "text alone must not give the label away"


@pytest.fixture(scope="module")
def written(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("affect-world")
    streams = make_affect_streams(root / "streams", world, num_streams=2, duration=60, seed=1, size=32, progress=False)
    clips = make_labelled_clips(root / "labelled", world, duration=120, seed=6, size=32, progress=False)
    return streams, clips


def test_features_do_not_give_the_label_away(written):
    """Bag-of-words text + pooled acoustic/visual features: a linear model trained on the labelled training games
    stays far from the label on the test games (a leaked label or id would make it near perfect)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    _, manifest = written
    data = load_dataset("parquet", data_dir=str(manifest.parent / "data"))
    vectorizer = CountVectorizer().fit(data["train"]["text"])

    def inputs(split):
        rows = data[split].with_format("numpy")
        pooled = [np.concatenate([np.asarray(a).mean(0), np.asarray(v).mean(0)]) for a, v in
                  zip(rows["acoustic_features"], rows["visual_features"])]
        return np.hstack([vectorizer.transform(data[split]["text"]).toarray(), np.stack(pooled)]), np.asarray(data[split]["label"])

    x, y = inputs("train")
    x_test, y_test = inputs("test")
    scale = x.std(0) + 1e-6
    model = LogisticRegression(max_iter=2000).fit(x / scale, y)
    assert model.score(x_test / scale, y_test) < 0.65
    # The acoustic and visual features describe the clip, not its id: every step is finite and varies across clips.
    acoustic = np.stack([np.asarray(a).mean(0) for a in data["train"].with_format("numpy")["acoustic_features"]])
    assert np.isfinite(acoustic).all() and (acoustic.std(0) > 0).all()


def test_files_are_what_build_lcaffect_and_extract_lc_features_read(written, world):
    from hf_livechat.data.builders.v2lc_segments import LCAffectBuildOptions, build_lcaffect_dataset
    from hf_livechat.pipelines.lc_features import read_clips

    streams, manifest = written
    sources = read_manifest(streams)
    assert len(sources) == 2 and all(s.category in world.games for s in sources)
    messages = list(read_chat(sources[0].chat))
    assert messages and all(m.text for m in messages)
    with av.open(str(sources[0].video)) as container:
        assert container.streams.video[0].width == 32
    summary = build_lcaffect_dataset(streams, streams.parent / "segments", LCAffectBuildOptions(), progress=False)
    assert sum(summary.examples.values()) > 0

    clips, _ = read_clips(manifest)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert [c.id for c in clips] == [r["id"] for r in rows]
    data = load_dataset("parquet", data_dir=str(manifest.parent / "data"))
    assert sorted(i for split in data.values() for i in split["id"]) == sorted(r["id"] for r in rows)
    for clip in clips[:3]:  # the clip's frames show its event (the content the label names)
        truth = {r["id"]: r for r in map(json.loads, (manifest.parent / "truth.jsonl").read_text().splitlines())}[clip.id]
        source = json.loads((clip.video.with_suffix(".truth.json")).read_text())
        event = next(e for e in source["events"] if e["kind"] == truth["kind"] and e["start"] < clip.end and e["end"] > clip.start)
        middle = (max(event["start"], clip.start) + min(event["end"], clip.end)) / 2
        with av.open(str(clip.video)) as container:
            frame = next(f for f in container.decode(video=0) if f.time >= middle - 0.5).to_ndarray(format="rgb24")
        expected = render_kind(truth["kind"], 32, 0).astype(float)
        assert np.abs(frame.astype(float).mean((0, 1)) - expected.mean((0, 1))).max() < 40


def test_config_rejects_bad_knobs():
    with pytest.raises(ValueError, match="text_affect_rate"):
        AffectWorldConfig(text_affect_rate=0.8, text_misleading_rate=0.3)
    with pytest.raises(ValueError, match="clip_seconds"):
        AffectWorldConfig(clip_seconds=(0.5, 3))
    with pytest.raises(ValueError, match="num_games"):
        make_world(0, num_games=13)
    assert re.fullmatch(r"[a-z]+-(rgb|gbr|brg|bgr)", next(iter(make_world(0).games.values()))["joy"])
