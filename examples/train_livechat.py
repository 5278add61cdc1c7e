"""Train LiveChat on a dataset folder from `hf-livechat build-dataset` with `Seq2SeqTrainer`.

One process:      python examples/train_livechat.py --dataset_dir DATA --output_dir MODEL --config small
Several (DDP):    torchrun --nproc_per_node 4 examples/train_livechat.py --dataset_dir DATA --output_dir MODEL
accelerate:       accelerate launch --config_file examples/configs/fsdp.yaml examples/train_livechat.py ...
DeepSpeed:        ... --deepspeed examples/configs/deepspeed_zero2.json

Every `Seq2SeqTrainingArguments` flag works (`--bf16`, `--gradient_checkpointing`, `--gradient_accumulation_steps`,
...). `--pretrain_steps N` runs masked-LM pretraining first. A killed run resumes from its last checkpoint.
"""

from transformers import HfArgumentParser, Seq2SeqTrainingArguments

from hf_livechat.training.train import LiveChatRecipeArguments, train_livechat


def main():
    parser = HfArgumentParser((LiveChatRecipeArguments, Seq2SeqTrainingArguments))
    recipe, training_args = parser.parse_args_into_dataclasses()
    train_livechat(recipe, training_args)


if __name__ == "__main__":
    main()
