"""The model card (README.md with YAML metadata) of a trained LiveChat model folder, filled from the repository's
template (``model_cards/livechat.md``, shipped as ``hf_livechat/assets/livechat_model_card.md``) with the model's config, its training data, hyperparameters and evaluation."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from numbers import Real
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

__all__ = ["DEFAULT_TEMPLATE", "write_model_card", "write_affect_fusion_model_card"]

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "assets" / "livechat_model_card.md"
TAGS = ["hf-livechat", "livechat", "live-comments", "danmaku", "video-comment-generation", "multimodal"]
CONTEXT_SECONDS = 20
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")

# Config fields worth a line in the card, in the order shown.
_ARCHITECTURE_FIELDS = {
    "d_model": "hidden size",
    "encoder_layers": "encoder layers",
    "decoder_layers": "decoder layers",
    "decoder_attention_heads": "attention heads",
    "vocab_size": "vocabulary",
    "chat_encoder_type": "chat encoder",
    "video_feature_dim": "frame feature size",
    "feature_model": "frame feature model",
    "frame_size": "frame size (px)",
    "max_transcript_length": "transcript tokens",
    "max_eval_context_comments": "context comments at inference",
    "max_comment_length": "tokens per comment",
}


def write_model_card(
    model_dir: str | os.PathLike,
    *,
    dataset: str | os.PathLike | None = None,
    metrics: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    base_config: Any = None,
    model_id: str | None = None,
    template_path: str | os.PathLike = DEFAULT_TEMPLATE,
) -> Path:
    """Write ``README.md`` into a LiveChat model folder and return its path.

    Args:
        model_dir: the saved model folder.
        dataset: the training data: a Hub dataset id (listed in the card's metadata and linked) or a local dataset
            folder (named in the text only: a path means nothing on the Hub).
        metrics: evaluation figures, either flat (``{"recall@1": 0.41, "mrr": 0.6}``, one row named "test") or one
            row per evaluation setting (``{"full": {...}, "no video": {...}}``, the model as evaluated first); numbers
            are shown with 4 significant digits and non-numeric values are left out. With a Hub ``dataset`` the first
            row also becomes the card's ``model-index`` results.
        training: hyperparameters to list (``{"epochs": 3, "learning_rate": 3e-4}``).
        base_config: the model's config (a ``LiveChatConfig`` or a dict) for the architecture table; default the
            folder's ``config.json``.
        model_id: the name in the card's code example; default the folder's name.
        template_path: a Jinja model card template; default the packaged ``assets/livechat_model_card.md`` (``model_cards/livechat.md`` in the repository).

    Raises:
        FileNotFoundError: the template is missing (an installed copy of the package without the repository).
    """
    model_dir = Path(model_dir)
    template_path = Path(template_path)
    if not template_path.is_file():
        raise FileNotFoundError(f"{template_path}: model card template not found; pass template_path=")
    config = _config_dict(model_dir, base_config)
    model_id = model_id or model_dir.resolve().name
    dataset_id, dataset_path = _dataset_reference(dataset)
    rows = _metric_rows(metrics or {})
    columns = list(dict.fromkeys(name for values in rows.values() for name in values))

    eval_results = _eval_results(rows, dataset_id)
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=TAGS,
        datasets=[dataset_id] if dataset_id else None,
        metrics=columns or None,
        model_name=model_id if eval_results else None,  # only the model-index uses it
        eval_results=eval_results,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path),
        model_name=model_id,
        model_id=model_id,
        context_seconds=CONTEXT_SECONDS,
        feature_model=config.get("feature_model", "a frame feature backbone"),
        architecture=[(label, config[key]) for key, label in _ARCHITECTURE_FIELDS.items() if key in config],
        dataset_id=dataset_id,
        dataset_path=dataset_path,
        training=[(name, value) for name, value in (training or {}).items()],
        metric_columns=columns,
        metric_rows=[(row, [_format(values.get(column)) for column in columns]) for row, values in rows.items()],
    )
    path = model_dir / "README.md"
    card.save(path)
    return path


def _config_dict(model_dir: Path, base_config: Any) -> dict[str, Any]:
    if base_config is None:
        config_file = model_dir / "config.json"
        return json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    if hasattr(base_config, "to_dict"):
        return base_config.to_dict()
    return dict(base_config)


def _dataset_reference(dataset: str | os.PathLike | None) -> tuple[str | None, str | None]:
    """``(hub_id, local_path)``: a name that is not an existing path and looks like ``org/name`` is a Hub id."""
    if dataset is None:
        return None, None
    text = os.fspath(dataset)
    if not Path(text).exists() and _HUB_ID.match(text):
        return text, None
    return None, text


def _metric_rows(metrics: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Metrics as ``{row: {metric: number}}``: a flat dict is one row; values that are not numbers are dropped."""
    if all(not isinstance(value, Mapping) for value in metrics.values()):
        metrics = {"test": metrics} if metrics else {}
    rows = {}
    for row, values in metrics.items():
        if not isinstance(values, Mapping):
            raise ValueError(f"metrics mixes rows and single values: {row!r} is {values!r}")
        numbers = {name: float(v) for name, v in values.items() if isinstance(v, Real) and not isinstance(v, bool)}
        if numbers:
            rows[str(row)] = numbers
    return rows


def _eval_results(rows: dict[str, dict[str, float]], dataset_id: str | None) -> list[EvalResult] | None:
    """``model-index`` entries (what the Hub shows as evaluation results) from the first row, the model as
    evaluated; other rows (ablations) stay in the card's table. They need a Hub dataset to refer to."""
    if not dataset_id or not rows:
        return None
    row, values = next(iter(rows.items()))
    return [
        EvalResult(
            task_type="text-generation",
            dataset_type=dataset_id,
            dataset_name=dataset_id,
            dataset_split=row if len(rows) == 1 else None,
            metric_type=name,
            metric_value=value,
        )
        for name, value in values.items()
    ]


def _format(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


# ------------------------------------------------------------------------------------------ affect fusion model card

AFFECT_FUSION_TEMPLATE = Path(__file__).resolve().parent / "assets" / "affect_fusion_model_card.md"
_AFFECT_ARCHITECTURE_FIELDS = {
    "modalities": "modalities",
    "use_live_comment_features": "live-comment features",
    "text_dim": "text feature size",
    "acoustic_dim": "acoustic feature size",
    "visual_dim": "visual feature size",
    "lc_dim": "live-comment feature size",
    "d_model": "hidden size",
    "num_layers": "fusion layers",
    "num_heads": "attention heads",
    "num_labels": "outputs",
    "problem_type": "problem type",
}


def write_affect_fusion_model_card(
    model_dir: str | os.PathLike,
    *,
    benchmark: str,
    setting: str,
    summary: Mapping[str, Mapping[str, Mapping[str, float]]],
    selection_metric: str,
    seeds: list[int],
    training: Mapping[str, Any] | None = None,
    template_path: str | os.PathLike = AFFECT_FUSION_TEMPLATE,
) -> Path:
    """Write ``README.md`` into a saved affect fusion model folder (``hf_livechat.training.affect`` calls it when
    it keeps a setting's best model) and return its path.

    Args:
        model_dir: the saved model folder (its ``config.json`` fills the architecture table; a ``selected_run.json``
            beside it names the run the weights come from).
        benchmark: the benchmark trained on (``meld``, ``simsv2``, ``mustard``, ...).
        setting: this model's setting (e.g. "with live comments").
        summary: ``{setting: {metric: {"mean": m, "std": s}}}`` of every setting trained together.
        selection_metric: the dev metric that selected checkpoints.
        seeds: the seeds averaged over.
        training: hyperparameters to list.
    """
    model_dir = Path(model_dir)
    config = _config_dict(model_dir, None)
    selected_file = model_dir / "selected_run.json"
    selected = json.loads(selected_file.read_text(encoding="utf-8")) if selected_file.is_file() else None
    columns = list(dict.fromkeys(name for values in summary.values() for name in values))
    rows = [
        (name, [f"{values[c]['mean']:.4f} ± {values[c]['std']:.4f}" if c in values else "" for c in columns])
        for name, values in summary.items()
    ]
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["hf-livechat", "lcaffect", "affect", "multimodal", "live-comments", benchmark],
        metrics=columns or None,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path),
        model_name=model_dir.resolve().name if model_dir.name != "model" else f"affect-fusion-{benchmark}",
        model_id=str(model_dir),
        benchmark=benchmark,
        setting=setting,
        modalities=", ".join(config.get("modalities", [])) + (", live comments" if config.get("use_live_comment_features") else ""),
        uses_live_comments=bool(config.get("use_live_comment_features")),
        architecture=[(label, config[key]) for key, label in _AFFECT_ARCHITECTURE_FIELDS.items() if key in config and _shown(key, config)],
        task="regresses" if config.get("problem_type") == "regression" else "classifies",
        num_seeds=len(seeds),
        seeds=", ".join(map(str, seeds)),
        selection_metric=selection_metric,
        selected_run=selected,
        selected_test=[(k, _format(v)) for k, v in (selected or {}).get("test", {}).items()],
        folds=bool(selected and selected.get("fold") is not None),
        training=list((training or {}).items()),
        metric_columns=columns,
        metric_rows=rows,
    )
    path = model_dir / "README.md"
    card.save(path)
    return path


def _shown(key: str, config: Mapping[str, Any]) -> bool:
    """Feature sizes only for the modalities the model reads (the others keep unused config defaults)."""
    modality = {"text_dim": "text", "acoustic_dim": "acoustic", "visual_dim": "visual"}.get(key)
    if modality is not None:
        return modality in config.get("modalities", [])
    return key != "lc_dim" or bool(config.get("use_live_comment_features"))
