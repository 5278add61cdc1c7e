"""A procedural world for LCAffect: streams whose live comments express the affect of what happens on screen, and a
small labelled affect set of utterance clips cut from other streams.

**Games and scenes.** The world has ``len(GAMES)`` games. Each game shows four *scene kinds* on screen, one per
affect of ``AFFECTS`` (joy, fear, sadness, anger). A kind is one of the LiveChat world's event scenes
(``writer.SCENES``: boss, goal, crash, ...) in one of four colourings (a permutation of the RGB channels), so the
world has 12 x 4 = 48 kinds, and which affect a kind carries is drawn at random (seeded): two kinds that look alike
(the same scene in two colourings) usually carry different affects, and nothing in the pixels says which affect a
kind has. Only the chat says it.

**Unlabelled streams** (``make_affect_streams``, plentiful): each stream plays one game; every 4 to 8 s of plain
gameplay an event of one of its four kinds fills the screen for 5 to 9 s. While it plays (and 2 s after), viewers
react at about one message a second, mostly with words of the event's affect ("so scary", "im crying", ...; never
the scene's name), sometimes with affect-free hubbub ("omg", "wait what"), half of them with a decorative emote;
affect-free filler runs all along. These
are the mp4 + TwitchDownloader chat JSON + SRT files and the manifest that ``build-lcaffect`` reads.

**The labelled set** (``make_labelled_clips``, small): utterance clips cut from *other* streams of the same games.
Each clip is a stretch around one event in which the streamer says one line; it is 2 to 20 s long (a short clip
lies inside the event, a long one also holds gameplay before and after it) and its label is the affect of the event
kind on screen: the content, which the clip's frames show. Its features, as affect benchmarks ship them:

- ``text``: the streamer's line. In ``AffectWorldConfig.text_affect_rate`` of the clips it voices the event's affect
  ("oh no this is terrifying"), in ``text_misleading_rate`` another affect, otherwise it is neutral ("give me a
  second chat"). Text alone therefore gets some clips right and most wrong.
- ``acoustic_features``: (steps, 4) per 100 ms of a synthesised voice track (log energy, zero-crossing rate, spectral
  centroid, dominant frequency): when the streamer speaks, and how loud; high-arousal affects (joy, anger) are
  spoken slightly louder, under a per-clip gain that hides most of it.
- ``visual_features``: (seconds, 5) low-level frame statistics (mean R, G, B, luma contrast, motion): they describe
  the colours of a kind, not its affect.

No feature holds the label or the clip id. The splits of the labelled set are **by game** (as MUStARD's
speaker-independent setting splits by show): the kinds of the test games never appear in labelled training, so a
classifier can only get their affect from something that knows those kinds, such as a V2LC model that saw them in
the unlabelled streams with their comments. ``manifest.jsonl`` of the labelled set lists each clip's source video,
``start`` and ``end``; ``data/<split>.parquet`` holds its features and label.

No torch here: text features (sentence embeddings) are added above this layer.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from tqdm.auto import tqdm

from hf_livechat.data.chat.message import ChatMessage

from .vocabulary import DECORATIVE_EMOTES, NAME_PARTS, NAME_SUFFIXES
from .world import ScreenEvent, SpeechLine, assign_splits, chat_message
from .writer import SCENES, gameplay_scene, scene_image, write_chat, write_transcript

AFFECTS = ("joy", "fear", "sadness", "anger")
HIGH_AROUSAL = ("joy", "anger")
# Channel orders of a scene's colourings: the same scene, four looks.
COLOURINGS: dict[str, tuple[int, int, int]] = {"rgb": (0, 1, 2), "gbr": (1, 2, 0), "brg": (2, 0, 1), "bgr": (2, 1, 0)}
GAMES = (
    "Ember Hollow", "Tidal Drift", "Neon Circuit", "Frost Keep", "Sky Ruins", "Moss Garden",
    "Iron Derby", "Lunar Port", "Sand Maze", "Echo Vale", "Coral Rift", "Storm Spire",
)
# What chat writes while an event plays: the affect in words, never the scene's name.
REACTIONS: dict[str, tuple[str, ...]] = {
    "joy": ("lets gooo", "so happy right now", "this is amazing", "best moment ever", "pure joy", "love this",
            "yesss so good", "wholesome", "hype hype"),
    "fear": ("so scary", "im scared", "nope nope nope", "this is terrifying", "hide hide", "creepy",
             "my heart is racing", "run run", "i cant watch"),
    "sadness": ("so sad", "im crying", "this hurts", "heartbreaking", "tears", "poor guy", "sad moment",
                "why so sad", "rip buddy"),
    "anger": ("so unfair", "rage incoming", "are you kidding me", "robbed", "so annoying", "trash luck",
              "im furious", "this is rigged", "unbelievable refs"),
}
HUBBUB = ("omg", "wait what", "look at that", "chat look", "whoa", "did you see that")
FILLER = ("hello chat", "first time here", "how long is the stream", "what rank is this", "hi from portugal",
          "is this a new game", "back from work", "just lurking", "what is the schedule", "hi mods")
# The streamer's lines in the labelled clips.
AFFECT_LINES: dict[str, tuple[str, ...]] = {
    "joy": ("yes this is awesome", "i am so happy right now", "what a great moment", "this makes my day"),
    "fear": ("oh no this is terrifying", "i am so scared chat", "this is creepy", "i do not want to look"),
    "sadness": ("this is so sad", "that really hurts", "i feel like crying", "poor little guy"),
    "anger": ("this is so unfair", "are you serious right now", "i am so annoyed", "that is rigged"),
}
NEUTRAL_LINES = ("okay let me check the map", "give me a second chat", "so where do we go next", "alright here we go",
                 "let me read chat real quick", "we keep going", "okay okay", "one more time", "let me think")
STREAMER_NAMES = ("AmberLynx", "ColdComet", "MapleRay", "OpalKnight", "RustyOwl", "SilverTide")


@dataclass(frozen=True)
class AffectWorldConfig:
    """Knobs of the affect world (the defaults are the affect quickstart's).

    Attributes:
        gap_seconds: range of plain-gameplay seconds between events.
        event_seconds: range of an event's length (whole seconds, so a 1 fps sampler sees it on each of them).
        reaction_rate: chat reactions per second while an event plays (and ``reaction_tail`` seconds after it).
        hubbub_share: share of reactions that are affect-free ("omg").
        emote_rate: share of chat messages that end with a decorative emote (any affect): comments vary, as chat does,
            so that two segments seldom share a comment word for word.
        filler_rate: affect-free messages per second all along.
        clip_seconds: range of a labelled clip's length.
        text_affect_rate: share of labelled clips whose line voices the event's affect.
        text_misleading_rate: share whose line voices another affect.
    """

    gap_seconds: tuple[float, float] = (4.0, 8.0)
    event_seconds: tuple[int, int] = (5, 9)
    reaction_rate: float = 1.0
    reaction_tail: float = 2.0
    hubbub_share: float = 0.25
    emote_rate: float = 0.5
    filler_rate: float = 0.12
    clip_seconds: tuple[float, float] = (2.0, 20.0)
    text_affect_rate: float = 0.35
    text_misleading_rate: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.gap_seconds[0] <= self.gap_seconds[1]:
            raise ValueError(f"gap_seconds must be 0 < low <= high, got {self.gap_seconds}")
        if not 1 <= self.event_seconds[0] <= self.event_seconds[1]:
            raise ValueError(f"event_seconds must be 1 <= low <= high, got {self.event_seconds}")
        if not 1 <= self.clip_seconds[0] <= self.clip_seconds[1]:
            raise ValueError(f"clip_seconds must be 1 <= low <= high, got {self.clip_seconds}")
        if self.text_affect_rate + self.text_misleading_rate > 1 or min(self.text_affect_rate, self.text_misleading_rate) < 0:
            raise ValueError("text_affect_rate and text_misleading_rate must be >= 0 and sum to at most 1")
        if not 0 <= self.hubbub_share <= 1 or not 0 <= self.emote_rate <= 1:
            raise ValueError(f"hubbub_share and emote_rate must be in [0, 1], got {self.hubbub_share}, {self.emote_rate}")


@dataclass(frozen=True)
class AffectWorld:
    """Which scene kind each game shows for each affect: ``games[game][affect] -> kind`` (e.g. ``"boss-gbr"``)."""

    seed: int
    games: dict[str, dict[str, str]]

    def affect_of(self, kind: str) -> str:
        for kinds in self.games.values():
            for affect, name in kinds.items():
                if name == kind:
                    return affect
        raise KeyError(f"no game shows scene kind {kind!r}")


def make_world(seed: int, num_games: int = len(GAMES)) -> AffectWorld:
    """Deal the 48 (scene, colouring) kinds to ``num_games`` games x 4 affects at random (seeded)."""
    if not 1 <= num_games <= len(GAMES):
        raise ValueError(f"num_games must be in [1, {len(GAMES)}], got {num_games}")
    kinds = [f"{scene}-{colouring}" for scene in SCENES for colouring in COLOURINGS]
    order = np.random.default_rng([seed, 48]).permutation(len(kinds))
    dealt = [kinds[i] for i in order]
    games = {game: {affect: dealt[4 * g + a] for a, affect in enumerate(AFFECTS)} for g, game in enumerate(GAMES[:num_games])}
    return AffectWorld(seed, games)


def render_kind(kind: str, size: int, phase: int) -> np.ndarray:
    """The frame of scene kind ``"<scene>-<colouring>"`` at animation ``phase``: the LiveChat world's scene, recoloured."""
    scene, _, colouring = kind.rpartition("-")
    if scene not in SCENES or colouring not in COLOURINGS:
        raise ValueError(f"unknown scene kind {kind!r} (expected '<scene>-<colouring>' with a scene of {sorted(SCENES)} "
                         f"and a colouring of {sorted(COLOURINGS)})")
    return scene_image(scene, size, phase)[..., COLOURINGS[colouring]]


@dataclass(frozen=True)
class AffectStream:
    """One stream of the affect world. It has the attributes the LiveChat writer's ``write_chat`` /
    ``write_transcript`` read (``vod_id``, ``streamer``, ``title``, ``chat``, ``speech``)."""

    vod_id: str
    game: str
    streamer: str
    duration: float
    split: str
    screen: tuple[ScreenEvent, ...]
    speech: tuple[SpeechLine, ...]
    chat: tuple[ChatMessage, ...]
    affects: tuple[str, ...] = field(default=())  # the affect of each screen event (the world's truth)

    @property
    def title(self) -> str:
        return f"{self.streamer} plays {self.game}"

    def scene_at(self, time: float) -> str | None:
        for event in self.screen:
            if event.start <= time < event.end:
                return event.kind
        return None


class _Builder:
    def __init__(self, world: AffectWorld, game: str, vod_id: str, duration: float, split: str, config: AffectWorldConfig,
                 rng: np.random.Generator):
        self.world, self.game, self.vod_id, self.duration, self.split, self.config, self.rng = (
            world, game, vod_id, duration, split, config, rng)
        self.viewers = [f"{a.capitalize()}{b}{rng.choice(NAME_SUFFIXES)}" for a, b in
                        (rng.choice(NAME_PARTS, size=2, replace=False) for _ in range(30))]
        self.messages: list[tuple[float, str, str]] = []

    def pick(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def decorate(self, text: str) -> str:
        return f"{text} {self.pick(DECORATIVE_EMOTES)}" if self.rng.random() < self.config.emote_rate else text

    def events(self) -> list[tuple[ScreenEvent, str]]:
        """Events of this stream's game, each kind in turn before one repeats, on whole seconds."""
        kinds = self.world.games[self.game]
        out, time, deck = [], float(np.ceil(self.rng.uniform(*self.config.gap_seconds))), []
        while True:
            length = int(self.rng.integers(self.config.event_seconds[0], self.config.event_seconds[1] + 1))
            if time + length > self.duration - 1:
                return out
            if not deck:
                deck = [AFFECTS[i] for i in self.rng.permutation(len(AFFECTS))]
            affect = deck.pop()
            out.append((ScreenEvent(kinds[affect], time, time + length), affect))
            time = float(np.ceil(time + length + self.rng.uniform(*self.config.gap_seconds)))

    def chat(self, events: list[tuple[ScreenEvent, str]]) -> tuple[ChatMessage, ...]:
        config = self.config
        for event, affect in events:
            end = min(event.end + config.reaction_tail, self.duration)
            for _ in range(int(self.rng.poisson(config.reaction_rate * (end - event.start)))):
                text = self.pick(HUBBUB) if self.rng.random() < config.hubbub_share else self.pick(REACTIONS[affect])
                self.messages.append((self.rng.uniform(event.start + 0.3, end), self.pick(self.viewers), self.decorate(text)))
        for _ in range(int(self.rng.poisson(config.filler_rate * self.duration))):
            self.messages.append((self.rng.uniform(0, self.duration), self.pick(self.viewers), self.decorate(self.pick(FILLER))))
        self.messages.sort()
        return tuple(chat_message(round(float(t), 3), author, text, f"{self.vod_id}-{i}")
                     for i, (t, author, text) in enumerate(self.messages))


def _stream(world: AffectWorld, game: str, vod_id: str, duration: float, split: str, config: AffectWorldConfig,
            rng: np.random.Generator, speech: Sequence[SpeechLine] = ()) -> AffectStream:
    builder = _Builder(world, game, vod_id, duration, split, config, rng)
    events = builder.events()
    return AffectStream(vod_id, game, STREAMER_NAMES[int(rng.integers(len(STREAMER_NAMES)))], duration, split,
                        tuple(e for e, _ in events), tuple(speech), builder.chat(events), tuple(a for _, a in events))


def generate_affect_streams(world: AffectWorld, num_streams: int, duration: float, seed: int,
                            config: AffectWorldConfig | None = None) -> list[AffectStream]:
    """``num_streams`` unlabelled streams, the games taken in turn, split 80/10/10 by VOD (for V2LC's held-out
    retrieval evaluation)."""
    config = config or AffectWorldConfig()
    if num_streams < 1 or duration < 30:
        raise ValueError(f"need num_streams >= 1 and duration >= 30 s, got {num_streams}, {duration}")
    games = list(world.games)
    splits = assign_splits(num_streams, {"train": 0.8, "validation": 0.1, "test": 0.1}, seed)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(num_streams)]
    return [_stream(world, games[i % len(games)], f"7{seed % 10**5:05d}{i:04d}", float(duration), splits[i], config, rngs[i])
            for i in range(num_streams)]


# -- files -----------------------------------------------------------------------------------------------------------
def write_affect_video(stream: AffectStream, path: str | Path, size: int = 96, fps: int = 2) -> Path:
    """The stream's screen as an mp4 (H.264 if PyAV has libx264, else MPEG-4), no audio track: scene kinds are
    recoloured LiveChat scenes, plain gameplay the LiveChat world's tile map."""
    if size < 32 or size % 2 or fps < 1:
        raise ValueError(f"need an even size >= 32 and fps >= 1, got {size}, {fps}")
    path = Path(path)
    palette_seed = zlib.crc32(stream.vod_id.encode())
    cache: dict[tuple[str | None, int], av.VideoFrame] = {}
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.codec_context.thread_count = 1
        video.codec_context.time_base = Fraction(1, fps)
        if codec == "libx264":
            video.codec_context.options = {"preset": "ultrafast", "crf": "26"}
        video.codec_context.gop_size = 2 * fps
        for index in range(int(round(stream.duration * fps))):
            kind, phase = stream.scene_at(index / fps), (index * 2 // fps) % 4
            if (kind, phase) not in cache:
                image = render_kind(kind, size, phase) if kind else gameplay_scene(size, phase, palette_seed)
                cache[kind, phase] = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24").reformat(format="yuv420p")
            frame = cache[kind, phase]
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
    return path


def _truth(stream: AffectStream) -> dict:
    return {"vod_id": stream.vod_id, "game": stream.game, "split": stream.split, "duration": stream.duration,
            "events": [{"kind": e.kind, "affect": a, "start": e.start, "end": e.end} for e, a in zip(stream.screen, stream.affects)]}


def write_affect_stream(stream: AffectStream, out_dir: str | Path, size: int = 96, fps: int = 2) -> dict:
    """mp4, chat JSON, SRT and ``<vod>.truth.json`` (events with their affects, for analysis) -> a manifest row."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "video": write_affect_video(stream, out_dir / f"{stream.vod_id}.mp4", size, fps).name,
        "chat": write_chat(stream, out_dir / f"{stream.vod_id}.chat.json").name,
        "transcript": write_transcript(stream, out_dir / f"{stream.vod_id}.srt").name,
    }
    (out_dir / f"{stream.vod_id}.truth.json").write_text(json.dumps(_truth(stream), indent=1) + "\n")
    return {"vod_id": stream.vod_id, **files, "truth": f"{stream.vod_id}.truth.json", "streamer": stream.streamer,
            "category": stream.game, "split": stream.split, "duration": stream.duration}


def _write_manifest(path: Path, rows: Sequence[dict]) -> Path:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(json.dumps(row) + "\n" for row in rows))
    temporary.replace(path)
    return path


def make_affect_streams(out_dir: str | Path, world: AffectWorld, num_streams: int = 48, duration: float = 240.0,
                        seed: int = 0, *, config: AffectWorldConfig | None = None, size: int = 96, fps: int = 2,
                        progress: bool = True) -> Path:
    """Write the unlabelled streams and their ``manifest.jsonl`` (what ``build-lcaffect`` reads); return its path.
    A stream whose files exist is not rewritten, so an interrupted run resumes."""
    out_dir = Path(out_dir)
    rows = []
    for stream in tqdm(generate_affect_streams(world, num_streams, duration, seed, config), desc="writing streams",
                       disable=not progress):
        if (out_dir / f"{stream.vod_id}.truth.json").is_file():  # written last
            rows.append({"vod_id": stream.vod_id, "video": f"{stream.vod_id}.mp4", "chat": f"{stream.vod_id}.chat.json",
                         "transcript": f"{stream.vod_id}.srt", "truth": f"{stream.vod_id}.truth.json",
                         "streamer": stream.streamer, "category": stream.game, "split": stream.split,
                         "duration": stream.duration})
        else:
            rows.append(write_affect_stream(stream, out_dir, size, fps))
    return _write_manifest(out_dir / "manifest.jsonl", rows)


# -- the labelled set ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelledClip:
    """One utterance clip: ``[start, end)`` of source stream ``vod_id``, the line said in it, and its label."""

    id: str
    vod_id: str
    game: str
    split: str
    start: float
    end: float
    text: str
    label: str
    kind: str  # the scene kind on screen (the world's truth; not a feature)
    loudness: float = 1.0


def split_games(world: AffectWorld, seed: int, shares: tuple[float, float, float] = (0.5, 0.17, 0.33)) -> dict[str, str]:
    """Game -> labelled split (train / validation / test), by game so that test kinds are unseen in training."""
    splits = assign_splits(len(world.games), dict(zip(("train", "validation", "test"), shares)), seed + 11)
    return dict(zip(world.games, splits))


def generate_labelled_clips(world: AffectWorld, streams_per_game: int = 1, duration: float = 300.0, seed: int = 1,
                            config: AffectWorldConfig | None = None) -> tuple[list[AffectStream], list[LabelledClip]]:
    """Source streams (``streams_per_game`` per game, other streams than the unlabelled ones: other ids, other
    seed) and one utterance clip around each of their events."""
    config = config or AffectWorldConfig()
    game_split = split_games(world, seed)
    root = np.random.SeedSequence([seed, 2])
    streams, clips = [], []
    for g, game in enumerate(world.games):
        for k in range(streams_per_game):
            rng = np.random.default_rng(root.spawn(1)[0])
            vod_id = f"8{seed % 10**5:05d}{g:02d}{k:02d}"
            base = _stream(world, game, vod_id, float(duration), game_split[game], config, rng)
            stream_clips = [_clip(base, i, rng, config) for i in range(len(base.screen))]
            speech = tuple(SpeechLine(round(c.start + 0.2 * (c.end - c.start), 2), round(c.start + 0.8 * (c.end - c.start), 2), c.text)
                           for c in stream_clips)
            streams.append(AffectStream(base.vod_id, base.game, base.streamer, base.duration, base.split, base.screen,
                                        speech, base.chat, base.affects))
            clips.extend(stream_clips)
    return streams, clips


def _clip(stream: AffectStream, index: int, rng: np.random.Generator, config: AffectWorldConfig) -> LabelledClip:
    event, affect = stream.screen[index], stream.affects[index]
    # The clip may reach into the gameplay around its event, never into another event.
    room_start = stream.screen[index - 1].end if index else 0.0
    room_end = stream.screen[index + 1].start if index + 1 < len(stream.screen) else stream.duration
    low, high = config.clip_seconds
    length = float(np.clip(rng.lognormal(np.log(5.0), 0.6), low, min(high, room_end - room_start)))
    centre = rng.uniform(event.start, event.end)
    start = float(np.clip(centre - length / 2, room_start, room_end - length))
    start = max(start, event.start - length + 1.0)  # at least a second of the event inside the clip
    start = min(start, event.end - 1.0)
    end = min(start + length, room_end)
    draw = rng.random()
    if draw < config.text_affect_rate:
        text = AFFECT_LINES[affect][int(rng.integers(4))]
    elif draw < config.text_affect_rate + config.text_misleading_rate:
        other = [a for a in AFFECTS if a != affect][int(rng.integers(3))]
        text = AFFECT_LINES[other][int(rng.integers(4))]
    else:
        text = NEUTRAL_LINES[int(rng.integers(len(NEUTRAL_LINES)))]
    loudness = float(rng.uniform(0.6, 1.5)) * (1.25 if affect in HIGH_AROUSAL else 1.0)
    return LabelledClip(f"{stream.vod_id}_utt{index:03d}", stream.vod_id, stream.game, stream.split, round(start, 2),
                        round(end, 2), text, affect, event.kind, loudness)


def acoustic_features(clip: LabelledClip, rate: int = 16000, hop: float = 0.1) -> np.ndarray:
    """(steps, 4) per ``hop`` seconds of the clip's voice track: log energy, zero-crossing rate, spectral centroid
    (kHz) and dominant frequency (kHz). The track is a voiced tone while the line is said (its pitch follows the
    line, a 4 Hz syllable rhythm, the clip's loudness) over background noise."""
    length = clip.end - clip.start
    samples = int(round(length * rate))
    rng = np.random.default_rng(zlib.crc32(clip.id.encode()))
    audio = rng.normal(0, 0.003, samples)
    first, last = int(0.2 * samples), int(0.8 * samples)
    time = np.arange(last - first) / rate
    pitch = 140 + zlib.crc32(clip.text.encode()) % 160
    audio[first:last] += clip.loudness * 0.2 * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * time)) * np.sin(2 * np.pi * pitch * time)
    step = int(hop * rate)
    frames = audio[: len(audio) // step * step].reshape(-1, step)
    spectrum = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(step, 1 / rate)
    energy = np.log(np.mean(frames**2, axis=1) + 1e-10)
    zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
    centroid = (spectrum * freqs).sum(1) / spectrum.sum(1).clip(1e-10) / 1000
    dominant = freqs[spectrum.argmax(1)] / 1000
    return np.stack([energy, zcr, centroid, dominant], axis=1).astype(np.float32)


def visual_features(stream: AffectStream, clip: LabelledClip, size: int = 32) -> np.ndarray:
    """(seconds, 5) frame statistics of the clip at 1 fps: mean R, G, B and luma contrast (in [0, 1]), and motion
    (mean absolute change from the previous second)."""
    palette_seed = zlib.crc32(stream.vod_id.encode())
    rows, previous = [], None
    for second in np.arange(clip.start, clip.end, 1.0):
        kind, phase = stream.scene_at(float(second)), int(second * 2) % 4
        image = (render_kind(kind, size, phase) if kind else gameplay_scene(size, phase, palette_seed)).astype(np.float32) / 255
        luma = image @ np.array([0.299, 0.587, 0.114], np.float32)
        motion = float(np.abs(image - previous).mean()) if previous is not None else 0.0
        rows.append([*image.reshape(-1, 3).mean(0), luma.std(), motion])
        previous = image
    return np.asarray(rows, np.float32)


def make_labelled_clips(out_dir: str | Path, world: AffectWorld, streams_per_game: int = 1, duration: float = 300.0,
                        seed: int = 1, *, config: AffectWorldConfig | None = None, size: int = 96, fps: int = 2,
                        progress: bool = True) -> Path:
    """Write the labelled set: the source streams (mp4 + chat + SRT), ``manifest.jsonl`` of the clips (``id``,
    ``video``, ``start``, ``end``, ``split``; paths relative to it) and ``data/<split>.parquet`` (``id``, ``text``,
    ``acoustic_features``, ``visual_features``, ``label``). Returns the clip manifest's path."""
    from datasets import Array2D, ClassLabel, Dataset, Features, Value

    out_dir = Path(out_dir)
    streams, clips = generate_labelled_clips(world, streams_per_game, duration, seed, config)
    by_vod = {s.vod_id: s for s in streams}
    for stream in tqdm(streams, desc="writing source streams", disable=not progress):
        if not (out_dir / "sources" / f"{stream.vod_id}.truth.json").is_file():
            write_affect_stream(stream, out_dir / "sources", size, fps)
    features = Features({
        "id": Value("string"), "text": Value("string"),
        "acoustic_features": Array2D(shape=(None, 4), dtype="float32"),
        "visual_features": Array2D(shape=(None, 5), dtype="float32"),
        "label": ClassLabel(names=list(AFFECTS)),
    })
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        chosen = [c for c in clips if c.split == split]
        rows = {"id": [c.id for c in chosen], "text": [c.text for c in chosen],
                "acoustic_features": [acoustic_features(c) for c in chosen],
                "visual_features": [visual_features(by_vod[c.vod_id], c) for c in chosen],
                "label": [AFFECTS.index(c.label) for c in chosen]}
        Dataset.from_dict(rows, features=features).to_parquet(str(out_dir / "data" / f"{split}.parquet"))
    truth = [{"id": c.id, "kind": c.kind, "label": c.label, "game": c.game} for c in clips]
    (out_dir / "truth.jsonl").write_text("".join(json.dumps(row) + "\n" for row in truth))
    return _write_manifest(out_dir / "manifest.jsonl", [
        {"id": c.id, "video": f"sources/{c.vod_id}.mp4", "start": c.start, "end": c.end, "split": c.split} for c in clips])


__all__ = [
    "AFFECTS",
    "AffectStream",
    "AffectWorld",
    "AffectWorldConfig",
    "LabelledClip",
    "acoustic_features",
    "generate_affect_streams",
    "generate_labelled_clips",
    "make_affect_streams",
    "make_labelled_clips",
    "make_world",
    "render_kind",
    "split_games",
    "visual_features",
    "write_affect_stream",
    "write_affect_video",
]
