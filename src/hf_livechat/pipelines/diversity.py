"""Keeping a stream of generated comments from looping: a penalty on repeating what was said recently, and the
figures that show whether it worked (distinct-1/2, share of distinct comments, repeat rate).

A live commenter that writes "team skiing" for 31 windows out of 47 is useless, however likely each comment is
alone. The generator proposes several candidates per window; :func:`pick_comment` takes the best by
``score - penalty * cost``, where ``cost`` sums the word-set Jaccard similarity between the candidate and each of
the last few comments (1 for an exact repeat), weighted by how recent that comment is. The same rule serves the
pipeline and the live commenter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..evaluation.generation_metrics import distinct_n, whitespace_tokens

# Chosen by measurement on the quickstart's held-out stream (bench/bench_live.py --measure-defaults, README).
DEFAULT_REPEAT_PENALTY = 1.0
DEFAULT_RECENT_COMMENTS = 6


def overlap(text: str, recent: Iterable[str]) -> float:
    """Largest Jaccard similarity of ``text``'s word set with one of ``recent`` (0 when ``recent`` is empty)."""
    words = set(whitespace_tokens(text))
    best = 0.0
    for other in recent:
        other_words = set(whitespace_tokens(other))
        union = words | other_words
        if union:
            best = max(best, len(words & other_words) / len(union))
    return best


def repeat_cost(text: str, recent: Sequence[str]) -> float:
    """How much saying ``text`` now repeats ``recent`` (oldest first): the sum of its :func:`overlap` with each of
    them, weighted from 0.5 for the oldest to 1 for the last. A line said twice lately costs twice; what was just said
    costs most."""
    count = len(recent)
    return sum(overlap(text, [other]) * (0.5 + 0.5 * (i + 1) / count) for i, other in enumerate(recent))


def pick_comment(candidates: Sequence[tuple[str, float]], recent: Sequence[str], penalty: float = DEFAULT_REPEAT_PENALTY) -> int:
    """Index of the candidate ``(text, score)`` to emit: highest ``score - penalty * repeat_cost(text, recent)``;
    empty comments come last."""
    if not candidates:
        raise ValueError("no candidate to pick from")

    def value(item):
        text, score = candidates[item]
        return (bool(text.strip()), score - penalty * repeat_cost(text, recent))

    return max(range(len(candidates)), key=value)


def _normal(text: str) -> str:
    return " ".join(whitespace_tokens(text))


def repeat_rate(comments: Sequence[str], recent: int = 5) -> float:
    """Share of comments (after the first) equal, up to case and spacing, to one of the ``recent`` comments before."""
    normal = [_normal(c) for c in comments]
    repeats = sum(normal[i] in normal[max(0, i - recent) : i] for i in range(1, len(normal)))
    return repeats / (len(normal) - 1) if len(normal) > 1 else 0.0


def comment_diversity(comments: Sequence[str], recent: int = 5) -> dict[str, float]:
    """Distinct-1, distinct-2, the share of distinct comments and the repeat rate of a stream's comments."""
    comments = list(comments)
    return {
        "comments": len(comments),
        "distinct_1": distinct_n(comments, 1),
        "distinct_2": distinct_n(comments, 2),
        "distinct_comments": len({_normal(c) for c in comments}) / len(comments) if comments else 0.0,
        "repeat_rate": repeat_rate(comments, recent),
    }


def format_diversity(figures: dict[str, float]) -> str:
    return (
        f"{figures['comments']} comments: distinct-1 {figures['distinct_1']:.2f}, distinct-2 {figures['distinct_2']:.2f}, "
        f"{figures['distinct_comments']:.0%} distinct, repeat rate {figures['repeat_rate']:.0%}"
    )


class DiversityCounter:
    """:func:`comment_diversity` kept up to date one comment at a time, for a stream of any length: it holds the
    distinct n-grams and comments seen (bounded by the vocabulary, not by the stream's length) and the last
    ``recent`` comments."""

    def __init__(self, recent: int = 5) -> None:
        self.recent = recent
        self.count = 0
        self.repeats = 0
        self._ngrams: dict[int, set] = {1: set(), 2: set()}
        self._totals = {1: 0, 2: 0}
        self._distinct: set[str] = set()
        self._last: list[str] = []

    def add(self, comment: str) -> None:
        normal = _normal(comment)
        tokens = normal.split()
        for n in (1, 2):
            grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            self._ngrams[n].update(grams)
            self._totals[n] += len(grams)
        self.repeats += normal in self._last
        self._last = (self._last + [normal])[-self.recent :]
        self._distinct.add(normal)
        self.count += 1

    def figures(self) -> dict[str, float]:
        return {
            "comments": self.count,
            "distinct_1": len(self._ngrams[1]) / self._totals[1] if self._totals[1] else 0.0,
            "distinct_2": len(self._ngrams[2]) / self._totals[2] if self._totals[2] else 0.0,
            "distinct_comments": len(self._distinct) / self.count if self.count else 0.0,
            "repeat_rate": self.repeats / (self.count - 1) if self.count > 1 else 0.0,
        }
