import av
import numpy as np
import pytest
from media_fixtures import (
    colour_at,
    dominant_hz,
    tone_hz_at,
    write_not_media,
    write_test_video,
    write_truncated_copy,
)

from hf_livechat.data.media import MediaError, TruncatedMediaWarning, decode_audio, probe_media
from hf_livechat.pipelines.render import render_comments
from hf_livechat.pipelines.comment_files import CommentFormatError

SIZE = (160, 96)  # width, height
FONT_SIZE = 16
LANE_BAND = slice(0, 2 * FONT_SIZE)  # the pixel rows of the top lanes
COMMENTS = [{"time": 2.0, "comment": "omg boss", "score": -1.0}, {"time": 2.0, "comment": "WWWWWW"}]


def frames_of(path):
    with av.open(str(path)) as container:
        origin = container.start_time / av.time_base if container.start_time is not None else 0.0
        return [(frame.time - origin, frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]


def stream_types(path):
    with av.open(str(path)) as container:
        return {stream.type: stream.codec_context.name for stream in container.streams}


def light_pixels(image):
    """Pixels near white: the comment text (the test video's colours are all saturated, none is near white)."""
    return int((image.min(axis=2) > 200).sum())


def dark_pixels(image):
    return int((image.max(axis=2) < 60).sum())


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_test_video(
        tmp_path_factory.mktemp("render") / "vod.mp4", seconds=5, fps=10, width=SIZE[0], height=SIZE[1]
    )


@pytest.fixture(scope="module")
def rendered(source):
    return render_comments(source, COMMENTS, source.with_name("vod.danmaku.mp4"), font_size=FONT_SIZE, progress=False)


def test_output_keeps_video_audio_and_length(source, rendered):
    assert stream_types(rendered) == {"video": "h264" if "libx264" in av.codecs_available else "mpeg4", "audio": "aac"}
    before, after = probe_media(source), probe_media(rendered)
    assert (after.width, after.height, after.fps) == (before.width, before.height, before.fps)
    assert after.duration == pytest.approx(before.duration, abs=0.1)
    assert abs(len(frames_of(rendered)) - len(frames_of(source))) <= 1


def test_audio_is_the_source_audio(source, rendered):
    audio = decode_audio(rendered)
    assert audio.size == pytest.approx(5 * 16000, abs=1024)
    for second in range(5):
        assert dominant_hz(audio[second * 16000 + 2000 : (second + 1) * 16000 - 2000]) == pytest.approx(
            tone_hz_at(second), abs=15
        )


def test_comments_appear_at_their_time_and_not_before(source, rendered):
    source_frames, frames = frames_of(source), frames_of(rendered)
    for (time, image), (_, original) in zip(frames, source_frames):
        if time < 2.0:
            # Untouched frames only differ by the re-encoding.
            assert np.abs(image.astype(int) - original.astype(int)).mean() < 3, time
            assert light_pixels(image[LANE_BAND]) == 0, time
        elif 2.5 <= time <= 4.5:  # the text has entered the frame
            assert light_pixels(image[LANE_BAND]) > 20, time  # white text...
            assert dark_pixels(image[LANE_BAND]) > 20, time  # ...with its black outline
    # The comments stay in their lanes: the rest of the frame keeps the video's colour.
    time, image = next((t, im) for t, im in frames if t >= 3.0)
    assert np.abs(image[3 * FONT_SIZE :].reshape(-1, 3).mean(axis=0) - colour_at(int(time))).max() < 6


def test_text_scrolls_right_to_left(rendered):
    def leftmost_text_column(image):
        columns = np.nonzero((image[LANE_BAND].min(axis=2) > 200).any(axis=0))[0]
        return columns.min()

    frames = dict((round(t, 1), image) for t, image in frames_of(rendered))
    positions = [leftmost_text_column(frames[t]) for t in (2.5, 3.0, 3.5, 4.0)]
    assert positions == sorted(positions, reverse=True) and positions[0] > positions[-1] + 20


def test_a_video_without_audio_renders(tmp_path):
    silent = write_test_video(tmp_path / "silent.mp4", seconds=2, fps=10, width=64, height=48, audio=False)
    out = render_comments(silent, [{"time": 0.5, "comment": "hi"}], tmp_path / "out.mp4", progress=False)
    assert set(stream_types(out)) == {"video"}
    assert len(frames_of(out)) == 20


def test_audio_the_container_cannot_hold_is_re_encoded_to_aac(tmp_path):
    # 16-bit PCM in Matroska: an MP4 cannot carry it as it is.
    pcm = write_test_video(tmp_path / "pcm.mkv", seconds=3, fps=10, width=64, height=48, audio_codec="pcm_s16le")
    out = render_comments(pcm, [], tmp_path / "out.mp4", progress=False)
    assert stream_types(out)["audio"] == "aac"
    audio = decode_audio(out)
    assert dominant_hz(audio[18000:30000]) == pytest.approx(tone_hz_at(1), abs=15)
    # ...while Matroska output copies it untouched.
    assert stream_types(render_comments(pcm, [], tmp_path / "out.mkv", progress=False))["audio"] == "pcm_s16le"


def test_corrupt_input_names_the_file(tmp_path):
    bad = write_not_media(tmp_path / "broken.mp4")
    with pytest.raises(MediaError, match=r"broken\.mp4: not a readable video"):
        render_comments(bad, [], tmp_path / "out.mp4", progress=False)
    audio_only = write_test_video(tmp_path / "voice.m4a", seconds=1, video=False)
    with pytest.raises(MediaError, match=r"voice\.m4a: no video stream"):
        render_comments(audio_only, [], tmp_path / "out.mp4", progress=False)
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob("*.partial.*"))


def test_truncated_input_renders_what_is_readable_with_a_warning(source, tmp_path):
    cut = write_truncated_copy(source, tmp_path / "cut.mp4", keep=0.5)
    with pytest.warns(TruncatedMediaWarning, match=r"cut\.mp4: only"):
        out = render_comments(cut, COMMENTS, tmp_path / "out.mp4", progress=False)
    assert 5 < len(frames_of(out)) < 50


def test_bad_comments_and_outputs_fail_before_writing(source, tmp_path):
    with pytest.raises(CommentFormatError, match="comment 0: 'time' is missing"):
        render_comments(source, [{"comment": "when?"}], tmp_path / "out.mp4", progress=False)
    with pytest.raises(ValueError, match=r"must end in one of \.mp4"):
        render_comments(source, [], tmp_path / "out.avi", progress=False)
    with pytest.raises(ValueError, match="not a TrueType"):
        render_comments(source, [], tmp_path / "out.mp4", font=tmp_path / "missing.ttf", progress=False)
    assert not any(tmp_path.iterdir())
