"""Train the LCAffect fusion classifier with the benchmark protocol: several seeds, dev-based early stopping and
best-checkpoint selection, test metrics as mean ± std, with and without live-comment features.

The entry point is `hf-livechat train-affect`; this script is the same command (same options):

    # MELD, text only (MiniLM sentence features, cached after the first run), 5 seeds:
    python examples/train_affect.py --benchmark meld --data ../shared/data/meld --no-live-comments
    # CH-SIMS v2 with live-comment features from `hf-livechat extract-lc-features` (joined by id), and the ablation:
    python examples/train_affect.py --benchmark simsv2 --data unaligned.pkl --allow-pickle \
        --live-comment-features lc/ --no-live-comments
    # MUStARD, speaker-dependent, on the authors' 5 folds (data/split_indices.p of soujanyaporia/MUStARD):
    python examples/train_affect.py --benchmark mustard --data sarcasm_data.json --split-indices split_indices.p \
        --no-live-comments

From Python, `hf_livechat.training.affect.run_affect_protocol` runs the same protocol on any `DatasetDict`s.
"""

import sys

from hf_livechat.cli import main


if __name__ == "__main__":
    sys.exit(main(["train-affect", *sys.argv[1:]]))
