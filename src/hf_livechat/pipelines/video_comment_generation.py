"""`pipeline("video-comment-generation")`: live comments for a video, one per sliding context window."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from transformers.pipelines.base import ChunkPipeline

from ..data.chat import ChatFilters, ChatMessage, read_chat
from ..data.clip_inputs import clip_processor_inputs
from ..data.media import iter_frames_1fps, probe_media
from ..data.transcripts import read_transcript, transcribe
from ..data.windows import StreamContext, as_messages, as_segments, window_ends
from .diversity import DEFAULT_RECENT_COMMENTS, DEFAULT_REPEAT_PENALTY, comment_diversity, pick_comment
from .speaking import SpeakingPolicy

# Decoding when the caller names none, for the pipeline and live mode alike: the 8 beams of a beam search are the
# candidates, the one that does not repeat a recent comment wins. Chosen by measurement on the quickstart's held-out
# stream (bench/bench_live.py --measure-defaults; docs/live-mode.md): video only, the repeat rate fell from 83 % to
# 4 % and distinct comments rose from 17 % to 51 %; with comments fed back, the repeat rate fell from 80 % (greedy) to
# 4 %; closer to the real chat than greedy decoding or nucleus sampling either way.
GENERATE_DEFAULTS = {"num_beams": 8, "num_return_sequences": 8, "do_sample": False}
# ... except when the video is all there is (no chat log, no transcript): beams then agree on what chat says at any
# moment. On a fresh `make-stream --seed 7` stream (59 windows, the world family's `small` model), 4 nucleus
# samples as candidates gave 85 % distinct comments (beams: 24 %), none in more than 3 % of the windows (beams: one
# in 25 %), and closeness 0.062 to the real chat (beams: 0.053); `bench/bench_live.py --measure-defaults`.
VIDEO_ONLY_GENERATE_DEFAULTS = {"num_beams": 1, "do_sample": True, "top_p": 0.9, "num_return_sequences": 4}
_DECODING_KEYS = ("do_sample", "num_beams", "num_return_sequences", "top_p", "top_k", "temperature", "typical_p", "penalty_alpha")


_FEATURE_EXTRACTORS: dict[tuple, object] = {}


def frame_feature_extractor(name: str, frame_size: int, device=None):
    """A cached frame encoder (loading an image model per call would dominate short videos)."""
    from ..data.features import load_frame_encoder

    key = (name, frame_size, str(device))
    if key not in _FEATURE_EXTRACTORS:
        _FEATURE_EXTRACTORS[key] = load_frame_encoder(name, frame_size, device=device)
    return _FEATURE_EXTRACTORS[key]


class VideoCommentGenerationPipeline(ChunkPipeline):
    """Generates live comments for a video with a LiveChat model.

    The 20 s context window slides over the video every `stride` seconds; at each window end the model sees the
    window's frame features, the streamer's speech and the chat, and writes a comment. Each window is a row of the
    dataset's schema (`data.windows.StreamContext.window`) turned into model inputs by the function the training
    collator uses, so the model reads what it was trained on (chat as "author: text" when its config says so).
    `window_candidates(context, end)` comments on one window of a `StreamContext` (live mode's call).

    Example:

    ```python
    import hf_livechat
    from transformers import pipeline

    commenter = pipeline("video-comment-generation", model="org/livechat")
    commenter("stream.mp4", chat="stream.chat.json", transcript="stream.srt", stride=10)
    # [{"time": 20.0, "comment": "omg boss", "score": -0.41}, {"time": 30.0, ...}, ...]
    ```

    Inputs (positional): a video path (anything PyAV opens), or a dict with `video` (path), or `video_features`
    (`(T, D)` features at 1 fps) or `frames` (`(T, H, W, 3)` uint8 at 1 fps), and optionally `chat` and `transcript`.
    `chat`: a chat log path (any format `read_chat` knows) or a list of messages (ChatMessage, `{"time", "text"}` or
    `(time, text)`). `transcript`: a subtitle/JSON file, a list of segments, or absent; `asr_model` transcribes the
    video's audio instead (a video without audio track is fine: no speech).

    Call parameters: `stride` (seconds between comments, default 10), `context_length` (default the model's 20 s
    window), `start` (first window end), `feed_back` (add each generated comment to the chat that later windows see,
    as a live chat would; runs windows one by one), `asr_model`, `asr_engine`, `generate_kwargs` and the generation
    shortcuts `max_new_tokens`, `num_beams`, `do_sample`, `num_return_sequences`; `batch_size`, `device`, `dtype` work
    as in other pipelines.

    So that a stream's comments read like a chat and not a loop, each window's comment is picked among its
    candidates by score minus `repeat_penalty` (default 1.0) times its word overlap with the previous
    `recent_comments` (default 6) comments, recent ones weighing more (:mod:`hf_livechat.pipelines.diversity`).
    Without decoding parameters the pipeline uses `GENERATE_DEFAULTS` (8 beams, each a candidate); with
    `num_beams=k` every beam is a candidate, with `do_sample=True` 8 samples are; `repeat_penalty=0` and
    `num_beams=1` give plain greedy decoding. `summarize_comments(result)` gives distinct-1/2 and the repeat rate.

    When to speak (:mod:`hf_livechat.pipelines.speaking`): `when="interval"` (default) comments on every window;
    `when="auto"` reads each window's predicted activity (`model.predict_activity`: chat comments expected in the next
    10 s) and comments only when it is high, at the predicted rate, `min_gap` s apart at least and never silent for
    more than `max_silence` s (`speaking`: a `SpeakingPolicy` or a dict of its other knobs). Windows it stays silent
    on are not decoded. A window may then hold several comments, spread over its stride.

    Returns, per video, a time-ordered list of `{"time", "comment", "score"}` (score: mean log-probability of the
    comment's tokens), with `"activity"` (the window's predicted activity) when the model has an activity head;
    when `num_return_sequences > 1` is asked for, each entry also has `candidates` (comment, score) pairs, best first.
    """

    _load_processor = True
    _load_tokenizer = False
    _load_image_processor = False
    _load_feature_extractor = False
    _pipeline_calls_generate = True

    context_length = 20.0

    def __init__(self, *args, feature_model: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.feature_model = feature_model or getattr(self.model.config, "feature_model", None)
        self.frame_size = getattr(self.model.config, "frame_size", 224)

    def _sanitize_parameters(
        self,
        stride=None,
        context_length=None,
        start=None,
        chat=None,
        transcript=None,
        asr_model=None,
        asr_engine=None,
        feed_back=None,
        generate_kwargs=None,
        max_new_tokens=None,
        num_beams=None,
        do_sample=None,
        num_return_sequences=None,
        repeat_penalty=None,
        recent_comments=None,
        when=None,
        min_gap=None,
        max_silence=None,
        speaking=None,
        **kwargs,
    ):
        preprocess = {}
        for name, value in (("stride", stride), ("context_length", context_length), ("start", start), ("chat", chat), ("transcript", transcript), ("asr_model", asr_model), ("asr_engine", asr_engine), ("feed_back", feed_back)):
            if value is not None:
                preprocess[name] = value
        generate_kwargs = dict(generate_kwargs or {})
        for name, value in (("max_new_tokens", max_new_tokens), ("num_beams", num_beams), ("do_sample", do_sample), ("num_return_sequences", num_return_sequences)):
            if value is not None:
                generate_kwargs[name] = value
        generate_kwargs.update(kwargs)
        postprocess = {"show_candidates": generate_kwargs.get("num_return_sequences", 1) > 1}
        default_decoding = not any(key in generate_kwargs for key in _DECODING_KEYS)
        if default_decoding:
            generate_kwargs.update(GENERATE_DEFAULTS)
        penalty = {
            "repeat_penalty": DEFAULT_REPEAT_PENALTY if repeat_penalty is None else float(repeat_penalty),
            "recent_comments": DEFAULT_RECENT_COMMENTS if recent_comments is None else int(recent_comments),
        }
        if penalty["repeat_penalty"] > 0 and "num_return_sequences" not in generate_kwargs:
            # The penalty needs alternatives: every beam, or a few samples, become candidates (not shown).
            alternatives = GENERATE_DEFAULTS["num_return_sequences"] if generate_kwargs.get("do_sample") else 1
            generate_kwargs["num_return_sequences"] = max(int(generate_kwargs.get("num_beams", 1)), alternatives)
        forward = {"generate_kwargs": generate_kwargs, "default_decoding": default_decoding}
        forward["policy"] = preprocess["policy"] = self._speaking_policy(when, min_gap, max_silence, speaking)
        forward.update(penalty)
        postprocess.update(penalty)
        if feed_back:
            forward["feed_back"] = True
        return preprocess, forward, postprocess

    @staticmethod
    def _speaking_policy(when, min_gap, max_silence, speaking) -> SpeakingPolicy:
        if isinstance(speaking, SpeakingPolicy):
            knobs = {name: getattr(speaking, name) for name in SpeakingPolicy.__dataclass_fields__}
        elif speaking is None or isinstance(speaking, dict):
            knobs = dict(speaking or {})
        else:
            raise ValueError(f"speaking must be a SpeakingPolicy or a dict of its knobs, got {type(speaking).__name__}")
        for name, value in (("when", when), ("min_gap", min_gap), ("max_silence", max_silence)):
            if value is not None:
                knobs[name] = value
        return SpeakingPolicy(**knobs)

    @property
    def has_activity(self) -> bool:
        """Whether the model predicts chat activity (`predict_activity`)."""
        return getattr(self.model, "activity_head", None) is not None

    # -- inputs --------------------------------------------------------------------------------------------------
    def stream_context(self, inputs, chat=None, transcript=None, asr_model=None, asr_engine="transformers") -> StreamContext:
        """A whole stream decoded as the pipeline reads it (inputs as for a call): frame features, chat, speech."""
        return self._stream_context(inputs, chat, transcript, asr_model, asr_engine)

    def _stream_context(self, inputs, chat=None, transcript=None, asr_model=None, asr_engine="transformers") -> StreamContext:
        if isinstance(inputs, (str, os.PathLike)):
            inputs = {"video": inputs}
        if not isinstance(inputs, dict):
            raise ValueError("inputs must be a video path or a dict with 'video', 'video_features' or 'frames'")
        chat = inputs.get("chat", chat)
        transcript = inputs.get("transcript", transcript)
        video = inputs.get("video")
        if "video_features" in inputs:
            features = np.asarray(inputs["video_features"], dtype=np.float32)
            if features.ndim != 2:
                raise ValueError(f"video_features must be (frames, dim), got shape {features.shape}")
        elif "frames" in inputs:
            features = self.encode_frames(np.asarray(inputs["frames"]))
        elif video is not None:
            features = self.encode_frames(self._decode(video))
        else:
            raise ValueError("inputs need 'video' (a path), 'video_features' or 'frames'")
        times = np.arange(len(features), dtype=np.float64)
        duration = float(len(features))
        if video is not None:
            info = probe_media(video)
            duration = float(info.duration or duration)
            if transcript is None and asr_model is not None and info.has_audio:
                transcript = transcribe(video, engine=asr_engine, model=asr_model)
        if isinstance(chat, (str, os.PathLike)):
            messages = list(read_chat(chat, filters=ChatFilters()))
        else:
            messages = as_messages(chat or [])
        if isinstance(transcript, (str, os.PathLike)):
            segments = read_transcript(transcript)
        else:
            segments = as_segments(transcript or [])
        return StreamContext(times, features, messages, segments, duration)

    def _decode(self, video) -> np.ndarray:
        if not Path(video).is_file():
            raise FileNotFoundError(f"video not found: {video}")
        frames = [frame for _, frame in iter_frames_1fps(video, size=(self.frame_size, self.frame_size))]
        if not frames:
            raise ValueError(f"{video}: no frame could be decoded")
        return np.stack(frames)

    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        """Frame features `(T, D)` of uint8 frames `(T, H, W, 3)` with the model's feature model."""
        if self.feature_model is None:
            raise ValueError("this model's config names no feature_model: pass feature_model=... or video_features")
        extractor = frame_feature_extractor(self.feature_model, self.frame_size, self.device)
        features = extractor(frames)
        if features.shape[1] != self.model.config.video_feature_dim:
            raise ValueError(
                f"{self.feature_model!r} gives {features.shape[1]}-d frame features but the model expects "
                f"{self.model.config.video_feature_dim}-d (config.video_feature_dim)"
            )
        return features

    def window_inputs(self, context: StreamContext, end: float, context_length: float | None = None) -> dict:
        """Model inputs of the window of `context` ending at `end`: its dataset row (`StreamContext.window`) through
        `clip_processor_inputs`, as the training collator feeds clips, padded to fixed shapes so windows batch."""
        context_length = float(context_length or self.context_length)
        row = context.window(end, context_length)
        inputs = clip_processor_inputs([row], video_feature_dim=context.frame_features.shape[-1] or None)
        encoded = self.processor(**inputs, padding="max_length", max_frames=int(np.ceil(context_length)))
        encoded["time"] = torch.tensor([end], dtype=torch.float64)
        return dict(encoded)

    def window_candidates(
        self,
        context: StreamContext,
        end: float,
        context_length: float | None = None,
        generate_kwargs: dict | None = None,
        inputs: dict | None = None,
    ) -> list[tuple[str, float]]:
        """The comments the model proposes for one window of a stream, `(text, mean log-probability)` in the order
        `generate` returns them: the per-window call live mode makes. `generate_kwargs` default to
        `GENERATE_DEFAULTS` (every beam of 8 a candidate); pick one with `diversity.pick_comment`. `inputs`: the
        window's `window_inputs`, when already built."""
        inputs = dict(inputs) if inputs is not None else self.window_inputs(context, end, context_length)
        inputs.pop("time", None)
        with self.device_placement(), self.get_inference_context()():
            sequences, scores = self._generate(inputs, GENERATE_DEFAULTS if generate_kwargs is None else generate_kwargs)
        return list(zip(self.processor.batch_decode(sequences[0]), scores[0].tolist()))

    def window_activity(
        self, context: StreamContext | None = None, end: float | None = None, context_length: float | None = None, inputs: dict | None = None
    ) -> float:
        """The model's predicted activity for one window of a stream: the chat comments expected in the 10 s after
        `end` (live mode's call before deciding whether to speak). `inputs`: the window's `window_inputs`, when
        already built."""
        if not self.has_activity:
            raise ValueError("this model has no activity head (config.activity_head): when='auto' needs one")
        inputs = dict(inputs) if inputs is not None else self.window_inputs(context, end, context_length)
        inputs.pop("time", None)
        with self.device_placement(), torch.no_grad():
            return float(self.model.predict_activity(**{k: self._to_device(v) for k, v in inputs.items()})[0])

    def preprocess(self, inputs, stride=10.0, context_length=None, start=None, chat=None, transcript=None, asr_model=None, asr_engine="transformers", feed_back=False, policy=None):
        if policy is not None and policy.needs_activity and not self.has_activity:
            raise ValueError("when='auto' needs a model with an activity head (config.activity_head): train one with it on")
        context_length = float(context_length or self.context_length)
        context = self._stream_context(inputs, chat, transcript, asr_model, asr_engine)
        ends = window_ends(context.duration, context_length, float(stride), start)
        if not ends:
            raise ValueError("the video is empty: no window to comment on")
        if feed_back:
            # Later windows must see earlier comments, so the forward pass encodes each window itself.
            self._feedback_context, self._context_length, self._recent = context, context_length, []
        video_only = not context.messages and not context.segments
        # One speaker per video: its state (running activity, last comment) follows the windows in time order.
        self._stream_count = getattr(self, "_stream_count", 0) + 1
        self._speakers = {**getattr(self, "_speakers", {}), self._stream_count: (policy or SpeakingPolicy()).speaker()}
        for i, end in enumerate(ends):
            item = {"time": torch.tensor([end], dtype=torch.float64)} if feed_back else self.window_inputs(context, end, context_length)
            item["video_only"] = torch.tensor([video_only])
            item["stream"] = torch.tensor([self._stream_count])
            item["stride"] = torch.tensor([float(stride)], dtype=torch.float64)
            item["is_last"] = i == len(ends) - 1
            yield item

    # -- model ---------------------------------------------------------------------------------------------------
    def _generate(self, model_inputs: dict, generate_kwargs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequences `(windows, candidates, tokens)` and their scores `(windows, candidates)`, on the CPU, for a batch
        of window inputs."""
        generate_kwargs = dict(generate_kwargs)
        generate_kwargs.setdefault("max_new_tokens", self.model.config.max_comment_length + 1)
        model_inputs = {key: self._to_device(value) for key, value in model_inputs.items()}
        out = self.model.generate(**model_inputs, return_dict_in_generate=True, output_scores=True, **generate_kwargs)
        num_return = generate_kwargs.get("num_return_sequences", 1)
        sequences = out.sequences.cpu()
        windows = len(sequences) // num_return
        return sequences.reshape(windows, num_return, -1), self._sequence_scores(out).reshape(windows, num_return)

    def _forward(self, model_inputs, generate_kwargs=None, feed_back=False, repeat_penalty=0.0, recent_comments=0, default_decoding=False, policy=None):
        times = model_inputs.pop("time")
        is_last = model_inputs.pop("is_last")
        streams = model_inputs.pop("stream").reshape(-1).tolist()
        strides = model_inputs.pop("stride").reshape(-1).tolist()
        if bool(model_inputs.pop("video_only").all()) and default_decoding:
            generate_kwargs = {**(generate_kwargs or {}), **VIDEO_ONLY_GENERATE_DEFAULTS}
        generate_kwargs = generate_kwargs or {}
        if feed_back:
            if times.numel() != 1:
                raise ValueError("feed_back=True generates window by window: use batch_size=1")
            model_inputs = self.window_inputs(self._feedback_context, float(times[0]), self._context_length)
            model_inputs.pop("time")
        activity = None
        if self.has_activity:
            with torch.no_grad():
                activity = self.model.predict_activity(**{k: self._to_device(v) for k, v in model_inputs.items()}).float().cpu()
        # When to speak: each window's comment times (none: silent, and not decoded).
        last = is_last.reshape(-1).tolist() if torch.is_tensor(is_last) else list(is_last) if isinstance(is_last, (list, tuple)) else [is_last]
        emit = []
        for i, (time, stream, stride) in enumerate(zip(times.reshape(-1).tolist(), streams, strides)):
            speaker = self._speakers[stream]
            emit.append(list(speaker.decide(time, None if activity is None else float(activity[i]), stride).times))
            if i < len(last) and last[i]:
                self._speakers.pop(stream, None)
        keep = [i for i, e in enumerate(emit) if e]
        num_return = generate_kwargs.get("num_return_sequences", 1)
        sequences = torch.full((len(emit), num_return, 1), self.model.config.pad_token_id, dtype=torch.long)
        scores = torch.full((len(emit), num_return), float("-inf"))
        if keep:
            subset = {k: v[keep] if torch.is_tensor(v) and v.shape[:1] == times.shape[:1] else v for k, v in model_inputs.items()}
            kept_sequences, kept_scores = self._generate(subset, generate_kwargs)
            sequences = sequences.new_full((len(emit), *kept_sequences.shape[1:]), self.model.config.pad_token_id)
            sequences[keep], scores[keep] = kept_sequences, kept_scores
        most = max(1, max(len(e) for e in emit))
        result = {
            "time": times,
            "sequences": sequences,
            "scores": scores,
            "emit": torch.tensor([e + [float("nan")] * (most - len(e)) for e in emit], dtype=torch.float64),
            "is_last": is_last,
        }
        if activity is not None:
            result["activity"] = activity
        if feed_back:
            # The comments the pipeline returns for this window are the ones later windows see.
            picks = []
            if emit[0]:
                texts = self.processor.batch_decode(sequences[0])
                picks = pick_comments(list(zip(texts, scores[0].tolist())), self._recent, len(emit[0]), repeat_penalty, recent_comments)
                for index, when in zip(picks, emit[0]):
                    self._recent.append(texts[index])
                    if texts[index]:
                        self._feedback_context.add_message(ChatMessage(when, "model", texts[index]))
            result["chosen"] = torch.tensor([picks + [-1] * (most - len(picks))])
        return result

    def _to_device(self, value):
        if not torch.is_tensor(value):
            return value
        dtype = self.model.dtype if value.is_floating_point() else None
        return value.to(self.device, dtype=dtype)

    def _sequence_scores(self, out) -> torch.Tensor:
        if getattr(out, "sequences_scores", None) is not None:  # beam search: length-normalised log-probabilities
            return out.sequences_scores.float().cpu()
        transition = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True).float()
        generated = out.sequences[:, -transition.shape[1] :]
        # Count the tokens up to and including the comment's end ([SEP], or an LM decoder's EOS); what follows is
        # padding, which may be the same id as the end (an LM whose pad token is its EOS).
        end_ids = self.model.generation_config.eos_token_id
        if end_ids is None:
            end_ids = self.model.config.eos_token_id
        is_end = torch.isin(generated, torch.tensor(end_ids, device=generated.device).reshape(-1))
        after_end = (is_end.long().cumsum(-1) - is_end.long()) > 0
        valid = torch.isfinite(transition) & ~after_end
        return ((transition * valid).sum(-1) / valid.sum(-1).clamp(min=1)).cpu()

    def postprocess(self, all_outputs, show_candidates=True, repeat_penalty=0.0, recent_comments=0):
        windows = []
        for output in all_outputs:
            chosen = output.get("chosen")
            activity = output.get("activity")
            emits = output.get("emit", output["time"].reshape(-1, 1))  # without a speaking policy: every window speaks
            for i, (time, sequences, scores, emit) in enumerate(zip(output["time"], output["sequences"], output["scores"], emits)):
                emit = [float(t) for t in emit.reshape(-1) if not torch.isnan(t)]
                if not emit:
                    continue  # the speaking policy kept quiet here
                texts = self.processor.batch_decode(sequences)
                picks = None if chosen is None else [int(c) for c in chosen[i].reshape(-1) if int(c) >= 0]
                level = None if activity is None else float(activity.reshape(-1)[i])
                windows.append((float(time), emit, list(zip(texts, scores.tolist())), picks, level))
        results, recent = [], []
        for time, emit, candidates, picks, level in sorted(windows, key=lambda w: w[0]):
            if picks is None:  # in time order, so each window sees the comments chosen before it
                picks = pick_comments(candidates, recent, len(emit), repeat_penalty, recent_comments)
            for when, chosen in zip(emit, picks):
                text, score = candidates[chosen]
                recent.append(text)
                entry = {"time": when, "comment": text, "score": score}
                if level is not None:
                    entry["activity"] = level
                if show_candidates and len(candidates) > 1:
                    ranked = sorted(candidates, key=lambda pair: -pair[1])
                    entry["candidates"] = [{"comment": t, "score": s} for t, s in ranked]
                results.append(entry)
        return results


def pick_comments(candidates: list[tuple[str, float]], recent: list[str], count: int, repeat_penalty: float, recent_comments: int) -> list[int]:
    """`count` different candidates for one window (one per comment the speaking policy posts there), each picked by
    `pick_comment` against the recent comments and the ones picked before it; fewer when the candidates run out."""
    recent = list(recent)
    left = list(range(len(candidates)))
    picks = []
    for _ in range(min(count, len(candidates))):
        best = left[pick_comment([candidates[i] for i in left], recent[-recent_comments:] if recent_comments else [], repeat_penalty)]
        picks.append(best)
        left.remove(best)
        recent.append(candidates[best][0])
    return picks


def summarize_comments(comments: list[dict], recent: int = 5) -> dict[str, float]:
    """Distinct-1, distinct-2, the share of distinct comments and the repeat rate of a pipeline result."""
    return comment_diversity([c["comment"] for c in comments], recent)
