"""Defaults of ranking evaluation, free of torch (the CLI builds its parser from them)."""

# Weight of the unconditional term of the contrastive score `log P(c | clip) - w * log P(c | no modality)`; 0 is
# the papers' likelihood (`hf-livechat evaluate --prior-weight 0`). Chosen on the world family
# (docs/training-and-evaluation.md, `bench/bench_worlds.py`): the likelihood ranks first what chat writes at every
# moment; the full pointwise mutual information (1) over-rewards candidates the model finds rare on their own.
DEFAULT_PRIOR_WEIGHT = 0.5
