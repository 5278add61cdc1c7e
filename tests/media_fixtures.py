"""Tiny test media written with PyAV: a video whose solid colour changes every second, an optional stepped tone,
audio-only files, a file cut short, and bytes that are not media at all.

The colour of second ``s`` is ``colour_at(s)``; :func:`nearest_colour_second` maps a decoded frame back to the second
it came from, so a test can check that the frame sampled for tick ``t`` really is the frame shown at ``t``; the tone's
pitch ``tone_hz_at(s)`` does the same for audio (see :func:`dominant_hz`).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

# Saturated colours far apart in RGB, so that yuv420p + lossy coding cannot turn one into another.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 25),
    (25, 230, 25),
    (25, 25, 230),
    (230, 230, 25),
    (230, 25, 230),
    (25, 230, 230),
    (240, 240, 240),
    (20, 20, 20),
    (128, 64, 0),
    (0, 128, 64),
    (64, 0, 128),
    (128, 128, 128),
)


def colour_at(second: int) -> tuple[int, int, int]:
    """The solid colour the test video shows during ``[second, second + 1)``."""
    return PALETTE[second % len(PALETTE)]


def nearest_colour_second(image: np.ndarray) -> int:
    """Index into :data:`PALETTE` of the colour closest to the mean colour of ``image`` (H x W x 3)."""
    mean = image.reshape(-1, 3).mean(axis=0)
    return int(np.argmin(((np.asarray(PALETTE) - mean) ** 2).sum(axis=1)))


def write_test_video(
    path: str | Path,
    *,
    seconds: int = 6,
    fps: int = 10,
    width: int = 64,
    height: int = 48,
    codec: str = "mpeg4",
    audio: bool = True,
    audio_codec: str = "aac",
    sample_rate: int = 16000,
    video: bool = True,
) -> Path:
    """Write an mp4/mkv (by suffix) of ``seconds`` seconds: solid colour frames changing each second (see
    :func:`colour_at`) and a sine tone changing pitch each second (see :func:`tone_hz_at`).

    The mp4 index goes first (``faststart``), as streaming services do, so a copy cut short still opens.
    """
    path = Path(path)
    options = {"movflags": "faststart"} if path.suffix in (".mp4", ".m4a", ".mov") else {}
    with av.open(str(path), "w", options=options) as container:
        # Every stream must be added and configured before the first packet is muxed (that writes the header).
        video_stream = audio_stream = None
        if video:
            video_stream = container.add_stream(codec, rate=fps)
            video_stream.width, video_stream.height, video_stream.pix_fmt = width, height, "yuv420p"
            if codec == "libx264":
                video_stream.options = {"preset": "ultrafast", "crf": "18"}
        if audio:
            audio_stream = container.add_stream(audio_codec, rate=sample_rate)
            audio_stream.layout = "mono"
        if video_stream is not None:
            for index in range(seconds * fps):
                image = np.empty((height, width, 3), dtype=np.uint8)
                image[:] = colour_at(index // fps)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = index
                container.mux(video_stream.encode(frame))
            container.mux(video_stream.encode())
        if audio_stream is not None:
            # Encoders take different sample formats (aac: fltp, mp2: s16): convert the tone to the first one offered.
            audio_format = audio_stream.codec_context.codec.audio_formats[0].name
            converter = av.AudioResampler(format=audio_format, layout="mono", rate=sample_rate)
            samples = sine_tone(seconds, sample_rate=sample_rate)
            chunk = audio_stream.codec_context.frame_size or 1024
            for offset in range(0, samples.size, chunk):
                frame = av.AudioFrame.from_ndarray(
                    samples[None, offset : offset + chunk], format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = sample_rate, offset
                for converted in converter.resample(frame):
                    container.mux(audio_stream.encode(converted))
            container.mux(audio_stream.encode())
    return path


def tone_hz_at(second: int) -> float:
    """The pitch of the test audio during ``[second, second + 1)``: it steps each second, like the colours."""
    return 300.0 + 100.0 * (second % 8)


def sine_tone(seconds: float, *, sample_rate: int = 16000, amplitude: float = 0.3) -> np.ndarray:
    """The float32 tone :func:`write_test_video` puts in its audio track: ``tone_hz_at(s)`` during second ``s``."""
    seconds_of_samples = np.arange(int(seconds * sample_rate)) // sample_rate
    frequency = 300.0 + 100.0 * (seconds_of_samples % 8)
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate  # phase-continuous across the steps
    return (amplitude * np.sin(phase)).astype(np.float32)


def dominant_hz(samples: np.ndarray, sample_rate: int = 16000) -> float:
    """The strongest frequency in ``samples``."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / sample_rate)[np.argmax(spectrum)])


def write_truncated_copy(source: str | Path, destination: str | Path, *, keep: float = 0.5) -> Path:
    """Copy the first ``keep`` fraction of ``source``'s bytes: a download that stopped early."""
    data = Path(source).read_bytes()
    destination = Path(destination)
    destination.write_bytes(data[: int(len(data) * keep)])
    return destination


def write_not_media(path: str | Path) -> Path:
    """Write a file with a video suffix whose bytes are not media."""
    path = Path(path)
    path.write_bytes(b"this is not a video, only text pretending to be one\n" * 50)
    return path
