"""Train V2LC (video <-> live comment contrastive encoder) on a segment dataset from `hf-livechat build-lcaffect`.

One process:   python examples/train_v2lc.py --dataset_dir SEGMENTS --output_dir MODEL --num_train_epochs 10
Several:       torchrun --nproc_per_node 4 examples/train_v2lc.py --dataset_dir SEGMENTS --output_dir MODEL ...
accelerate:    accelerate launch --config_file examples/configs/ddp.yaml examples/train_v2lc.py ...

Under several processes every step's loss is the global batch's: each process gathers the others' segment and comment
embeddings as negatives (`V2LCContrastiveLoss(rank, world_size)` with the Trainer's process index and world size).
Every `TrainingArguments` flag works (`--bf16`, `--gradient_accumulation_steps`, `--save_steps`...), with the defaults
of the recipe's `V2LC_TRAINING_SETTINGS` (cosine schedule, weight decay 0.01, a checkpoint per epoch); the recipe's own
flags are those of `V2LCRecipeArguments` (`--config tiny|small|base`, `--text_model minilm|tiny|small|ID`,
`--max_comments_per_segment`...). A killed run resumes from its last checkpoint. At the end the held-out VODs'
video -> comment and comment -> video Recall@1/5/10 are printed against chance and saved to `retrieval.json`.
On CPU-only machines several processes use gloo (`--use_cpu` is set for you under torchrun).
"""

from transformers import HfArgumentParser, TrainingArguments

from hf_livechat.training.launch import recipe_use_cpu
from hf_livechat.training.v2lc import V2LC_TRAINING_SETTINGS, V2LCRecipeArguments, train_v2lc


def main():
    parser = HfArgumentParser((V2LCRecipeArguments, TrainingArguments))
    # the recipe's schedule (cosine, weight decay 0.01, a checkpoint each epoch), as `hf-livechat train-v2lc` has it;
    # under torchrun without CUDA, DDP over gloo
    parser.set_defaults(**V2LC_TRAINING_SETTINGS, eval_strategy="epoch", use_cpu=recipe_use_cpu())
    recipe, training_args = parser.parse_args_into_dataclasses()
    print(f"model saved to {train_v2lc(recipe, training_args)}")


if __name__ == "__main__":
    main()
