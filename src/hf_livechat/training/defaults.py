"""The LiveChat recipe's defaults, in one place and free of torch (the CLI builds its parser from them).

They were chosen on the whole world family (`bench/bench_worlds.py`: the quickstart's world and the variants that
break its conveniences), not on one world.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingDefaults:
    """The schedule of `hf-livechat train` and of the quickstart."""

    epochs: float = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 30
    evaluations: int = 10  # validation rankings over the run
    logging_steps: int = 50
    modality_dropout: float = 0.15  # chance that each modality of a training clip is removed
    unconditional_rate: float = 0.1  # chance that a training clip loses all three (the unconditional model)
    # Target comments per clip and step. One (the paper's draw) for the from-scratch decoder, whose step is cheap; an LM
    # decoder reads each clip's chat prompt (about 160 tokens) once for all of its targets in one sequence, so eight
    # targets cost about 1.2 times one (8 Northernlion clips: 10.3 s against 8.6 s on 2 CPU cores).
    targets_per_clip: int = 1
    lm_decoder_targets_per_clip: int = 8
    # A checkpoint is selected by validation Recall@1 only when validation has this many queries; with fewer, one
    # query moves R@1 by more than the differences between checkpoints, and the last weights are kept.
    min_selection_queries: int = 200
    # Classifier-free guidance written into the saved model's generation config, so that `generate`, the pipeline
    # and live mode decode with it by default. 1 (off): on a fresh video-only stream it did not raise closeness to
    # the real chat nor distinct comments, with beams or samples (docs/training-and-evaluation.md).
    guidance_scale: float = 1.0
