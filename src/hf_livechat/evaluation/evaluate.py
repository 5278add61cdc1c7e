"""`hf-livechat evaluate`: ranking evaluation of a saved LiveChat model on a dataset split, with ablations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from .candidates import CandidateSets, build_candidates
from .defaults import DEFAULT_PRIOR_WEIGHT


RANKING_COLUMNS = ("recall@1", "recall@2", "recall@5", "recall@10", "mean_rank", "mrr")


def format_table(results: dict[str, dict], chance: float | None = None, columns: Sequence[str] = RANKING_COLUMNS) -> str:
    """A plain-text table of metrics, one row per setting and one column per metric name in `columns`."""
    widths = [max(11, len(c) + 2) for c in columns]
    lines = [f"{'setting':<22}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths))]
    for name, metrics in results.items():
        lines.append(f"{name:<22}" + "".join(f"{metrics[c]:>{w}.3f}" for c, w in zip(columns, widths)))
    if chance is not None:
        lines.append(f"{'chance':<22}{chance:>{widths[0]}.3f}")
    return "\n".join(lines)


def evaluate_model(
    model_dir: str,
    dataset_dir: str,
    split: str = "test",
    protocol: str = "livechat",
    ablations: Iterable[Iterable[str]] = ((),),
    seed: int = 0,
    batch_size: int = 16,
    paper_metric: bool = False,
    device: str | None = None,
    show_progress: bool = True,
    group_of: Callable[[Mapping, str], str] | None = None,
    length_normalize: bool = True,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    compare_prior_weights: Sequence[float] = (),
    also_correct: Callable[[Mapping, str, str], bool] | None = None,
    model=None,
    processor=None,
) -> dict[str, dict]:
    """Ranks each clip's candidate comments with the model, once per ablation (`()` = all modalities).

    Returns `{setting: metrics}` where setting is `"full"` or `"no video"` / `"no video+chat"` and metrics holds
    `recall@1/2/5/10`, `mean_rank`, `mrr`, `num_queries`, `protocol` (plus `skipped`: clips without candidates).
    With `group_of` (`(clip row, ground-truth text) -> label`, e.g. which modality the true comment answers), each
    setting also holds `"recall@1 by group"` (see `evaluate_ranking`). `length_normalize=False` scores a candidate
    by the sum of its token log-probabilities (the reference code) instead of the mean.

    Candidates are scored by `log P(c | clip) - prior_weight * log P(c | no modality)` (`0`: the likelihood, the
    papers' protocol; each setting's `"scoring"` names it). The unconditional pass runs once and serves every
    ablation. `compare_prior_weights` adds each setting's metrics at other weights (`"by prior weight"`), from the
    same passes. `also_correct` (`(clip row, ground truth, candidate) -> bool`) marks distractors that are right
    answers too (e.g. `synthetic.truth.same_cue_judge`: replies to the same cue elsewhere in the video), which then
    count as hits. `model` / `processor` skip loading them from `model_dir`.
    """
    from ..models.livechat import LiveChatForCommentGeneration, LiveChatProcessor
    from ..data.clip_dataset import load_clip_dataset
    from .scoring import evaluate_ranking, unconditional_scores

    if model is None:
        model = LiveChatForCommentGeneration.from_pretrained(model_dir).eval()
    if device:
        model.to(device)
    processor = processor or LiveChatProcessor.from_pretrained(model_dir)
    dataset = load_clip_dataset(dataset_dir, split)
    rows = [dataset[i] for i in range(len(dataset))]
    train_comments = None
    if protocol == "livebot":
        train = load_clip_dataset(dataset_dir, "train")
        train_comments = [c["text"] for row in train for c in row["response_comments"]]
    candidate_sets = build_candidates(rows, protocol=protocol, seed=seed, train_comments=train_comments)
    if not candidate_sets:
        raise ValueError(
            f"No clip of the {split!r} split ({len(rows)} clips) gets a {protocol!r} candidate set; clips left out: "
            f"{dict(candidate_sets.skipped)} (the livechat protocols need 9 distinct comments from other clips of the "
            "same video: evaluate longer VODs)"
        )
    if also_correct is not None:
        candidate_sets = CandidateSets(
            [
                replace(s, positive_indices=list(s.positive_indices) + [
                    i for i, text in enumerate(s.candidates)
                    if i not in s.positive_indices and also_correct(rows[s.query_index], s.positives[0], text)
                ])
                for s in candidate_sets
            ],
            candidate_sets.skipped,
        )
    groups = [group_of(rows[s.query_index], s.positives[0]) for s in candidate_sets] if group_of else None
    prior_scores = None
    if prior_weight or any(compare_prior_weights):
        prior_scores = unconditional_scores(model, processor, candidate_sets, batch_size, length_normalize=length_normalize)
    results = {}
    for ablate in ablations:
        ablate = tuple(ablate)
        name = "full" if not ablate else "no " + "+".join(ablate)
        metrics = evaluate_ranking(
            model,
            processor,
            rows,
            candidate_sets,
            batch_size=batch_size,
            ablate=ablate,
            paper_metric=paper_metric,
            show_progress=show_progress,
            groups=groups,
            length_normalize=length_normalize,
            prior_weight=prior_weight,
            prior_scores=prior_scores,
            compare_prior_weights=compare_prior_weights,
        )
        metrics["skipped"] = dict(candidate_sets.skipped)
        results[name] = metrics
    return results
