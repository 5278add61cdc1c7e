"""Builds a LiveChat dataset from VODs: chat logs, video frames at 1 fps, speech transcripts -> Parquet shards + card.

One shard per VOD, written atomically (temporary file, then rename) and recorded in `build_state.json`; a build
that is killed and restarted skips the VODs already written and produces the same dataset, with no clip lost or
duplicated. A VOD that cannot be read (corrupt video, malformed chat log) is skipped and reported in the summary
(or raises, with `on_error="raise"`); shards already written are never touched.

A VOD may come without its video (a chat log, maybe with a transcript): its clips are cut on the chat's clock with
the same windows, and its rows mark the missing inputs as absent (`has_video`, `has_transcript`), never as zeros.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..chat import ChatStats, read_chat
from ..clips import Clip, ClipConfig, make_clips
from ..media import MediaError, probe_media
from ..transcripts import TranscriptError, read_transcript, transcribe
from .frames import iter_run_frames
from .manifest import VodSource
from .schema import comment_feature
from .state import VodBuildOptions
from .vod_builder import BuildSummary, VodShardBuilder


logger = logging.getLogger(__name__)


def clip_features(feature_dim: int | None, keep_frames: bool = False):
    """The schema of one clip row.

    `has_video` is false for a clip of a chat-only VOD (no frame times; `video_features`, when the column exists,
    holds 0 frames); `has_transcript` is false when the VOD has no transcript (no file, no ASR), and `transcript` is
    then `None`, while `""` with `has_transcript` true means that nobody spoke in the window."""
    from datasets import Array2D, Features, Image, List, Value

    features = {
        "clip_id": Value("string"),
        "vod_id": Value("string"),
        "streamer": Value("string"),
        "category": Value("string"),
        "clip_index": Value("int32"),
        "start": Value("float32"),
        "context_end": Value("float32"),
        "end": Value("float32"),
        "input_end": Value("float32"),
        "has_video": Value("bool"),
        "has_transcript": Value("bool"),
        "frame_times": List(Value("float32")),
        "transcript": Value("string"),
        "transcript_segments": List({"start": Value("float32"), "end": Value("float32"), "text": Value("string")}),
        "context_comments": comment_feature(),
        "response_comments": comment_feature(),
    }
    if feature_dim:
        features["video_features"] = Array2D(shape=(None, feature_dim), dtype="float32")
    if keep_frames:
        features["frames"] = List(Image())
    return Features(features)


@dataclass
class BuildOptions(VodBuildOptions):
    """Everything that decides the content of a LiveChat build (a restart must use the same options): the shared
    `VodBuildOptions` (chat filters, frame model and size, splits, bad records) and

    Attributes:
        clips: windowing and selection (`ClipConfig()`: 30 s clips, 20 s context, 3 busiest 10-minute stretches x 20).
        keep_frames: also store the decoded frames (JPEG) for end-to-end training.
        asr_model: ASR model (id or path) for VODs without a transcript file; `None` leaves them without speech.
        asr_engine: `"transformers"` or `"faster-whisper"`.
    """

    clips: ClipConfig = field(default_factory=ClipConfig)
    keep_frames: bool = False
    asr_model: str | None = None
    asr_engine: str = "transformers"


class LiveChatDatasetBuilder(VodShardBuilder):
    """Builds (or resumes) a LiveChat dataset folder. See `build_livechat_dataset`."""

    unit = "clips"
    options_class = BuildOptions
    recoverable_errors = VodShardBuilder.recoverable_errors + (TranscriptError,)

    # -- per VOD -----------------------------------------------------------------------------------------------
    def _transcript(self, source: VodSource, has_audio: bool, notes: Counter):
        """The VOD's transcript cues, or `None` when it has none (no file, no ASR, nothing to transcribe)."""
        if source.transcript is not None:
            return read_transcript(source.transcript)
        if self.options.asr_model is None:
            notes["vods_without_transcript"] += 1
            return None
        if not has_audio:
            notes["vods_without_audio"] += 1
            return None
        return transcribe(source.video, engine=self.options.asr_engine, model=self.options.asr_model)

    def _frames(self, source: VodSource, clips: list[Clip]) -> dict[int, np.ndarray]:
        """Decodes each run of input frames once; returns frame index (round(t * fps)) -> RGB frame."""
        fps = self.options.clips.fps
        size = (self.options.frame_size, self.options.frame_size)
        return dict(iter_run_frames(source.video, [clip.frame_times for clip in clips], fps, size))

    def build_vod(self, source: VodSource, split: str, summary: BuildSummary) -> list[dict]:
        info = probe_media(source.video) if source.has_video else None
        if info is not None and not info.has_video:
            raise MediaError(f"{source.video}: no video stream")
        stats = ChatStats()
        messages = list(read_chat(source.chat, errors=self.options.bad_records, filters=self.options.filters, stats=stats))
        if info is not None:
            duration, has_audio = info.duration or 0.0, info.has_audio
        else:
            # The chat's own clock: the stream lasted at least until its last message.
            duration = source.duration if source.duration is not None else max((m.time for m in messages), default=0.0)
            has_audio = False
            summary.notes["vods_without_video"] += 1
        transcript = self._transcript(source, has_audio, summary.notes)
        clips = make_clips(
            source.vod_id, messages, transcript, duration, self.options.clips, {"streamer": source.streamer, "category": source.category}
        )
        if source.has_video:
            rows = self._video_rows(source, clips, transcript is not None, summary)
        else:
            rows = [clip.to_row(has_video=False, has_transcript=transcript is not None) for clip in clips]
            if self._store_features:
                # A build that stores frame features gives a chat-only clip 0 frames, so that every shard has one schema.
                no_frames = np.zeros((0, self._encoder_feature_dim()), dtype=np.float32)
                for row in rows:
                    row["video_features"] = no_frames
            if self.options.keep_frames:
                for row in rows:
                    row["frames"] = []
        summary.chat.update(stats)
        summary.hours += duration / 3600
        summary.comments += sum(len(r["context_comments"]) + len(r["response_comments"]) for r in rows)
        return rows

    def _video_rows(self, source: VodSource, clips: list[Clip], has_transcript: bool, summary: BuildSummary) -> list[dict]:
        rows = []
        need_frames = self.options.feature_model is not None or self.options.keep_frames or self._frame_encoder is not None
        frames = self._frames(source, clips) if need_frames and clips else {}
        fps = self.options.clips.fps
        for clip in clips:
            indices = [round(t * fps) for t in clip.frame_times if round(t * fps) in frames]
            if need_frames and not indices:
                summary.notes["clips_past_readable_video"] += 1
                continue
            row = clip.to_row(frame_times=[i / fps for i in indices], has_transcript=has_transcript)
            if need_frames:
                clip_frames = np.stack([frames[i] for i in indices])
                if self.frame_encoder is not None:
                    row["video_features"] = clip_frames  # encoded per VOD below, in large batches
                if self.options.keep_frames:
                    row["frames"] = list(clip_frames)
            rows.append(row)
        if rows and self.frame_encoder is not None:
            self._encode_rows(rows)
        return rows

    def _encode_rows(self, rows: list[dict]) -> None:
        # Frames shared by overlapping clips are encoded once per VOD.
        counts = [len(r["video_features"]) for r in rows]
        features = self.frame_encoder(np.concatenate([r["video_features"] for r in rows]))
        self._feature_dim = features.shape[1]
        for row, chunk in zip(rows, np.split(features, np.cumsum(counts)[:-1])):
            row["video_features"] = chunk.astype(np.float32)

    def row_features(self, feature_dim: int | None):
        return clip_features(feature_dim, self.options.keep_frames)

    def write_card(self, state: dict) -> None:
        from .card import write_dataset_card

        write_dataset_card(self.out_dir, self.options, self.row_features(self.card_feature_dim(state)), state)


# `build_livechat_dataset(manifest, out_dir, options=None, on_error="skip", frame_encoder=None, progress=True,
# processes=None)` builds a LiveChat dataset folder (`options` default to `BuildOptions()`: the LiveChat
# protocol without its leaks, no frame features) that `datasets.load_dataset(out_dir)` reads, resuming an interrupted
# build: see `VodShardBuilder.build_manifest`.
build_livechat_dataset = LiveChatDatasetBuilder.build_manifest
