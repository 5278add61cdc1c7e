"""Render synthetic streams into the real files a VOD dataset starts from.

Per VOD ``<vod_id>``: ``<vod_id>.mp4`` (H.264 or MPEG-4 video, AAC audio), ``<vod_id>.srt`` (the streamer's speech),
``<vod_id>.chat.json`` (TwitchDownloader layout) and ``<vod_id>.truth.json`` (the world's log of which cue drove
which comment; for analysis, not a model input). ``make_streams`` writes a whole world plus ``manifest.jsonl``.

Each screen event kind is a large, saturated, textured full-frame scene (``SCENES``) so that a frozen ImageNet CNN
separates them; plain gameplay is a muted tile map. Frames are rendered once per (scene, phase) and reused, which
keeps encoding at thousands of frames per second.
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pysubs2
from tqdm.auto import tqdm

from hf_livechat.data.chat import write_twitch_json

from .vocabulary import EVENT_KINDS, EVENT_OBJECTS, EVENT_PLACES, POSITIONAL_KINDS, positional_parts
from .world import Stream, WorldConfig, generate_world

PHASES = 4  # animation frames per scene; the scene cycles through them
Image = np.ndarray  # (size, size, 3) uint8 RGB


@dataclass(frozen=True)
class MediaSpec:
    """How streams are rendered: video frame rate and square frame size, audio sample rate."""

    fps: int = 4
    size: int = 224
    audio_rate: int = 16000

    def __post_init__(self) -> None:
        if self.fps < 1 or self.size < 32 or self.size % 2 or self.audio_rate < 8000:
            raise ValueError(f"need fps >= 1, an even size >= 32 and audio_rate >= 8000, got {self}")


@dataclass(frozen=True)
class StreamFiles:
    """The files written for one VOD."""

    video: Path
    chat: Path
    transcript: Path
    truth: Path


# -- scenes ----------------------------------------------------------------------------------------------------------
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in [0, 1): (rows, columns)."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    return axis[:, None], axis[None, :]


def _fill(size: int, colour: tuple[int, int, int]) -> Image:
    return np.broadcast_to(np.array(colour, np.uint8), (size, size, 3)).copy()


def _paint(image: Image, mask: np.ndarray, colour: tuple[int, int, int]) -> Image:
    image[np.broadcast_to(mask, image.shape[:2])] = colour
    return image


def _dots(size: int, seed: int, count: int, radius: float) -> np.ndarray:
    """A mask of ``count`` round dots at seeded places."""
    y, x = _grid(size)
    centres = np.random.default_rng(seed).random((count, 2))
    mask = np.zeros((size, size), bool)
    for cy, cx in centres:
        mask |= (y - cy) ** 2 + (x - cx) ** 2 < radius**2
    return mask


def _boss(size: int, phase: int) -> Image:  # dark red arena, a big pulsing orange orb with eyes
    y, x = _grid(size)
    image = _fill(size, (110, 0, 10))
    radius = 0.30 + 0.03 * (phase % 2)
    distance = np.sqrt((y - 0.5) ** 2 + (x - 0.5) ** 2)
    _paint(image, distance < radius, (255, 120, 0))
    _paint(image, np.abs(distance - radius - 0.05) < 0.015, (255, 230, 0))
    for eye_x in (0.42, 0.58):
        _paint(image, (y - 0.44) ** 2 + (x - eye_x) ** 2 < 0.04**2, (0, 0, 0))
    return image


def _goal(size: int, phase: int) -> Image:  # mown-grass stripes under a white goal net
    y, x = _grid(size)
    image = _fill(size, (30, 150, 40))
    _paint(image, ((x * 8 + phase * 0.25) % 1.0) < 0.5, (80, 210, 60))
    net = (y > 0.12) & (y < 0.45) & (x > 0.2) & (x < 0.8)
    _paint(image, net & ((((x * 40) % 1) < 0.2) | (((y * 40) % 1) < 0.2)), (255, 255, 255))
    _paint(image, (y - 0.7) ** 2 + (x - 0.3 - 0.1 * phase) ** 2 < 0.05**2, (250, 250, 250))
    return image


def _crash(size: int, phase: int) -> Image:  # flashing glitch blocks
    blocks = size // 8
    palette = np.array([(255, 0, 255), (0, 255, 255), (0, 0, 0), (255, 255, 255)], np.uint8)
    cells = np.random.default_rng(1000 + phase).integers(0, len(palette), (blocks, blocks))
    return np.repeat(np.repeat(palette[cells], 8, axis=0), 8, axis=1)[:size, :size].copy()


def _shop(size: int, phase: int) -> Image:  # blue shelves of yellow item squares
    y, x = _grid(size)
    image = _fill(size, (20, 40, 200))
    cells = ((x * 5) % 1 > 0.2) & ((x * 5) % 1 < 0.8) & ((y * 5) % 1 > 0.2) & ((y * 5) % 1 < 0.8)
    _paint(image, cells, (255, 220, 0))
    _paint(image, (((y * 5 + 0.1) % 1) < 0.06), (140, 80, 20))
    _paint(image, cells & ((y * 5).astype(int) == phase), (255, 255, 255))
    return image


def _storm(size: int, phase: int) -> Image:  # slate sky, white rain streaks, a lightning bolt
    y, x = _grid(size)
    image = _fill(size, (45, 45, 60))
    _paint(image, ((x * 12 + y * 6 + phase * 0.25) % 1) < 0.12, (200, 200, 220))
    bolt = np.abs(x - (0.5 + 0.08 * np.sign(np.sin(y * 25)))) < 0.03
    if phase % 2 == 0:
        _paint(image, bolt & (y < 0.8), (255, 255, 80))
    return image


def _victory(size: int, phase: int) -> Image:  # golden rays around a big white star
    y, x = _grid(size)
    angle = np.arctan2(y - 0.5, x - 0.5)
    distance = np.sqrt((y - 0.5) ** 2 + (x - 0.5) ** 2)
    image = _fill(size, (230, 170, 0))
    _paint(image, np.sin(angle * 12 + phase * 0.4) > 0, (255, 215, 60))
    star = distance < 0.18 + 0.12 * np.cos(5 * (angle + np.pi / 2))
    return _paint(image, star, (255, 255, 255))


def _death(size: int, phase: int) -> Image:  # black screen crossed by a thick red X
    y, x = _grid(size)
    image = _fill(size, (10 + 10 * (phase % 2), 0, 0))
    width = 0.07
    _paint(image, (np.abs(y - x) < width) | (np.abs(y + x - 1) < width), (230, 0, 0))
    return image


def _space(size: int, phase: int) -> Image:  # starfield and a ringed purple planet
    y, x = _grid(size)
    image = _fill(size, (0, 0, 15))
    _paint(image, _dots(size, 7 + phase, 90, 0.006), (255, 255, 255))
    distance = (y - 0.55) ** 2 + (x - 0.5) ** 2
    _paint(image, np.abs(((y - 0.55) * 3.5) ** 2 + (x - 0.5) ** 2 - 0.14) < 0.02, (255, 180, 255))
    return _paint(image, distance < 0.2**2, (150, 40, 200))


def _ocean(size: int, phase: int) -> Image:  # cyan-to-navy water with rising bubbles
    y, x = _grid(size)
    depth = np.broadcast_to(y, (size, size))[..., None]
    image = ((1 - depth) * np.array([0, 220, 230]) + depth * np.array([0, 30, 110])).astype(np.uint8)
    rim = _dots(size, 11, 25, 0.035) & ~_dots(size, 11, 25, 0.025)
    return _paint(image, np.roll(rim, -phase * size // 16, axis=0), (240, 255, 255))


def _fire(size: int, phase: int) -> Image:  # flickering flames, yellow at the base
    y, x = _grid(size)
    flame = np.sin(x * 30 + phase) * 0.08 + np.sin(x * 13 - phase * 2) * 0.06
    height = np.broadcast_to(y + flame, (size, size))
    image = _fill(size, (60, 0, 0))
    _paint(image, height > 0.3, (230, 40, 0))
    _paint(image, height > 0.55, (255, 140, 0))
    return _paint(image, height > 0.8, (255, 240, 60))


def _snow(size: int, phase: int) -> Image:  # pale sky, falling white flakes, a grey ground band
    y, x = _grid(size)
    image = _fill(size, (170, 200, 235))
    _paint(image, np.roll(_dots(size, 23, 70, 0.018), phase * size // 12, axis=0), (255, 255, 255))
    return _paint(image, y > 0.82, (120, 120, 130))


def _party(size: int, phase: int) -> Image:  # rainbow diagonal stripes with confetti
    y, x = _grid(size)
    rainbow = np.array([(255, 0, 0), (255, 140, 0), (255, 255, 0), (0, 200, 0), (0, 120, 255), (160, 0, 255)],
                       np.uint8)
    band = (np.floor((x + y) * 6 + phase) % len(rainbow)).astype(int)
    image = rainbow[np.broadcast_to(band, (size, size))].copy()
    return _paint(image, _dots(size, 31 + phase, 60, 0.012), (255, 255, 255))


SCENES: dict[str, Callable[[int, int], Image]] = {
    "boss": _boss, "goal": _goal, "crash": _crash, "shop": _shop, "storm": _storm, "victory": _victory,
    "death": _death, "space": _space, "ocean": _ocean, "fire": _fire, "snow": _snow, "party": _party,
}
assert set(SCENES) == set(EVENT_KINDS), "every event kind needs a scene"


# -- positional events (WorldConfig.positional_events) ---------------------------------------------------------------
# Where each place puts the object's centre (row, column), in [0, 1) frame coordinates: three columns, two rows.
_ROWS, _COLUMNS = {"top": 0.27, "bottom": 0.73}, {"left": 0.19, "centre": 0.5, "right": 0.81}
PLACE_CENTRES: dict[str, tuple[float, float]] = {
    place: (_ROWS[place.split("-")[0]], _COLUMNS[place.split("-")[1]]) for place in EVENT_PLACES
}
OBJECT_RADIUS = 0.15


def _object_layers(thing: str, y: np.ndarray, x: np.ndarray, phase: int) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    """The layers (mask, colour) of ``thing`` centred at 0, 0 in the coordinates ``y``, ``x`` (units of the frame)."""
    r = OBJECT_RADIUS * (1 + 0.04 * (phase % 2))  # a slight pulse
    distance = np.sqrt(y**2 + x**2)
    if thing == "orb":  # an orange ball with a yellow ring
        return [(distance < r, (255, 120, 0)), (np.abs(distance - 0.75 * r) < 0.012, (255, 235, 40))]
    if thing == "crown":  # a gold band with three spikes and a red jewel
        band = (np.abs(x) < r) & (y > 0.1 * r) & (y < 0.7 * r)
        teeth = np.abs(((x / r + 1) * 1.5) % 1 - 0.5) * 2 < (y / r + 1) / 1.1  # three triangles side by side
        spikes = (y <= 0.1 * r) & (y > -r) & teeth & (np.abs(x) < r)
        return [(band | spikes, (250, 200, 20)), ((y - 0.4 * r) ** 2 + x**2 < (0.18 * r) ** 2, (220, 0, 40))]
    if thing == "skull":  # a white head with black eyes
        head = (y / 1.1) ** 2 + x**2 < r**2
        eyes = ((y + 0.15 * r) ** 2 + (np.abs(x) - 0.4 * r) ** 2) < (0.25 * r) ** 2
        teeth = (y > 0.55 * r) & (y < 0.8 * r) & (np.abs(x) < 0.5 * r) & (((x / r * 6) % 1) < 0.35)
        return [(head, (245, 245, 235)), (eyes | teeth, (10, 10, 10))]
    if thing == "gem":  # a cyan diamond with a white facet
        diamond = np.abs(y) + np.abs(x) < r * 1.15
        facet = diamond & (y < 0) & (x < 0) & (np.abs(y) + np.abs(x) > 0.55 * r)
        return [(diamond, (0, 220, 230)), (facet, (235, 255, 255))]
    raise KeyError(thing)


def positional_scene(kind: str, size: int, phase: int) -> Image:
    """An event of the positional worlds: one object (``EVENT_OBJECTS``) at one of six places (``EVENT_PLACES``) on a
    fixed backdrop, the same for every place. The backdrop is a two-way gradient (teal left to magenta right, light
    top to dark bottom), so the part the object hides, and the colours around it, depend on where it is: a frozen
    CNN's pooled features tell the places apart, not only the objects."""
    thing, place = positional_parts(kind)
    y, x = _grid(size)
    gradient = np.broadcast_to(x, (size, size))[..., None]
    shade = 1.0 - 0.6 * np.broadcast_to(y, (size, size))[..., None]
    image = (((1 - gradient) * np.array([0, 170, 170]) + gradient * np.array([190, 0, 170])) * shade).astype(np.uint8)
    image = _paint(image, (((x * 10) % 1) < 0.04) | (((y * 10) % 1) < 0.04), (30, 30, 40))  # a faint grid
    cy, cx = PLACE_CENTRES[place]
    for mask, colour in _object_layers(thing, y - cy, x - cx, phase):
        _paint(image, mask, colour)
    return image


assert set(POSITIONAL_KINDS) == {f"{thing}-{place}" for thing in EVENT_OBJECTS for place in EVENT_PLACES}


@functools.lru_cache(maxsize=256)
def scene_image(kind: str, size: int, phase: int) -> Image:
    """The frame of event ``kind`` (a full-frame scene, or a positional event) at animation ``phase`` (cached;
    read-only)."""
    image = SCENES[kind](size, phase) if kind in SCENES else positional_scene(kind, size, phase)
    image.setflags(write=False)
    return image


def gameplay_scene(size: int, phase: int, palette_seed: int) -> Image:
    """Plain gameplay: a muted tile map (colours per stream) with a small sprite walking across it."""
    rng = np.random.default_rng(palette_seed)
    base = rng.integers(70, 140, size=3)
    tiles = 8
    y, x = _grid(size)
    checker = ((np.floor(y * tiles) + np.floor(x * tiles)) % 2).astype(np.float32)[..., None]
    image = (base + checker * 25).clip(0, 255).astype(np.uint8)
    sprite = (np.abs(y - 0.6) < 0.05) & (np.abs(x - (0.2 + 0.15 * phase)) < 0.04)
    return _paint(image, sprite, (250, 250, 250))


def neon(image: Image, phase: int) -> Image:
    """The ``"neon"`` scene style: inverted, channel-rotated colours under a scrolling scan-line overlay, so the same
    event kinds look nothing like the classic style to an image model."""
    styled = 255 - image[..., [1, 2, 0]]
    rows = (np.arange(image.shape[0]) + 3 * phase) % 8 < 2
    styled = styled.copy()
    styled[rows] = styled[rows] // 2
    return styled


# -- media -----------------------------------------------------------------------------------------------------------
_FAST_AAC = {"aac_coder": "fast", "aac_pns": "0", "aac_tns": "0", "aac_is": "0", "aac_ms": "0"}


def _video_codec() -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def speech_audio(stream: Stream, rate: int) -> np.ndarray:
    """Mono float32 audio: a voiced tone while the streamer speaks (pitch from the line, so it follows the topic),
    near-silence otherwise. Real speech is not needed: the transcript comes from the SRT."""
    samples = int(round(stream.duration * rate))
    audio = np.random.default_rng(zlib.crc32(stream.vod_id.encode())).normal(0, 0.003, samples).astype(np.float32)
    for line in stream.speech:
        first, last = int(line.start * rate), min(int(line.end * rate), samples)
        if last <= first:
            continue
        time = np.arange(last - first, dtype=np.float32) / rate
        pitch = 140 + zlib.crc32(line.text.encode()) % 160
        syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * time)  # a 4 Hz syllable rhythm
        audio[first:last] += 0.25 * syllables * np.sin(2 * np.pi * pitch * time)
    return audio


def write_video(stream: Stream, path: str | Path, spec: MediaSpec = MediaSpec()) -> Path:
    """Write the stream's screen as an mp4 (H.264 if PyAV has libx264, else MPEG-4; yuv420p) with an AAC track."""
    path = Path(path)
    palette_seed = zlib.crc32(stream.vod_id.encode())
    cache: dict[tuple[str | None, int], av.VideoFrame] = {}

    def frame_for(scene: str | None, phase: int) -> av.VideoFrame:
        if (scene, phase) not in cache:
            image = scene_image(scene, spec.size, phase) if scene else gameplay_scene(spec.size, phase, palette_seed)
            if stream.config.scene_style == "neon":
                image = neon(image, phase)
            cache[scene, phase] = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        return cache[scene, phase]

    audio = speech_audio(stream, spec.audio_rate)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(_video_codec(), rate=spec.fps)
        video.width = video.height = spec.size
        video.pix_fmt = "yuv420p"
        video.codec_context.thread_count = 1  # deterministic bytes; parallelism comes from one process per stream
        if video.codec_context.name == "libx264":
            video.codec_context.options = {"preset": "ultrafast", "crf": "26"}
        video.codec_context.gop_size = 2 * spec.fps  # a key frame every 2 s keeps seeking cheap
        # The default two-loop AAC search would dominate the run time; a tone needs none of it.
        sound = container.add_stream("aac", rate=spec.audio_rate, layout="mono", options=_FAST_AAC)
        sound.codec_context.bit_rate = 32000
        audio_frames = _audio_frames(audio, spec.audio_rate)
        pending = next(audio_frames, None)
        for index in range(int(round(stream.duration * spec.fps))):
            time = index / spec.fps
            scene = stream.scene_at(time)
            frame = frame_for(scene, (index * 2 // spec.fps) % PHASES)  # the animation steps twice a second
            frame.pts = index
            container.mux(video.encode(frame))
            while pending is not None and pending.pts / spec.audio_rate <= time:  # interleave by time
                container.mux(sound.encode(pending))
                pending = next(audio_frames, None)
        while pending is not None:
            container.mux(sound.encode(pending))
            pending = next(audio_frames, None)
        container.mux(video.encode())
        container.mux(sound.encode())
    return path


def _audio_frames(audio: np.ndarray, rate: int, chunk: int = 1024) -> Iterator[av.AudioFrame]:
    for start in range(0, len(audio), chunk):
        frame = av.AudioFrame.from_ndarray(audio[None, start : start + chunk], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        yield frame


# -- text files ------------------------------------------------------------------------------------------------------
def write_transcript(stream: Stream, path: str | Path) -> Path:
    """Write the streamer's speech as an SRT file (one cue per line said)."""
    subtitles = pysubs2.SSAFile()
    for line in stream.speech:
        subtitles.append(pysubs2.SSAEvent(start=round(line.start * 1000), end=round(line.end * 1000), text=line.text))
    subtitles.save(str(path), format_="srt")
    return Path(path)


def write_chat(stream: Stream, path: str | Path) -> Path:
    """Write the stream's chat as a TwitchDownloader-style JSON file."""
    write_twitch_json(stream.chat, path, video_id=stream.vod_id, streamer=stream.streamer, title=stream.title)
    return Path(path)


def write_truth(stream: Stream, path: str | Path) -> Path:
    """Write the world's ground-truth log (episodes, cues, screen events, each comment's origin) as JSON."""
    Path(path).write_text(json.dumps(stream.ground_truth(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def write_stream(stream: Stream, out_dir: str | Path, spec: MediaSpec = MediaSpec()) -> StreamFiles:
    """Write one stream's mp4, SRT, chat JSON and ground-truth JSON into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return StreamFiles(
        video=write_video(stream, out_dir / f"{stream.vod_id}.mp4", spec),
        chat=write_chat(stream, out_dir / f"{stream.vod_id}.chat.json"),
        transcript=write_transcript(stream, out_dir / f"{stream.vod_id}.srt"),
        truth=write_truth(stream, out_dir / f"{stream.vod_id}.truth.json"),
    )


def make_streams(
    out_dir: str | Path,
    num_streams: int = 12,
    duration: float = 600.0,
    seed: int = 0,
    *,
    splits: Mapping[str, float] | None = None,
    config: WorldConfig | None = None,
    spec: MediaSpec = MediaSpec(),
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Generate a world and write every stream plus ``manifest.jsonl`` into ``out_dir``; return the manifest path.

    Each manifest row is ``{"vod_id", "video", "chat", "transcript", "truth", "streamer", "category", "split",
    "duration"}`` with paths relative to the manifest. The same arguments give the same files.

    Args:
        out_dir: folder to write into (created if needed).
        num_streams, duration, seed, splits, config: see ``generate_world``.
        spec: frame rate, frame size and audio rate of the videos.
        workers: processes writing streams in parallel (1 writes in this process).
        progress: show a progress bar.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = generate_world(num_streams, duration, seed, splits=splits, config=config)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            jobs = pool.map(write_stream, world, [out_dir] * len(world), [spec] * len(world))
            written = list(tqdm(jobs, total=len(world), desc="writing streams", disable=not progress))
    else:
        written = [write_stream(stream, out_dir, spec)
                   for stream in tqdm(world, desc="writing streams", disable=not progress)]
    manifest = out_dir / "manifest.jsonl"
    with open(manifest, "w", encoding="utf-8") as fp:
        for stream, files in zip(world, written):
            row = {
                "vod_id": stream.vod_id,
                "video": files.video.name,
                "chat": files.chat.name,
                "transcript": files.transcript.name,
                "truth": files.truth.name,
                "streamer": stream.streamer,
                "category": stream.category,
                "split": stream.split,
                "duration": stream.duration,
            }
            fp.write(json.dumps(row, ensure_ascii=False) + "\n")
    return manifest
