"""Live speech: the stream's audio transcribed in rolling chunks on a worker thread, beside the commenter.

The decoder hands audio to :meth:`LiveTranscriber.feed` as it arrives (16 kHz mono). Audio is cut into chunks at
the end of an utterance (``pause`` seconds of quiet after speech) or after ``chunk_seconds``, whichever comes first.
A voice-activity gate (frame energy over ``vad_threshold`` RMS) keeps silence away from the model: a chunk without
speech is dropped before ASR, so a quiet stream costs nothing.

Chunks wait for the worker in a queue of at most ``max_queue`` chunks; when ASR falls behind, the oldest chunk is
dropped, counted in ``dropped_seconds`` and logged: speech is lost, the stream is never held up. The worker's
:class:`TranscriptSegment` s (on the stream clock) are collected with :meth:`drain` (also bounded).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from pathlib import Path

import numpy as np

from ..data.transcripts import ASR_SAMPLE_RATE, TranscriptSegment, transcribe

logger = logging.getLogger(__name__)

_VAD_FRAME = 480  # 30 ms at 16 kHz


def asr_engine_for(model: str | os.PathLike) -> str:
    """``"faster-whisper"`` for a CTranslate2 folder (it holds ``model.bin``) or a faster-whisper size name, else
    ``"transformers"``."""
    path = Path(model)
    if path.is_dir():
        return "faster-whisper" if (path / "model.bin").is_file() else "transformers"
    sizes = {"tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v2", "large-v3", "turbo"}
    return "faster-whisper" if str(model) in sizes else "transformers"


class LiveTranscriber:
    """Rolling-chunk ASR on a worker thread.

    Args:
        model: a Whisper checkpoint: a CTranslate2 folder or size name (faster-whisper), or a transformers id/folder.
        engine: ``"faster-whisper"`` or ``"transformers"``; by default read from ``model`` (:func:`asr_engine_for`).
        chunk_seconds: longest chunk sent to the model.
        pause: seconds of quiet that end an utterance (and its chunk).
        vad_threshold: RMS of a 30 ms frame above which it counts as speech (0.01 is about -40 dBFS).
        max_queue: chunks waiting for the model at most; older ones are dropped when it falls behind.
        language: the spoken language, e.g. ``"en"`` (``None``: detected; English-only models ignore it).
    """

    def __init__(
        self,
        model: str | os.PathLike,
        engine: str | None = None,
        *,
        chunk_seconds: float = 5.0,
        pause: float = 0.6,
        vad_threshold: float = 0.01,
        max_queue: int = 4,
        max_segments: int = 256,
        language: str | None = "en",
        device: str | None = None,
    ) -> None:
        if chunk_seconds <= 0 or pause <= 0:
            raise ValueError("chunk_seconds and pause must be positive")
        self.model = os.fspath(model)
        self.engine = engine or asr_engine_for(model)
        self.chunk_seconds = chunk_seconds
        self.pause = pause
        self.vad_threshold = vad_threshold
        self.language = language
        self.device = device
        self.chunks_transcribed = 0
        self.silent_seconds = 0.0  # gated out by the VAD
        self.dropped_seconds = 0.0  # lost because ASR fell behind
        self.asr_seconds = 0.0  # wall time spent in the model
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._segments: deque[TranscriptSegment] = deque(maxlen=max_segments)
        self._lock = threading.Lock()
        self._buffer: list[np.ndarray] = []
        self._buffer_start: float | None = None
        self._buffered = 0  # samples in the buffer
        self._speech = 0  # samples of speech in the buffer
        self._quiet = 0  # samples of quiet since the last speech
        self._thread = threading.Thread(target=self._work, name="live-asr", daemon=True)

    def start(self) -> "LiveTranscriber":
        self._thread.start()
        return self

    # -- audio in (decoder thread) -------------------------------------------------------------------------------
    def feed(self, time: float, samples: np.ndarray) -> None:
        """Adds audio that starts at stream time ``time``. Never blocks."""
        if self._buffer_start is None:
            self._buffer_start = time
        self._buffer.append(samples)
        self._buffered += samples.size
        frames = samples[: samples.size // _VAD_FRAME * _VAD_FRAME].reshape(-1, _VAD_FRAME)
        for loud in np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) > self.vad_threshold if frames.size else ():
            if loud:
                self._speech += _VAD_FRAME
                self._quiet = 0
            else:
                self._quiet += _VAD_FRAME
        utterance_over = self._speech and self._quiet >= self.pause * ASR_SAMPLE_RATE
        if utterance_over or self._buffered >= self.chunk_seconds * ASR_SAMPLE_RATE:
            self._cut()
        elif not self._speech and self._buffered >= self.pause * ASR_SAMPLE_RATE:
            self._cut()  # nothing but quiet so far: let it go rather than hold it

    def _cut(self) -> None:
        start, audio = self._buffer_start, np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.float32)
        speech = self._speech
        self._buffer, self._buffer_start, self._buffered, self._speech, self._quiet = [], None, 0, 0, 0
        seconds = audio.size / ASR_SAMPLE_RATE
        if speech < 0.1 * ASR_SAMPLE_RATE:  # the VAD gate: silence never reaches the model
            self.silent_seconds += seconds
            return
        while True:
            try:
                self._queue.put_nowait((start, audio))
                return
            except queue.Full:
                try:
                    _, old = self._queue.get_nowait()
                except queue.Empty:
                    continue
                self.dropped_seconds += old.size / ASR_SAMPLE_RATE
                logger.warning("ASR is falling behind: dropped %.1f s of audio (%.1f s in all)", old.size / ASR_SAMPLE_RATE, self.dropped_seconds)

    def flush(self) -> None:
        """Sends what is buffered (the end of the stream)."""
        if self._buffered:
            self._cut()

    # -- the worker ----------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            start, audio = item
            began = _now()
            try:
                pieces = transcribe(audio, engine=self.engine, model=self.model, language=self.language, device=self.device)
            except BaseException as error:
                self.error = error
                logger.error("live ASR stopped: %s", error)
                return
            self.asr_seconds += _now() - began
            self.chunks_transcribed += 1
            with self._lock:
                for piece in pieces:
                    self._segments.append(TranscriptSegment(start + piece.start, start + piece.end, piece.text))

    def drain(self) -> list[TranscriptSegment]:
        with self._lock:
            segments = list(self._segments)
            self._segments.clear()
        return segments

    def close(self, timeout: float | None = 60.0) -> None:
        """Transcribes what is queued, then stops the worker."""
        self.flush()
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def summary(self) -> str:
        return (
            f"ASR: {self.chunks_transcribed} chunks in {self.asr_seconds:.1f} s, {self.silent_seconds:.0f} s of silence "
            f"skipped, {self.dropped_seconds:.1f} s of audio dropped to keep up"
        )


def _now() -> float:
    import time

    return time.monotonic()
