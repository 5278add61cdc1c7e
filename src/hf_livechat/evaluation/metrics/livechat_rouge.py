"""ROUGE-L through `rouge_score`, as an `evaluate` module that loads from this file without the Hub.

Loaded with `evaluate.load(<path to this file>)`, which works offline (`HF_HUB_OFFLINE=1`). With several references
per prediction, a prediction scores against its best-matching reference (the convention of `rouge_score` and of
the Hub's `rouge` module).
"""

import datasets
import evaluate
from rouge_score import rouge_scorer, tokenizers


_DESCRIPTION = """\
ROUGE-L (Lin, 2004): longest-common-subsequence F-measure between a prediction and its references, averaged over
predictions.
"""

_CITATION = """\
@inproceedings{lin-2004-rouge,
    title = "{ROUGE}: A Package for Automatic Evaluation of Summaries",
    author = "Lin, Chin-Yew",
    booktitle = "Text Summarization Branches Out",
    year = "2004",
    pages = "74--81",
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): generated comments.
    references (`list[str]` or `list[list[str]]`): one reference, or a list of references, per prediction.
    tokenizer (`str`, defaults to `"rouge"`): `"rouge"` is rouge_score's tokenizer (lower-cased ASCII letters and
        digits only: emoji and non-Latin scripts are dropped); `"whitespace"` lower-cases and splits on spaces
        (keeps emotes, emoji and punctuation); `"char"` scores characters (Chinese or Japanese chat).
Returns:
    rougeL (`float`): mean ROUGE-L F-measure, 0 to 1.
    rougeL_precision (`float`), rougeL_recall (`float`): mean ROUGE-L precision and recall.
Example:
    >>> rouge = evaluate.load(hf_livechat.evaluation.generation_metrics.ROUGE_MODULE)
    >>> rouge.compute(predictions=["what a play"], references=[["what a save", "nice"]])["rougeL"]
    0.6666666666666666
"""


class _WhitespaceTokenizer(tokenizers.Tokenizer):
    def tokenize(self, text):
        return text.lower().split()


class _CharTokenizer(tokenizers.Tokenizer):
    def tokenize(self, text):
        return [char for char in text.lower() if not char.isspace()]


_TOKENIZERS = {"rouge": None, "whitespace": _WhitespaceTokenizer(), "char": _CharTokenizer()}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LivechatRouge(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.List(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
            codebase_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
        )

    def _compute(self, predictions, references, tokenizer="rouge"):
        if tokenizer not in _TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {sorted(_TOKENIZERS)}, got {tokenizer!r}")
        scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_TOKENIZERS[tokenizer])
        scores = []
        for prediction, refs in zip(predictions, references, strict=True):
            refs = [refs] if isinstance(refs, str) else list(refs)
            if not refs:
                raise ValueError("Every prediction needs at least one reference")
            scores.append(scorer.score_multi(refs, prediction)["rougeL"])
        count = max(len(scores), 1)
        return {
            "rougeL": sum(s.fmeasure for s in scores) / count,
            "rougeL_precision": sum(s.precision for s in scores) / count,
            "rougeL_recall": sum(s.recall for s in scores) / count,
        }
