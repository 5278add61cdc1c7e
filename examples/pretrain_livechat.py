"""Masked-LM pretraining of LiveChat's transcript and chat encoders (the first stage of the recipe).

    python examples/pretrain_livechat.py --dataset_dir DATA --output_dir PRETRAINED --max_steps 2000
    python examples/train_livechat.py --dataset_dir DATA --init_from PRETRAINED --output_dir MODEL

Runs under torchrun / accelerate like train_livechat.py; resumes from its last checkpoint.
"""

from transformers import HfArgumentParser, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from hf_livechat import LiveChatForPretraining, LiveChatProcessor
from hf_livechat.tokenization import load_tokenizer
from hf_livechat.training.collators import DataCollatorForLiveChatPretraining
from hf_livechat.data.clip_dataset import load_clip_dataset
from hf_livechat.training.train import LiveChatRecipeArguments, build_config, _feature_dim


def main():
    parser = HfArgumentParser((LiveChatRecipeArguments, TrainingArguments))
    recipe, args = parser.parse_args_into_dataclasses()
    args.remove_unused_columns = False
    set_seed(args.seed)
    args.ddp_find_unused_parameters = True  # the decoder takes no part in masked-LM pretraining
    train_set = load_clip_dataset(recipe.dataset_dir, recipe.train_split)
    tokenizer = load_tokenizer(recipe.tokenizer)
    config = build_config(recipe, tokenizer, _feature_dim(train_set))
    processor = LiveChatProcessor.from_config(tokenizer, config)
    trainer = Trainer(
        model=LiveChatForPretraining(config),
        args=args,
        train_dataset=train_set,
        data_collator=DataCollatorForLiveChatPretraining(processor, mlm_probability=config.mlm_probability),
    )
    last = get_last_checkpoint(args.output_dir) if args.output_dir and __import__("os").path.isdir(args.output_dir) else None
    trainer.train(resume_from_checkpoint=last)
    trainer.save_model(args.output_dir)
    if trainer.is_world_process_zero():
        processor.save_pretrained(args.output_dir)


if __name__ == "__main__":
    main()
