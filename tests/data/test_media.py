import warnings

import numpy as np
import pytest
from media_fixtures import (
    dominant_hz,
    nearest_colour_second,
    tone_hz_at,
    write_not_media,
    write_test_video,
    write_truncated_copy,
)

from hf_livechat.data.media import (
    MediaError,
    NoAudioError,
    TruncatedMediaWarning,
    decode_audio,
    iter_frames_1fps,
    probe_media,
)

# (codec, audio codec, container): mpeg4 has no B-frames; x264 reorders frames; Matroska seeks by its own index.
VARIANTS = [("mpeg4", "aac", ".mp4"), ("libx264", "mp2", ".mp4"), ("libx264", "aac", ".mkv")]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    return {
        variant: write_test_video(
            folder / f"clip_{variant[0]}_{variant[1]}{variant[2]}",
            seconds=7,
            fps=25,
            codec=variant[0],
            audio_codec=variant[1],
        )
        for variant in VARIANTS
    }


@pytest.fixture(scope="module")
def video(videos):
    return videos[VARIANTS[0]]


def test_probe_media_reads_the_header(video, tmp_path):
    info = probe_media(video)
    assert info.duration == pytest.approx(7.0, abs=0.1)
    assert (info.fps, info.width, info.height) == (25.0, 64, 48)
    assert info.has_video and info.has_audio and info.audio_sample_rate == 16000

    silent = probe_media(write_test_video(tmp_path / "silent.mp4", audio=False))
    assert not silent.has_audio and silent.audio_sample_rate is None
    audio_only = probe_media(write_test_video(tmp_path / "voice.m4a", video=False))
    assert not audio_only.has_video and audio_only.fps is None and audio_only.has_audio


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v))
def test_one_frame_per_second_is_the_frame_shown_at_that_second(videos, variant):
    frames = list(iter_frames_1fps(videos[variant], size=None))
    assert [t for t, _ in frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert [nearest_colour_second(image) for _, image in frames] == [0, 1, 2, 3, 4, 5, 6]
    image = frames[0][1]
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v))
def test_window_and_rate(videos, variant):
    frames = list(iter_frames_1fps(videos[variant], fps=2.0, start=2.0, end=5.0))
    assert [t for t, _ in frames] == [2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    assert [nearest_colour_second(image) for _, image in frames] == [2, 2, 3, 3, 4, 4]


def test_start_between_frames_takes_the_next_frame(video):
    # Ticks 1.97, 2.97, 3.97: the first frame at or after 1.97 is the one at 2.0 (25 fps), showing second 2.
    frames = list(iter_frames_1fps(video, start=1.97, end=4.0, size=None))
    assert [t for t, _ in frames] == pytest.approx([1.97, 2.97, 3.97])
    assert [nearest_colour_second(image) for _, image in frames] == [2, 3, 4]


def test_rate_above_the_video_rate_repeats_frames(tmp_path):
    slow = write_test_video(tmp_path / "slow.mp4", seconds=3, fps=2, audio=False)
    frames = list(iter_frames_1fps(slow, fps=4.0, size=None))
    assert [t for t, _ in frames] == [k / 4 for k in range(12)]  # one frame per tick over the whole 3 s
    # Frames at 0, 0.5, ..., 2.5: each tick takes the first frame at or after it (0.75 -> the frame at 1.0), and
    # tick 2.75 the last frame, still on screen until 3.0.
    assert [nearest_colour_second(image) for _, image in frames] == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]


@pytest.mark.parametrize(
    ("size", "resize", "shape"),
    [((224, 224), "shorter", (224, 299, 3)), ((32, 40), "exact", (32, 40, 3)), ((24, 24), "shorter", (24, 32, 3))],
)
def test_resize(video, size, resize, shape):
    _, image = next(iter_frames_1fps(video, size=size, resize=resize))
    assert image.shape == shape
    assert nearest_colour_second(image) == 0


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v))
def test_decode_audio_window_is_aligned(videos, variant):
    audio = decode_audio(videos[variant], start=1.5, end=3.5)
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size == 32000
    # [1.5, 2) is second 1, [2, 3) second 2, [3, 3.5) second 3; stay 0.1 s clear of the pitch steps.
    assert dominant_hz(audio[1600:6400]) == pytest.approx(tone_hz_at(1), abs=5)
    assert dominant_hz(audio[9600:22400]) == pytest.approx(tone_hz_at(2), abs=5)
    assert dominant_hz(audio[25600:30400]) == pytest.approx(tone_hz_at(3), abs=5)


def test_decode_audio_whole_file_and_resampling(video):
    audio = decode_audio(video)
    assert audio.size == pytest.approx(7 * 16000, abs=1100)  # AAC pads up to one 1024-sample frame
    assert 0.2 < np.abs(audio).max() < 0.4  # the 0.3 amplitude tone, mono
    low = decode_audio(video, sample_rate=8000, start=4.0, end=5.0)
    assert low.size == 8000
    assert dominant_hz(low[800:-800], sample_rate=8000) == pytest.approx(tone_hz_at(4), abs=5)


def test_file_without_audio_raises_no_audio_error(tmp_path):
    silent = write_test_video(tmp_path / "silent.mp4", audio=False)
    with pytest.raises(NoAudioError, match="silent.mp4.*no audio"):
        decode_audio(silent)
    assert issubclass(NoAudioError, MediaError) and issubclass(MediaError, ValueError)


def test_audio_only_file_has_no_frames(tmp_path):
    voice = write_test_video(tmp_path / "voice.m4a", video=False)
    with pytest.raises(MediaError, match="voice.m4a.*no video stream"):
        next(iter_frames_1fps(voice))
    assert decode_audio(voice).size > 0


def test_not_a_media_file(tmp_path):
    fake = write_not_media(tmp_path / "fake.mp4")
    for call in (probe_media, lambda p: next(iter_frames_1fps(p)), decode_audio):
        with pytest.raises(MediaError, match="fake.mp4.*not a readable media file"):
            call(fake)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe_media(tmp_path / "missing.mp4")


def test_truncated_file_yields_what_is_readable_with_a_warning(tmp_path):
    full = write_test_video(tmp_path / "full.mp4", seconds=10, fps=10)
    cut = write_truncated_copy(full, tmp_path / "cut.mp4", keep=0.5)
    assert probe_media(cut).duration == pytest.approx(10.0, abs=0.1)  # the header still claims the full length

    with pytest.warns(TruncatedMediaWarning) as caught:
        frames = list(iter_frames_1fps(cut, size=None))
    assert 2 <= len(frames) < 10
    assert [nearest_colour_second(image) for _, image in frames] == list(range(len(frames)))
    warning = caught[0].message
    assert warning.declared_duration == pytest.approx(10.0, abs=0.1)
    assert frames[-1][0] < warning.readable_duration < 10.0
    assert "cut.mp4" in str(warning)

    with pytest.warns(TruncatedMediaWarning):
        audio = decode_audio(cut)
    assert 0 < audio.size < 9 * 16000


def test_window_before_the_cut_decodes_without_warning(tmp_path):
    cut = write_truncated_copy(write_test_video(tmp_path / "full.mp4", seconds=10, fps=10), tmp_path / "cut.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [t for t, _ in iter_frames_1fps(cut, end=2.0)] == [0.0, 1.0]
        assert decode_audio(cut, end=1.0).size == 16000


@pytest.mark.parametrize(
    "kwargs", [{"fps": 0}, {"start": -1.0}, {"start": 3.0, "end": 3.0}, {"resize": "crop"}, {"size": (0, 10)}]
)
def test_bad_arguments(video, kwargs):
    with pytest.raises(ValueError):
        next(iter_frames_1fps(video, **kwargs))
