"""The family of worlds (`hf_livechat.synthetic.WORLD_VARIANTS`): each variant's knob has its effect, every variant
still gives each modality about a third of the cues and the `livechat` protocol a candidate set for every clip, and
the first four worlds are what they were before the later knobs existed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter

import av
import numpy as np
import pytest

from hf_livechat.synthetic import MODALITIES, WORLD_VARIANTS, WorldConfig, generate_world
from hf_livechat.synthetic.vocabulary import (
    CHAT_THREADS,
    DECORATIVE_EMOTES,
    EVENT_KINDS,
    EVENT_OBJECTS,
    EVENT_PLACES,
    FILLER_CHAT,
    FILLER_SPEECH,
    EVENT_HUBBUB,
    POSITIONAL_KINDS,
    POSITIONAL_MARKERS,
    QUESTIONS,
    TEMPLATE_COMMENTS,
    TOPIC_CATEGORY,
    positional_parts,
)
from hf_livechat.synthetic.writer import PHASES, MediaSpec, scene_image, write_stream

SMALL = MediaSpec(fps=2, size=64)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _world(name: str, num_streams: int = 12, duration: float = 480, seed: int = 0, **changes):
    return generate_world(num_streams, duration, seed, config=dataclasses.replace(WORLD_VARIANTS[name], **changes))


def _response_window(stream):
    """(message, origin) pairs of the response windows."""
    return [(m, o) for m, o in zip(stream.chat, stream.origins)
            if o.episode is not None and m.time >= stream.episodes[o.episode].context_end]


# -- the first four worlds do not move -------------------------------------------------------------------------------
# sha256 of the ground-truth logs plus speech of generate_world(2, 150, seed=5) per variant, taken before the knobs
# paraphrase_every_cue, template_rate, cue_recurrence and positional_events existed.
DIGESTS = {
    "quickstart": "512307c3bad4cacbc1c17cde6aaa2fe9ad8b52810902df448da7f5ef93110e2d",
    "noisy": "d83ff4605ef3891ba6aa1e1d5c39f8a0cb84582f2de6108539d551ff1383e0a8",
    "overlap": "0b6dd185992ce2302952072a77b06171f2f070cd651a21d391935e561099e25d",
    "copy": "55c4506e198c1906b0e6db6684a0ec29ec7c1218064ad5ffd81058ead9b20a72",
}
# sha256 of the classic scenes, their neon style and a gameplay frame (64 px, every phase), from the same time.
SCENES_DIGEST = "d97b11965bca19cfd83208d9f5841f6ce9ea320cdb04acfe68c70f42068a2285"


@pytest.mark.parametrize("name", list(DIGESTS))
def test_the_first_four_worlds_are_unchanged(name):
    world = generate_world(2, 150, seed=5, config=WORLD_VARIANTS[name])
    log = [{**s.ground_truth(), "speech": [[line.start, line.end, line.text] for line in s.speech]} for s in world]
    assert hashlib.sha256(json.dumps(log, sort_keys=True).encode()).hexdigest() == DIGESTS[name]


def test_the_classic_scenes_are_unchanged():
    from hf_livechat.synthetic.writer import gameplay_scene, neon

    digest = hashlib.sha256()
    for kind in EVENT_KINDS:
        for phase in range(4):
            digest.update(scene_image(kind, 64, phase).tobytes())
            digest.update(neon(scene_image(kind, 64, phase), phase).tobytes())
    digest.update(gameplay_scene(64, 1, 7).tobytes())
    assert digest.hexdigest() == SCENES_DIGEST


def test_the_new_knobs_default_to_the_old_world():
    config = WorldConfig()
    assert (config.paraphrase_every_cue, config.template_rate, config.cue_recurrence, config.positional_events) == (
        False, 0.0, 1, False)
    assert list(WORLD_VARIANTS)[:4] == ["quickstart", "noisy", "overlap", "copy"]  # bench seeds are their indices


def test_the_cli_knows_every_variant_and_knob():
    from hf_livechat.cli.data import WORLD_KNOBS, WORLD_VARIANTS_NAMES

    assert WORLD_VARIANTS_NAMES == tuple(WORLD_VARIANTS)
    fields = {field.name for field in dataclasses.fields(WorldConfig)}
    new = {"paraphrase_every_cue", "template_rate", "cue_recurrence", "positional_events"}
    assert new <= set(WORLD_KNOBS) <= fields


@pytest.mark.parametrize("kwargs", [{"cue_recurrence": 0}, {"cue_recurrence": 7}, {"template_rate": -0.1}])
def test_bad_new_knobs_are_rejected(kwargs):
    with pytest.raises(ValueError):
        WorldConfig(**kwargs)


# -- every world stays fair ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(WORLD_VARIANTS))
def test_every_world_cues_each_modality_about_equally_and_builds_livechat_candidates(name):
    from hf_livechat.data.chat import ChatFilters
    from hf_livechat.evaluation.candidates import build_candidates

    world = _world(name, num_streams=24, seed=list(WORLD_VARIANTS).index(name))
    cues = Counter(cue.modality for s in world for e in s.episodes for cue in e.cues)
    total = sum(cues.values())
    for modality in MODALITIES:
        assert 0.26 <= cues[modality] / total <= 0.41, (modality, cues)
    rows = []
    for stream in world:
        kept = list(ChatFilters().apply(stream.chat))
        for episode in stream.episodes:
            speech = [line.text for line in stream.speech
                      if line.start < episode.context_end and line.end > episode.start]
            rows.append({
                "vod_id": stream.vod_id,
                "transcript": " ".join(speech),
                "context_comments": [m.text for m in kept if episode.start <= m.time < episode.context_end],
                "response_comments": [m.text for m in kept if episode.context_end <= m.time < episode.end],
            })
    sets = build_candidates(rows, protocol="livechat", seed=0)
    assert len(sets) == len(rows) and not sets.skipped


# -- related: replies name a related word, never the cue's own -------------------------------------------------------
def test_related_replies_never_repeat_their_marker_for_any_kind_of_cue():
    # invented memes and greetings too, when the world has them
    for world in (_world("related", seed=4), _world("related", num_streams=6, seed=5, invented_rate=0.6)):
        replies = [(m.text, o.cue) for s in world for m, o in zip(s.chat, s.origins) if o.role == "response"]
        kinds = Counter(
            c.modality if c.modality != "chat" else
            "question" if c.key in QUESTIONS else c.key.split(":")[0] if ":" in c.key else "copypasta"
            for _, c in replies
        )
        assert len(kinds) >= 4, kinds
        for text, cue in replies:
            assert cue.marker.lower() not in _words(text), (text, cue)
    assert {"meme", "greet"} <= set(kinds)
    # the copypasta's shape is kept: an associated word "gang rise up"
    copypastas = [m.text for s in _world("related", seed=4) for m, o in zip(s.chat, s.origins)
                  if o.role == "response" and o.cue.key in CHAT_THREADS and o.cue.key not in QUESTIONS]
    shapes = [[word for word in text.split(" ") if word not in DECORATIVE_EMOTES] for text in copypastas]
    assert shapes and all("gang" in words or len(set(words)) == 1 for words in shapes)


# -- prior: long templated comments everywhere, answering nothing ----------------------------------------------------
def test_prior_world_fills_about_40_percent_of_the_response_windows_with_templates(tmp_path):
    from hf_livechat.synthetic.truth import comment_cue_labels, response_label_counts

    world = _world("prior", seed=5)
    response = [(m, o) for s in world for m, o in _response_window(s)]
    templated = [(m, o) for m, o in response if m.text in TEMPLATE_COMMENTS]
    assert 0.3 <= len(templated) / len(response) <= 0.5
    assert all(o.role == "filler" and o.cue is None for _, o in templated)
    assert all(6 <= len(text.split()) <= 12 for text in TEMPLATE_COMMENTS)
    # in the context windows too, in most episodes, and never one the episode's context just held
    for stream in world:
        chat = list(zip(stream.chat, stream.origins))
        with_template = 0
        for episode in stream.episodes:
            context = {m.text for m, _ in chat if episode.start <= m.time < episode.context_end}
            replies = {m.text for m, _ in chat if episode.context_end <= m.time < episode.end}
            with_template += bool(context & set(TEMPLATE_COMMENTS))
            assert not replies & context & set(TEMPLATE_COMMENTS)
        assert with_template >= 0.8 * len(stream.episodes)
    # templates share no word, so one the context did not hold is no closer to it than a reply
    for i, first in enumerate(TEMPLATE_COMMENTS):
        for second in TEMPLATE_COMMENTS[i + 1 :]:
            assert not _words(first) & _words(second)
    # the truth log labels them filler
    stream = world[0]
    write_stream(stream, tmp_path, SMALL)
    label_of = comment_cue_labels(tmp_path)
    for message, origin in _response_window(stream):
        if message.text in TEMPLATE_COMMENTS:
            row = {"vod_id": stream.vod_id, "start": stream.episodes[origin.episode].start}
            assert label_of(row, message.text) == "filler"
    counts = response_label_counts(tmp_path)
    assert 0.25 <= counts["filler"] / sum(counts.values()) <= 0.55


# -- recurring: the same cue comes back within a stream ---------------------------------------------------------------
def test_recurring_world_brings_each_cue_back_within_a_stream():
    uses = Counter()
    for stream in _world("recurring", seed=6):
        per_cue = Counter((cue.modality, cue.key) for e in stream.episodes for cue in e.cues)
        uses.update(per_cue.values())
        assert {modality for modality, _ in per_cue if per_cue[modality, _] >= 2} == set(MODALITIES)
    assert max(uses) == 3
    cues = sum(uses.values())
    assert (uses[2] + uses[3]) / cues >= 0.7  # most cues are used two or three times
    for stream in _world("quickstart", num_streams=4, seed=6):  # where each is used once
        keys = [(cue.modality, cue.key) for e in stream.episodes for cue in e.cues if cue.modality != "video"]
        assert len(keys) == len(set(keys))


# -- position: the same object at different places is a different event ---------------------------------------------
def test_positional_markers_are_one_word_per_object_and_place_and_belong_to_no_other_cue():
    assert len(POSITIONAL_KINDS) == len(EVENT_OBJECTS) * len(EVENT_PLACES) == len(set(POSITIONAL_MARKERS.values()))
    other = set(EVENT_KINDS) | set(TOPIC_CATEGORY) | set(CHAT_THREADS) | set().union(*map(_words, QUESTIONS.values()))
    background = set().union(*map(_words, FILLER_CHAT + FILLER_SPEECH + EVENT_HUBBUB + TEMPLATE_COMMENTS))
    for marker in POSITIONAL_MARKERS.values():
        assert marker not in other | background and _words(marker) == {marker}


def test_positional_scenes_differ_only_where_the_object_is():
    size = 64
    for thing in EVENT_OBJECTS:
        images = {place: scene_image(f"{thing}-{place}", size, 0).astype(float) for place in EVENT_PLACES}
        for i, first in enumerate(EVENT_PLACES):
            for second in EVENT_PLACES[i + 1 :]:
                changed = np.abs(images[first] - images[second]).max(-1) > 0
                assert 0.04 < changed.mean() < 0.25, (thing, first, second)  # two object areas, nothing else
        # the object itself looks the same wherever it is: the area that changes is the same size
        areas = [(np.abs(images[p] - images[EVENT_PLACES[0]]).max(-1) > 0).mean() for p in EVENT_PLACES[1:]]
        assert max(areas) - min(areas) < 0.03
    for place in EVENT_PLACES:  # different objects at one place differ too
        kinds = [f"{thing}-{place}" for thing in EVENT_OBJECTS]
        for i, first in enumerate(kinds):
            for second in kinds[i + 1 :]:
                assert np.abs(scene_image(first, size, 0).astype(float) - scene_image(second, size, 0)).mean() > 3


def test_position_world_shows_objects_at_places_and_replies_name_the_pair(tmp_path):
    world = _world("position", seed=7)
    events = [e for s in world for e in s.screen]
    assert events and all(e.kind in POSITIONAL_MARKERS for e in events)
    # the same object is shown at several places, and each place means its own reply word
    places_of = {}
    for event in events:
        thing, place = positional_parts(event.kind)
        places_of.setdefault(thing, set()).add(place)
    assert all(len(places) >= 3 for places in places_of.values()) and len(places_of) == len(EVENT_OBJECTS)
    for stream in world:
        for message, origin in zip(stream.chat, stream.origins):
            if origin.role == "response" and origin.cue.modality == "video":
                assert origin.cue.marker == POSITIONAL_MARKERS[origin.cue.key] in _words(message.text)
    # the video shows the positional scene: a decoded frame is closest to its own (object, place)
    stream = next(s for s in generate_world(8, 65, seed=7, config=WORLD_VARIANTS["position"]) if s.screen)
    files = write_stream(stream, tmp_path, SMALL)
    event = stream.screen[0]
    index = int((event.start + 1) * SMALL.fps)
    with av.open(str(files.video)) as container:
        frame = list(container.decode(video=0))[index].to_ndarray(format="rgb24").astype(float)
    phase = (index * 2 // SMALL.fps) % PHASES
    distance = {kind: np.abs(scene_image(kind, SMALL.size, phase) - frame).mean() for kind in POSITIONAL_KINDS}
    assert min(distance, key=distance.get) == event.kind


def test_position_paraphrases_name_the_object_and_place_without_the_marker():
    world = _world("position", num_streams=6, seed=8, paraphrase_rate=1.0)
    replies = [(m.text, o.cue) for s in world for m, o in zip(s.chat, s.origins)
               if o.role == "response" and o.cue.modality == "video"]
    assert replies
    for text, cue in replies:
        place = positional_parts(cue.key)[1]
        assert cue.marker not in _words(text) and set(place.split("-")) <= _words(text)


# -- halfnoise: half the targets are noise ---------------------------------------------------------------------------
def test_halfnoise_world_makes_about_half_the_response_comments_filler():
    response = [o for s in _world("halfnoise", seed=8) for _, o in _response_window(s)]
    share = sum(o.role == "filler" for o in response) / len(response)
    assert 0.42 <= share <= 0.58


def test_make_stream_writes_a_variant_with_its_knobs_and_frame_size(tmp_path):
    from hf_livechat.cli import main

    out = tmp_path / "streams"
    assert main(["make-stream", "--variant", "position", "--out", str(out), "--num-streams", "1", "--duration", "60",
                 "--seed", "1", "--frame-size", "32", "--workers", "1", "--template-rate", "0.2"]) == 0
    truth = json.loads(next(out.glob("*.truth.json")).read_text())
    assert all(event["kind"] in POSITIONAL_MARKERS for event in truth["screen"])
    assert any(comment["text"] in TEMPLATE_COMMENTS for comment in truth["comments"])
    with av.open(str(next(out.glob("*.mp4")))) as container:
        assert container.streams.video[0].codec_context.width == 32


def test_activity_knobs_make_quiet_windows_and_loud_cues():
    """`make-stream --activity`: episodes without a cue answer nothing, hype keys draw 6 to 9 replies, and how many
    comments a response window holds follows from its cues (the quickstart world gives every window 2 to 3)."""
    from hf_livechat.synthetic import ACTIVITY_KNOBS
    from hf_livechat.synthetic.world_config import is_hype

    for name in ("quickstart", "overlap"):
        world = _world(name, num_streams=6, **ACTIVITY_KNOBS)
        quiet, counts, expected_loud = 0, [], []
        for stream in world:
            replies = Counter(o.episode for o in stream.origins if o.role == "response")
            for episode in stream.episodes:
                quiet += not episode.cues
                counts.append(replies.get(episode.index, 0))
                expected_loud.append(any(is_hype(c.key, ACTIVITY_KNOBS["hype_share"]) for c in episode.cues))
                for cue in episode.cues:
                    n = sum(1 for o in stream.origins if o.role == "response" and o.episode == episode.index and o.cue == cue)
                    low, high = ACTIVITY_KNOBS["hype_responses"] if is_hype(cue.key, ACTIVITY_KNOBS["hype_share"]) else (2, 3)
                    assert low <= n <= high
                if not episode.cues:
                    assert replies.get(episode.index, 0) == 0
        share = quiet / len(counts)
        assert 0.25 < share < 0.45, share
        counts, loud = np.array(counts), np.array(expected_loud)
        assert counts[loud].mean() > 2 * counts[~loud & (counts > 0)].mean()
    assert not any(is_hype(key, 0.0) for key in EVENT_KINDS)


def test_activity_knobs_are_checked():
    with pytest.raises(ValueError, match="quiet_rate"):
        WorldConfig(quiet_rate=1.0)
    with pytest.raises(ValueError, match="hype_responses"):
        WorldConfig(hype_responses=(3, 2))
