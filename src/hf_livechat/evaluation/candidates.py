"""Candidate sets for the retrieval evaluation of comment generation: rank the true comment among distractors.

A model scores every candidate comment of a clip (its log-likelihood given the clip's context) and is judged on the
rank of the ground truth (see `ranking_metrics`). The distractors decide how hard that is, so each way of choosing
them is a named protocol:

- `livechat` (10 candidates, as the LiveChat paper): the ground truth is the response-window comment most
  TF-IDF-similar to the context (transcript + context comments); the 9 distractors are the comments of *other clips
  of the same video* most TF-IDF-similar to that context ("plausible" comments). Comments of this clip's response
  window are never distractors (they are true responses), and candidate texts are distinct, so no distractor is an
  exact duplicate of the ground truth. With sliding clips (`build-dataset --clip-stride`), which share comments with
  their neighbours, no comment of the clip's own time span (context or response) is a distractor.
- `livechat-popular`: the same ground truth; the distractors are the most frequent comments of the video (or of
  `train_comments` when given).
- `livechat-random`: the same ground truth; the distractors are drawn uniformly from the video's other clips.
- `livebot` (100 candidates, as LiveBot, Ma et al. 2019): every response comment is a ground truth (the first
  `max_positives` distinct ones), then the 20 most popular training comments, the 20 training comments most
  TF-IDF-similar to the context, and random training comments up to 100. The model is scored on its best-ranked
  ground truth.

Everything is reproducible from `seed`: ties between equally similar comments, random distractors and the final
shuffle of each list use a generator seeded with `(seed, query_index)`. A clip whose response window holds no
comment, or whose pool has too few distinct distractors, is skipped and counted in `CandidateSets.skipped`.

TF-IDF is fitted once per video (`livechat*`) or once on the training comments (`livebot`); similarities are sparse
matrix products over chunks of clips, not Python loops over pairs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


logger = logging.getLogger(__name__)

PROTOCOL_SIZES = {"livechat": 10, "livechat-popular": 10, "livechat-random": 10, "livebot": 100}
PROTOCOLS = tuple(PROTOCOL_SIZES)
LIVEBOT_POPULAR = 20
LIVEBOT_PLAUSIBLE = 20
# Words, and every other non-space character on its own: keeps one-letter chat ("W", "L") and emoji as terms.
TOKEN_PATTERN = r"(?u)\w+|[^\w\s]"
# Dense similarity blocks are cut to about this many floats (160 MB) to bound memory on long VODs.
_MAX_BLOCK_ELEMENTS = 20_000_000

SKIP_EMPTY_RESPONSE = "empty_response"
SKIP_TOO_FEW_DISTRACTORS = "too_few_distractors"


class CandidateError(ValueError):
    """A row cannot be turned into a candidate set (missing field, wrong type) or the options are invalid."""


@dataclass(frozen=True)
class CandidateSet:
    """The candidates of one query (clip).

    Attributes:
        query_index: index of the clip in the `rows` given to `build_candidates`.
        candidates: distinct comment texts, in the (shuffled) order the model scores them.
        positive_indices: positions of the ground-truth comments in `candidates` (one for `livechat*`).
        protocol: the protocol that built the set.
    """

    query_index: int
    candidates: list[str]
    positive_indices: list[int]
    protocol: str

    @property
    def positives(self) -> list[str]:
        return [self.candidates[i] for i in self.positive_indices]


class CandidateSets(list):
    """A `list[CandidateSet]` that also counts the clips it skipped, by reason (`skipped["empty_response"]`)."""

    def __init__(self, sets: Iterable[CandidateSet] = (), skipped: Mapping[str, int] | None = None):
        super().__init__(sets)
        self.skipped: Counter[str] = Counter(skipped or {})


def comment_text(comment) -> str:
    """The stripped text of a comment given as a string, a `{"text": ...}` dict or an object with `.text`."""
    if isinstance(comment, str):
        text = comment
    elif isinstance(comment, Mapping):
        text = comment.get("text")
    else:
        text = getattr(comment, "text", None)
    if not isinstance(text, str):
        raise CandidateError(
            f"A comment must be a string, a dict with a 'text' string or a ChatMessage, got {comment!r}"
        )
    return text.strip()


@dataclass
class _Clip:
    """What candidate building needs of one row."""

    index: int
    context: str
    context_texts: list[str]
    response_texts: list[str] = field(default_factory=list)  # distinct, in time order
    span: tuple[float, float] | None = None  # (start, end) in VOD seconds, when the row has them


def _read_clip(index: int, row: Mapping) -> _Clip:
    try:
        context_comments = row["context_comments"] or []
        response_comments = row["response_comments"] or []
        transcript = row.get("transcript") or ""
    except (KeyError, TypeError, AttributeError) as error:
        raise CandidateError(
            f"rows[{index}] must be a mapping with 'context_comments', 'response_comments' and optionally "
            f"'transcript': {error!r}"
        ) from None
    context_texts = [t for t in (comment_text(c) for c in context_comments) if t]
    response_texts = list(dict.fromkeys(t for t in (comment_text(c) for c in response_comments) if t))
    context = " ".join([transcript.strip(), *context_texts]).strip()
    span = (float(row["start"]), float(row["end"])) if row.get("start") is not None and row.get("end") is not None else None
    return _Clip(index, context, context_texts, response_texts, span)


def _vod_id(index: int, row: Mapping) -> str:
    try:
        return str(row["vod_id"])
    except (KeyError, TypeError) as error:
        raise CandidateError(
            f"rows[{index}] has no 'vod_id': the livechat protocols draw distractors per video"
        ) from error


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(token_pattern=TOKEN_PATTERN, lowercase=True)


def _similarity_blocks(contexts: list[str], vectorizer: TfidfVectorizer, texts_tfidf):
    """Yields `(start, block)`: cosine similarities of consecutive contexts to every text, as dense rows."""
    contexts_tfidf = vectorizer.transform(contexts)
    step = max(1, _MAX_BLOCK_ELEMENTS // max(1, texts_tfidf.shape[0]))
    for start in range(0, len(contexts), step):
        # TF-IDF rows are L2-normalised: the dot product is the cosine similarity.
        yield start, (contexts_tfidf[start : start + step] @ texts_tfidf.T).toarray()


def _top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the `k` highest finite scores, best first; ties at the cut are drawn with `rng`."""
    finite = np.flatnonzero(np.isfinite(scores))
    if k <= 0:
        return np.empty(0, dtype=int)
    if k >= finite.size:
        return finite[np.argsort(-scores[finite], kind="stable")]
    threshold = np.partition(scores[finite], finite.size - k)[finite.size - k]
    above = finite[scores[finite] > threshold]
    above = above[np.argsort(-scores[above], kind="stable")]
    tied = finite[scores[finite] == threshold]
    return np.concatenate([above, np.sort(rng.choice(tied, size=k - above.size, replace=False))])


def _random_pick(eligible: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """`k` distinct indices drawn uniformly where `eligible` is True (assumes enough of them)."""
    return rng.choice(np.flatnonzero(eligible), size=k, replace=False)


def _query_rng(seed: int, query_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, query_index])


def _finish(
    query_index: int, positives: list[str], distractors: list[str], protocol: str, rng, shuffle: bool
) -> CandidateSet:
    ordered = positives + distractors
    order = rng.permutation(len(ordered)) if shuffle else np.arange(len(ordered))
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return CandidateSet(
        query_index=query_index,
        candidates=[ordered[i] for i in order],
        positive_indices=sorted(int(position[i]) for i in range(len(positives))),
        protocol=protocol,
    )


def _frequency_order(texts: Iterable[str]) -> list[str]:
    """Distinct non-empty texts, most frequent first (ties: first seen first)."""
    return [text for text, _ in Counter(t for t in (comment_text(x) for x in texts) if t).most_common()]


class _VideoPool:
    """The distinct comments of one video's clips, how often they are said, and in how many clips."""

    def __init__(self, clips: list[_Clip]):
        said = [t for clip in clips for t in (*clip.context_texts, *clip.response_texts)]
        frequency = Counter(said)
        self.texts = list(frequency)  # first-seen order
        self.text_ids = {text: i for i, text in enumerate(self.texts)}
        self.by_frequency = np.array([self.text_ids[t] for t, _ in frequency.most_common()], dtype=int)
        self.clip_text_ids = [
            np.unique([self.text_ids[t] for t in (*c.context_texts, *c.response_texts)]).astype(int) for c in clips
        ]
        self.clips_per_text = np.bincount(np.concatenate(self.clip_text_ids), minlength=len(self.texts))
        spans = sorted(c.span for c in clips if c.span is not None)
        # Sliding clips share their comments with their neighbours: "said in another clip" no longer means "said at
        # another time", so a clip's own texts are never its distractors.
        self.overlapping = any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))

    def eligible(self, position: int, response_ids: np.ndarray) -> np.ndarray:
        """Mask of the texts said in another clip than clip `position` (at another time, for overlapping clips) and
        not in its response window."""
        own = self.clip_text_ids[position]
        eligible = np.ones(len(self.texts), dtype=bool)
        eligible[own if self.overlapping else own[self.clips_per_text[own] == 1]] = False
        eligible[response_ids] = False
        return eligible


def _livechat_distractors(protocol, pool: _VideoPool, position, clip, similarities, count, rng, popular_training):
    """`count` distractor texts for one clip, or fewer when the pool runs out."""
    if protocol == "livechat-popular" and popular_training is not None:
        excluded = set(clip.response_texts)
        return [t for t in popular_training if t not in excluded][:count]
    eligible = pool.eligible(position, np.array([pool.text_ids[t] for t in clip.response_texts], dtype=int))
    if eligible.sum() < count:
        return []
    if protocol == "livechat":
        picked = _top_k(np.where(eligible, similarities, -np.inf), count, rng)
    elif protocol == "livechat-popular":
        picked = pool.by_frequency[eligible[pool.by_frequency]][:count]
    else:
        picked = _random_pick(eligible, count, rng)
    return [pool.texts[i] for i in picked]


def _build_livechat(rows, protocol, num_candidates, seed, train_comments, shuffle) -> CandidateSets:
    videos: dict[str, list[_Clip]] = {}
    for index, row in enumerate(rows):
        videos.setdefault(_vod_id(index, row), []).append(_read_clip(index, row))
    popular_training = _frequency_order(train_comments) if train_comments is not None else None
    results: dict[int, CandidateSet] = {}
    skipped: Counter[str] = Counter()

    for clips in videos.values():
        if not any(clip.response_texts for clip in clips):
            skipped[SKIP_EMPTY_RESPONSE] += len(clips)
            continue
        pool = _VideoPool(clips)
        contexts = [clip.context for clip in clips]
        vectorizer = _vectorizer().fit(pool.texts + contexts)
        texts_tfidf = vectorizer.transform(pool.texts)
        for start, block in _similarity_blocks(contexts, vectorizer, texts_tfidf):
            for position, similarities in enumerate(block, start):
                clip = clips[position]
                if not clip.response_texts:
                    skipped[SKIP_EMPTY_RESPONSE] += 1
                    continue
                response_similarities = similarities[[pool.text_ids[t] for t in clip.response_texts]]
                # The first maximum: among equally similar responses, the earliest.
                ground_truth = clip.response_texts[int(np.argmax(response_similarities))]
                rng = _query_rng(seed, clip.index)
                distractors = _livechat_distractors(
                    protocol, pool, position, clip, similarities, num_candidates - 1, rng, popular_training
                )
                if len(distractors) < num_candidates - 1:
                    skipped[SKIP_TOO_FEW_DISTRACTORS] += 1
                    continue
                results[clip.index] = _finish(clip.index, [ground_truth], distractors, protocol, rng, shuffle)
    return CandidateSets((results[i] for i in sorted(results)), skipped)


def _build_livebot(rows, num_candidates, seed, train_comments, shuffle, max_positives) -> CandidateSets:
    clips = [_read_clip(index, row) for index, row in enumerate(rows)]
    if train_comments is None:
        logger.warning(
            "livebot protocol without train_comments: the popular, plausible and random distractors come from the "
            "evaluated clips' own comments"
        )
        train_comments = [t for clip in clips for t in (*clip.context_texts, *clip.response_texts)]
    pool = _frequency_order(train_comments)
    if not pool:
        raise CandidateError("livebot protocol: no training comments to draw distractors from")
    pool_ids = {text: i for i, text in enumerate(pool)}
    skipped: Counter[str] = Counter()
    sets = []

    vectorizer = _vectorizer().fit(pool)
    pool_tfidf = vectorizer.transform(pool)
    for start, block in _similarity_blocks([clip.context for clip in clips], vectorizer, pool_tfidf):
        for position, similarities in enumerate(block, start):
            clip = clips[position]
            if not clip.response_texts:
                skipped[SKIP_EMPTY_RESPONSE] += 1
                continue
            rng = _query_rng(seed, clip.index)
            positives = clip.response_texts[: min(max_positives, num_candidates - 1)]
            available = np.ones(len(pool), dtype=bool)
            available[np.array([pool_ids[t] for t in clip.response_texts if t in pool_ids], dtype=int)] = False
            needed = num_candidates - len(positives)
            if available.sum() < needed:
                skipped[SKIP_TOO_FEW_DISTRACTORS] += 1
                continue
            # Popular ones first, then plausible, then random: each stage skips what an earlier one took.
            popular = np.flatnonzero(available)[: min(LIVEBOT_POPULAR, needed)]
            available[popular] = False
            plausible = _top_k(
                np.where(available, similarities, -np.inf), min(LIVEBOT_PLAUSIBLE, needed - popular.size), rng
            )
            available[plausible] = False
            filler = _random_pick(available, needed - popular.size - plausible.size, rng)
            chosen = np.concatenate([popular, plausible, filler])
            sets.append(_finish(clip.index, positives, [pool[int(i)] for i in chosen], "livebot", rng, shuffle))
    return CandidateSets(sets, skipped)


def build_candidates(
    rows: Sequence[Mapping],
    protocol: str = "livechat",
    num_candidates: int | None = None,
    seed: int = 0,
    train_comments: Iterable | None = None,
    shuffle: bool = True,
    max_positives: int = 5,
) -> CandidateSets:
    """Builds one candidate set per clip.

    Args:
        rows: clips as mappings with `vod_id`, `transcript`, `context_comments` and `response_comments` (comments as
            `{"time", "author", "text"}` dicts, strings or `ChatMessage`s), e.g. the rows of a LiveChat dataset split.
        protocol: `"livechat"`, `"livechat-popular"`, `"livechat-random"` or `"livebot"` (see the module docstring).
        num_candidates: candidates per clip; 10 for the `livechat*` protocols and 100 for `livebot` by default.
        seed: makes tie-breaking, random distractors and the shuffle reproducible.
        train_comments: training-split comments (strings, dicts or `ChatMessage`s, repeats count). `livebot` draws
            its distractors from them (from the evaluated clips when `None`), `livechat-popular` its popular
            comments (from each video when `None`); the other protocols ignore them.
        shuffle: shuffle each list. With `shuffle=False` the list is in protocol order: ground truth(s) first, then
            the distractors in the order they were chosen (most similar or most popular first).
        max_positives: `livebot` only: at most this many distinct response comments are ground truths.

    Returns:
        `CandidateSets`: the sets in clip order; `.skipped` counts the clips left out, by reason
        (`"empty_response"`: no response comment; `"too_few_distractors"`: fewer distinct eligible comments than
        needed).
    """
    if protocol not in PROTOCOL_SIZES:
        raise CandidateError(f"Unknown candidate protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    num_candidates = PROTOCOL_SIZES[protocol] if num_candidates is None else int(num_candidates)
    if num_candidates < 2:
        raise CandidateError(f"num_candidates must be at least 2, got {num_candidates}")
    if max_positives < 1:
        raise CandidateError(f"max_positives must be at least 1, got {max_positives}")
    rows = list(rows)
    if protocol == "livebot":
        sets = _build_livebot(rows, num_candidates, seed, train_comments, shuffle, max_positives)
    else:
        sets = _build_livechat(rows, protocol, num_candidates, seed, train_comments, shuffle)
    if sets.skipped:
        logger.info("%s candidates: %d sets, skipped %s", protocol, len(sets), dict(sets.skipped))
    return sets


__all__ = [
    "PROTOCOLS",
    "PROTOCOL_SIZES",
    "CandidateError",
    "CandidateSet",
    "CandidateSets",
    "build_candidates",
    "comment_text",
]


def released_candidate_sets(rows: Sequence[Mapping]):
    """The released candidate lists of rows converted by `data.benchmarks.twitch_fifa` as `CandidateSets` for `evaluate_ranking` (recall@k in 10).

    The candidates keep their released order (true response first in val/test, as the authors' evaluation expects).
    """
    return CandidateSets(
        CandidateSet(
            query_index=i,
            candidates=list(row["response_candidates"]),
            positive_indices=[k for k, label in enumerate(row["response_candidate_labels"]) if label == 1],
            protocol="twitch-fifa",
        )
        for i, row in enumerate(rows)
    )
