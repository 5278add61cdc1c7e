"""The LiveChat training recipe: optional masked-LM pretraining, then comment generation with `Seq2SeqTrainer`.

Runs unchanged on one CPU, one GPU or several processes (`torchrun` / `accelerate launch`: the Trainer handles DDP,
FSDP and DeepSpeed from its arguments), and resumes from the last checkpoint in its output folder after a kill.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, set_seed
from transformers.trainer_utils import IntervalStrategy, get_last_checkpoint

from ..data.clip_dataset import dataset_build_info, load_clip_dataset, video_feature_statistics
from ..models.livechat import LM_COMMENT_END, LiveChatConfig, LiveChatForCommentGeneration, LiveChatForPretraining, LiveChatProcessor
from ..models.livechat.configuration_livechat import PRESET_NAMES
from ..tokenization import load_tokenizer
from .collators import DataCollatorForCommentGeneration, DataCollatorForLiveChatPretraining, EpochCallback
from .defaults import TrainingDefaults
from .launch import lm_decoder_bf16_hint, recipe_use_cpu
from .activity import fit_activity_head, validation_or_held_out
from .lora import apply_lora, has_lora, merge_lora


logger = logging.getLogger(__name__)

# Architectures by name (LiveChatConfig.from_preset; "reference-code" is LiveChatConfig.reference_code()).
CONFIG_PRESETS = PRESET_NAMES
# What a config takes from the tokenizer rather than from the preset.
_TOKENIZER_FIELDS = ("vocab_size", "pad_token_id", "bos_token_id", "decoder_start_token_id", "eos_token_id", "sep_token_id", "mask_token_id")


def preset_config_kwargs(name: str) -> dict:
    """The `LiveChatConfig` keyword arguments of a preset (`CONFIG_PRESETS`)."""
    return _config_kwargs(LiveChatConfig.from_preset(name))


def _config_kwargs(config: LiveChatConfig) -> dict:
    kwargs = config.to_diff_dict()
    for key in ("model_type", "transformers_version", "architectures", "auto_map"):
        kwargs.pop(key, None)
    return kwargs


@dataclass
class LiveChatRecipeArguments:
    """What the LiveChat recipe needs beyond `Seq2SeqTrainingArguments`."""

    dataset_dir: str = field(metadata={"help": "a dataset folder from `hf-livechat build-dataset` (or a Hub dataset id)"})
    config: str = field(default="small", metadata={"help": f"architecture preset ({', '.join(CONFIG_PRESETS)}) or a config/model folder"})
    tokenizer: str | None = field(default=None, metadata={"help": "tokenizer id or folder (default: BERT uncased, offline; with --text_encoder: its tokenizer)"})
    text_encoder: str | None = field(
        default=None,
        metadata={"help": "a BERT-family checkpoint (id or folder, e.g. prajjwal1/bert-mini) whose weights start the "
                  "transcript and chat encoders of a fresh model"},
    )
    decoder: str | None = field(
        default=None,
        metadata={"help": "a pretrained causal LM (folder, Hub id or a name hf_livechat.models.pretrained_lm knows, e.g. "
                  "smollm2-135m) as the comment decoder; its tokenizer then reads the transcript, chat and targets"},
    )
    decoder_fusion: str = field(
        default="cross_attention",
        metadata={"help": "how the LM decoder reads the clip: 'cross_attention' (gated, Flamingo) or 'prefix' (LLaVA)"},
    )
    decoder_prompt: str = field(
        default="chat",
        metadata={"help": "what the LM decoder also reads as text before the comment: 'chat' (the context comments) or "
                  "'none' (the clip through the fusion alone)"},
    )
    targets_per_clip: int | None = field(
        default=None,
        metadata={"help": "target comments per clip and step, drawn from its response window without replacement "
                  f"(default {TrainingDefaults.targets_per_clip}, {TrainingDefaults.lm_decoder_targets_per_clip} with an "
                  "LM decoder, which reads the clip's prefix once for all of them)"},
    )
    lora_r: int = field(
        default=16,
        metadata={"help": "LoRA rank on the LM decoder's attention and MLP projections (0: train the whole LM); the "
                  "saved model holds the merged weights"},
    )
    init_from: str | None = field(default=None, metadata={"help": "start from this LiveChat checkpoint instead of a fresh model"})
    pretrain_steps: int = field(default=0, metadata={"help": "masked-LM pretraining steps before comment generation"})
    chat_encoder_type: str | None = field(default=None, metadata={"help": "'comment' (reference) or 'token'"})
    config_overrides: str | None = field(
        default=None, metadata={"help": "config fields to override, e.g. 'max_context_comments=15,dropout=0.2'"}
    )
    modality_dropout: float = field(
        default=TrainingDefaults.modality_dropout,
        metadata={"help": "probability that each modality of a training clip is removed (anew every epoch), so the model "
                  "also works with the video only, or without chat or transcript"},
    )
    unconditional_rate: float = field(
        default=TrainingDefaults.unconditional_rate,
        metadata={"help": "probability that a training clip loses all three modalities at once, so that the same model "
                  "knows what chat says without a clip (contrastive ranking and guided decoding subtract it)"},
    )
    select_by_ranking: bool = field(
        default=True,
        metadata={"help": "rank the eval split's livechat candidates at every evaluation and keep the checkpoint with the "
                  "best (contrastive) Recall@1, when the split has at least min_selection_queries queries (needs "
                  "load_best_model_at_end and an eval split); otherwise the last weights are kept"},
    )
    min_selection_queries: int = field(
        default=TrainingDefaults.min_selection_queries,
        metadata={"help": "fewest validation queries to select a checkpoint on; with fewer the last weights are kept"},
    )
    guidance_scale: float = field(
        default=TrainingDefaults.guidance_scale,
        metadata={"help": "classifier-free guidance scale saved in the model's generation config (1: plain decoding)"},
    )
    refit_activity: bool = field(
        default=True,
        metadata={"help": "after training, fit the activity head again alone on the final encoders, keeping the epoch of "
                  "the lowest validation loss (the head as trained included; single-process runs)"},
    )
    train_split: str = field(default="train")
    eval_split: str | None = field(default="validation")

    def resolved_targets_per_clip(self, config: LiveChatConfig) -> int:
        if self.targets_per_clip is not None:
            return self.targets_per_clip
        return TrainingDefaults.lm_decoder_targets_per_clip if config.decoder is not None else TrainingDefaults.targets_per_clip


def recipe_training_arguments(
    output_dir: str,
    *,
    epochs: float = TrainingDefaults.epochs,
    batch_size: int = TrainingDefaults.batch_size,
    learning_rate: float = TrainingDefaults.learning_rate,
    warmup_steps: int = TrainingDefaults.warmup_steps,
    evaluations: int = TrainingDefaults.evaluations,
    logging_steps: int = TrainingDefaults.logging_steps,
    seed: int = 0,
    bf16: bool = False,
) -> Seq2SeqTrainingArguments:
    """`Seq2SeqTrainingArguments` of the recipe: cosine schedule, `evaluations` evaluations spread over the run
    (each ranks the validation candidates; the checkpoint with the best Recall@1 is kept and loaded at the end; 0:
    no evaluation, the last weights are kept), resumable checkpoints. Under `torchrun` on a machine without CUDA
    it sets `use_cpu`, without which transformers would train one copy per process (and for bf16 on a CPU)."""
    evaluate = evaluations > 0
    return Seq2SeqTrainingArguments(
        output_dir=output_dir,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        lr_scheduler_type="cosine",
        weight_decay=0.01,
        logging_steps=logging_steps,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=1 / evaluations if evaluate else None,  # a fraction of the run
        save_strategy="steps",
        save_steps=1 / evaluations if evaluate else 0.1,
        save_total_limit=1,
        load_best_model_at_end=evaluate,
        report_to="none",
        seed=seed,
        bf16=bf16,
        use_cpu=recipe_use_cpu(bf16=bf16),
    )


def parse_config_overrides(text: str | None) -> dict:
    """`"a=1,b=0.5,c=token"` -> `{"a": 1, "b": 0.5, "c": "token"}` (values parsed as JSON when they parse)."""
    overrides = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        if "=" not in item:
            raise ValueError(f"config override {item!r} is not of the form name=value")
        name, value = item.split("=", 1)
        try:
            overrides[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name.strip()] = value.strip()
    return overrides


def build_config(recipe: LiveChatRecipeArguments, tokenizer, feature_dim: int | None) -> LiveChatConfig:
    """The model config: the preset (or config folder), the dataset card's frame model, `--config-overrides`, the
    dataset's feature size and the tokenizer's vocabulary and special tokens."""
    if recipe.config in CONFIG_PRESETS:
        kwargs = preset_config_kwargs(recipe.config)
    else:
        kwargs = _config_kwargs(LiveChatConfig.from_pretrained(recipe.config))
    if recipe.chat_encoder_type:
        kwargs["chat_encoder_type"] = recipe.chat_encoder_type
    # The frame features' source travels from the dataset card into the model config, so that pipelines encode
    # new videos with the same image model.
    build = dataset_build_info(recipe.dataset_dir)
    if build.get("feature_model"):
        kwargs["feature_model"] = build["feature_model"]
        kwargs["frame_size"] = int(build.get("frame_size", 224))
    kwargs.update(parse_config_overrides(recipe.config_overrides))
    if feature_dim:
        kwargs["video_feature_dim"] = feature_dim
    # An LM decoder reads and writes comments as lines (LM_COMMENT_END), as the LM read text in pretraining.
    token_fields = LiveChatProcessor(tokenizer, comment_end=LM_COMMENT_END if recipe.decoder else None).config_kwargs()
    kwargs.update({name: token_fields[name] for name in _TOKENIZER_FIELDS})
    if recipe.decoder:
        if recipe.text_encoder:
            raise ValueError("--decoder and --text-encoder each bring a vocabulary; choose one")
        for key in ("decoder", "decoder_name_or_path", "text_encoder", "text_encoder_name_or_path"):
            kwargs.pop(key, None)
        kwargs["decoder_fusion"] = recipe.decoder_fusion
        kwargs["decoder_prompt"] = recipe.decoder_prompt
        config = LiveChatConfig.with_decoder(resolve_decoder(recipe.decoder), **kwargs)
        if token_fields["vocab_size"] > config.vocab_size:
            raise ValueError(f"the tokenizer has {token_fields['vocab_size']} tokens, more than the decoder's vocabulary ({config.vocab_size})")
        return config
    if recipe.text_encoder:
        kwargs.pop("text_encoder", None), kwargs.pop("text_encoder_name_or_path", None)
        return LiveChatConfig.with_text_encoder(recipe.text_encoder, **kwargs)
    return LiveChatConfig(**kwargs)


def dataset_feature_dim(dataset) -> int | None:
    """The size of the frame features of a clip dataset (None: a chat-only dataset, without the column)."""
    if "video_features" not in dataset.column_names:
        return None
    shape = dataset.features["video_features"].shape
    return shape[-1] if shape else None


def _shorten_warmup(trainer: Trainer) -> None:
    """A warm-up longer than a tenth of the run becomes a tenth: the recipe's 30 steps are nothing in the world family's
    thousands, but the whole of a short run (an LM decoder's 25 steps on a CPU), which then never reaches its
    learning rate."""
    args = trainer.args
    if args.max_steps > 0:
        total = args.max_steps
    else:
        try:
            batches = len(trainer.get_train_dataloader())
        except TypeError:  # a stream of unknown length: its schedule is the user's
            return
        total = math.ceil(batches / args.gradient_accumulation_steps * args.num_train_epochs)
    warmup = args.get_warmup_steps(total)
    if warmup > total // 10:
        args.warmup_steps = max(1, total // 10)
        print(f"warm-up: {args.warmup_steps} steps, a tenth of the run's {total} (not {warmup})")


def _resume_point(output_dir: str) -> str | None:
    return get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None


class LiveChatTrainer(Seq2SeqTrainer):
    """`Seq2SeqTrainer` with its own evaluation collator: evaluation losses use a fixed target per clip, so they are
    comparable between evaluations, while training draws a new target every epoch.

    With `ranking_rows`, every evaluation also ranks the `livechat` protocol's candidates of those clips and reports
    `eval_recall@1` / `eval_mrr`, which `metric_for_best_model="recall@1"` selects the kept checkpoint by: the loss
    of one random target is a noisy proxy of what the model is used for.
    """

    def __init__(self, *args, eval_data_collator=None, ranking_rows=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_data_collator = eval_data_collator
        self.ranking_rows = ranking_rows
        self.ranking_sets = None
        if ranking_rows is not None:
            from ..evaluation.candidates import build_candidates

            self.ranking_sets = build_candidates(ranking_rows, protocol="livechat", seed=self.args.seed)
            if not self.ranking_sets:
                logger.warning(
                    "no clip of the evaluation split gets a livechat candidate set (%s): evaluations report the loss "
                    "only", dict(self.ranking_sets.skipped),
                )
                self.ranking_sets = None

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval", **kwargs):
        metrics = super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **kwargs)
        if self.ranking_sets is not None and eval_dataset is None:
            from ..evaluation.scoring import evaluate_ranking

            ranking = evaluate_ranking(
                self.model, self.processing_class, self.ranking_rows, self.ranking_sets,
                batch_size=self.args.per_device_eval_batch_size, device=self.args.device, show_progress=False,
            )
            extra = {f"{metric_key_prefix}_{name}": float(ranking[name]) for name in ("recall@1", "recall@5", "mrr")}
            self.log(extra)
            metrics.update(extra)
        return metrics

    def _clip_grad_norm(self, model):
        """The activity head learns from detached memories, a problem of its own, and its gradient does not shrink
        the comment model's: the comment model is clipped by its own norm, the head by the whole model's (as
        transformers clips everything). The head's gradient grows with the counts (rate minus count, per clip):
        clipped with the rest, on the YouTube premiere's chat (about 90 comments a window) it filled the norm and
        shrank every comment update a hundredfold, and the LM decoder's per-word perplexity after 21 steps was 1711.6
        against 1125.5 without the head. Returns the comment model's norm, which the logs show. FSDP, DeepSpeed and
        fp16's loss scaler keep transformers' one clip of the whole model."""
        head = getattr(self.accelerator.unwrap_model(model), "activity_head", None)
        if head is None or self.is_fsdp_enabled or self.is_deepspeed_enabled or self.accelerator.scaler is not None:
            return super()._clip_grad_norm(model)
        head_parameters = [parameter for parameter in head.parameters() if parameter.grad is not None]
        head_ids = {id(parameter) for parameter in head_parameters}
        comment_parameters = [parameter for parameter in model.parameters() if id(parameter) not in head_ids]
        head_norm = torch.nn.utils.get_total_norm([parameter.grad for parameter in head_parameters])
        comment_norm = self.accelerator.clip_grad_norm_(comment_parameters, self.args.max_grad_norm)
        torch.nn.utils.clip_grads_with_norm_(head_parameters, self.args.max_grad_norm, torch.hypot(head_norm, comment_norm))
        return comment_norm

    def get_eval_dataloader(self, eval_dataset=None):
        if self.eval_data_collator is None:
            return super().get_eval_dataloader(eval_dataset)
        training_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = training_collator


def train_livechat(recipe: LiveChatRecipeArguments, args: Seq2SeqTrainingArguments) -> Path:
    """Trains (or resumes) and saves the final model, processor and model card to `args.output_dir`."""
    set_seed(args.seed)  # before the model is built: its initial weights must not depend on the run
    train_set = load_clip_dataset(recipe.dataset_dir, recipe.train_split)
    eval_set = None
    if recipe.eval_split:
        try:
            eval_set = load_clip_dataset(recipe.dataset_dir, recipe.eval_split)
        except ValueError:
            logger.warning("no %r split in %s: training without evaluation (the last weights are kept)", recipe.eval_split, recipe.dataset_dir)
    if eval_set is None and args.eval_strategy != IntervalStrategy.NO:
        args.eval_strategy, args.load_best_model_at_end = IntervalStrategy.NO, False
    feature_dim = dataset_feature_dim(train_set)

    if recipe.init_from:
        model = LiveChatForCommentGeneration.from_pretrained(recipe.init_from)
        processor = LiveChatProcessor.from_pretrained(recipe.init_from)
    else:
        if recipe.decoder and recipe.pretrain_steps > 0:
            raise ValueError("masked-LM pretraining needs a [MASK] token, which an LM decoder's tokenizer lacks: drop --pretrain-steps")
        tokenizer = load_tokenizer(recipe.tokenizer or recipe.text_encoder or (recipe.decoder and resolve_decoder(recipe.decoder)))
        config = build_config(recipe, tokenizer, feature_dim)
        processor = LiveChatProcessor.from_config(tokenizer, config)
        model = _pretrained_or_fresh(recipe, args, config, processor, train_set)
    if feature_dim and model.config.video_feature_dim != feature_dim:
        raise ValueError(f"the dataset has {feature_dim}-d frame features but the model expects {model.config.video_feature_dim}")
    if not recipe.init_from and feature_dim:
        statistics = video_feature_statistics(train_set, seed=args.seed)
        if statistics is not None:
            model.get_encoder().set_video_feature_statistics(*(torch.from_numpy(s) for s in statistics))

    if model.config.decoder is not None and recipe.lora_r > 0:
        apply_lora(model, r=recipe.lora_r)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f"LoRA r={recipe.lora_r} on the LM decoder: {trainable:,} of {model.num_parameters():,} parameters train")
    if model.config.decoder is not None and (hint := lm_decoder_bf16_hint(args.bf16)):
        print(hint)

    check_launch(args)
    args.remove_unused_columns = False
    if args.dataloader_pin_memory and not torch.cuda.is_available():
        args.dataloader_pin_memory = False  # pinning needs an accelerator; without one torch only warns
    if args.ddp_find_unused_parameters is None:
        args.ddp_find_unused_parameters = False  # every parameter takes part, even for an absent modality
    ranking_rows = None
    if recipe.select_by_ranking and eval_set is not None and args.eval_strategy != "no":
        ranking_rows = [eval_set[i] for i in range(len(eval_set))]
    video_feature_dim = model.config.video_feature_dim
    collator = DataCollatorForCommentGeneration(
        processor, random_target=True, training=True, seed=args.seed, modality_dropout=recipe.modality_dropout,
        unconditional_rate=recipe.unconditional_rate, video_feature_dim=video_feature_dim,
        activity_labels=model.config.activity_head, targets_per_clip=recipe.resolved_targets_per_clip(model.config),
    )
    trainer = LiveChatTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=collator,
        eval_data_collator=DataCollatorForCommentGeneration(
            processor, random_target=False, training=False, video_feature_dim=video_feature_dim,
            activity_labels=model.config.activity_head,
        ),
        processing_class=processor,
        callbacks=[EpochCallback(collator)],
        ranking_rows=ranking_rows,
    )
    if trainer.ranking_sets is not None and args.load_best_model_at_end and args.metric_for_best_model in (None, "loss", "eval_loss"):
        queries = len(trainer.ranking_sets)
        if queries >= recipe.min_selection_queries:
            # select the kept checkpoint by what the model is used for: ranking comments
            args.metric_for_best_model, args.greater_is_better = "recall@1", True
            print(f"checkpoint selection: contrastive Recall@1 on {queries} validation queries")
        else:
            args.load_best_model_at_end = False
            print(
                f"checkpoint selection: off, validation has {queries} livechat queries (fewer than "
                f"{recipe.min_selection_queries}: one query moves Recall@1 by {1 / queries:.3f}); the last weights are kept"
            )
    _shorten_warmup(trainer)
    trainer.train(resume_from_checkpoint=_resume_point(args.output_dir))
    # generate(), the pipeline and live mode decode with the model's generation config
    trainer.model.generation_config.guidance_scale = None if recipe.guidance_scale == 1 else recipe.guidance_scale
    if has_lora(trainer.model):
        merge_lora(trainer.model)  # the saved model is a plain LiveChat checkpoint: no peft needed to load it
    if recipe.refit_activity and trainer.model.activity_head is not None:
        refit_activity_head(trainer, processor, train_set, eval_set, args.seed)
    trainer.save_model(args.output_dir)
    trainer.save_state()  # trainer_state.json: the log history, and which checkpoint was kept as the best
    if trainer.is_world_process_zero():
        processor.save_pretrained(args.output_dir)
    return Path(args.output_dir)


def refit_activity_head(trainer, processor, train_set, eval_set, seed: int) -> None:
    """The activity head trained beside the comment saw the encoders move under it and is kept at the last epoch: fit
    it again on the final encoders and keep the epoch of the lowest validation loss (measured: Bilibili 0.10 -> 0.21,
    the `halfnoise` world 0.33 -> 0.43 Spearman). On the validation split, else the latest 15 % of each stream's
    training clips. One process only (the others hold no copy to fit): a launched run says so."""
    if trainer.args.world_size > 1:
        print("activity head: not refitted in a multi-process run; `hf-livechat fit-activity` refits the saved model")
        return
    train_set, validation, _ = validation_or_held_out(train_set, eval_set)
    fit = fit_activity_head(trainer.model, processor, train_set, validation, seed=seed)
    kept = "the head as trained" if fit.best_epoch == 0 else f"epoch {fit.best_epoch} of {fit.epochs}"
    print(f"activity head refitted on the final encoders ({fit.train_clips} clips): kept {kept}, by the Poisson loss on {len(validation)} validation clips")


def check_launch(args: Seq2SeqTrainingArguments) -> None:
    """A run started by `torchrun` / `accelerate launch` must train as one model over all processes. On a machine
    without CUDA, transformers only does so with `use_cpu=True` (gloo); otherwise every process silently trains its
    own copy on the whole dataset."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and args.world_size != launched:
        raise RuntimeError(
            f"launched as {launched} processes, but the training arguments set up {args.world_size} "
            f"(parallel mode {args.parallel_mode.value}): each process would train its own copy on the whole dataset. "
            + ("Without CUDA, pass --use_cpu True (DDP over gloo)." if not torch.cuda.is_available() else "")
        )


def _pretrained_or_fresh(recipe, args: Seq2SeqTrainingArguments, config, processor, train_set) -> LiveChatForCommentGeneration:
    if recipe.pretrain_steps <= 0:
        return _with_text_encoder_weights(LiveChatForCommentGeneration(config))
    pretrain_dir = os.path.join(args.output_dir, "pretrain")
    final = os.path.join(pretrain_dir, "final")
    if not os.path.isfile(os.path.join(final, "config.json")):
        pretrain_args = Seq2SeqTrainingArguments(
            **{
                **args.to_dict(),
                "output_dir": pretrain_dir,
                "max_steps": recipe.pretrain_steps,
                "eval_strategy": "no",
                "load_best_model_at_end": False,
                "remove_unused_columns": False,
                "predict_with_generate": False,
                "ddp_find_unused_parameters": True,  # the decoder takes no part in masked-LM pretraining
            }
        )
        trainer = Trainer(
            model=_with_text_encoder_weights(LiveChatForPretraining(config)),
            args=pretrain_args,
            train_dataset=train_set,
            data_collator=DataCollatorForLiveChatPretraining(
                processor, mlm_probability=config.mlm_probability, mask_share=config.mlm_mask_share
            ),
        )
        trainer.train(resume_from_checkpoint=_resume_point(pretrain_dir))
        trainer.save_model(final)
    return LiveChatForCommentGeneration.from_pretrained(final)


def _with_text_encoder_weights(model):
    """A fresh model whose config names a pretrained text encoder or LM decoder starts from its weights."""
    if model.config.text_encoder is not None:
        model.get_encoder().load_pretrained_text_encoders()
    if getattr(model.config, "decoder", None) is not None and model.config.decoder_name_or_path:
        model.get_decoder().load_pretrained_lm()
    return model


def resolve_decoder(name_or_path: str) -> str:
    """The LM decoder's folder or Hub id: a folder as it is, a short name (e.g. `smollm2-135m`) or GGUF file
    converted once to a local folder (`hf_livechat.models.pretrained_lm.resolve_pretrained_lm`)."""
    from ..models.pretrained_lm import resolve_pretrained_lm

    return resolve_pretrained_lm(name_or_path)
