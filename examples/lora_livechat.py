"""PEFT LoRA fine-tuning of a saved LiveChat model (e.g. adapting to a new streamer's chat).

    python examples/lora_livechat.py --base_model MODEL --dataset_dir DATA --output_dir ADAPTER --num_train_epochs 3
    # later: PeftModel.from_pretrained(AutoModel.from_pretrained(MODEL), ADAPTER).merge_and_unload()
"""

from dataclasses import dataclass, field

from peft import LoraConfig, TaskType, get_peft_model
from transformers import HfArgumentParser, Seq2SeqTrainer, Seq2SeqTrainingArguments

from hf_livechat import LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.training.collators import DataCollatorForCommentGeneration, EpochCallback
from hf_livechat.data.clip_dataset import load_clip_dataset


@dataclass
class LoraArguments:
    base_model: str = field(metadata={"help": "a saved LiveChat model folder or repo id"})
    dataset_dir: str = field(metadata={"help": "a LiveChat dataset folder"})
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str = field(default="q_proj,v_proj", metadata={"help": "comma-separated module name suffixes"})


def main():
    lora_args, args = HfArgumentParser((LoraArguments, Seq2SeqTrainingArguments)).parse_args_into_dataclasses()
    args.remove_unused_columns = False
    model = LiveChatForCommentGeneration.from_pretrained(lora_args.base_model)
    processor = LiveChatProcessor.from_pretrained(lora_args.base_model)
    lora = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM,
        r=lora_args.rank,
        lora_alpha=lora_args.alpha,
        lora_dropout=lora_args.dropout,
        target_modules=lora_args.target_modules.split(","),
    )
    model = get_peft_model(model, lora)
    model.print_trainable_parameters()
    collator = DataCollatorForCommentGeneration(processor, seed=args.seed)
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=load_clip_dataset(lora_args.dataset_dir, "train"),
        data_collator=collator,
        callbacks=[EpochCallback(collator)],
    )
    trainer.train()
    model.save_pretrained(args.output_dir)
    print(f"adapter saved to {args.output_dir}")


if __name__ == "__main__":
    main()
