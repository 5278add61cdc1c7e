"""Corpus BLEU through sacreBLEU, as an `evaluate` module that loads from this file without the Hub.

`evaluate.load("bleu")` fetches its script from the Hugging Face Hub. This module ships inside `hf_livechat` and
is loaded with `evaluate.load(<path to this file>)`, which works offline (`HF_HUB_OFFLINE=1`). It accepts a
different number of references per prediction: live comments have as many references as the response window
has comments.
"""

import datasets
import evaluate
import sacrebleu


_DESCRIPTION = """\
Corpus-level BLEU (Papineni et al., 2002) computed by sacreBLEU (Post, 2018) on detokenized text. Each prediction
may have any number of references (at least one).
"""

_CITATION = """\
@inproceedings{post-2018-call,
    title = "A Call for Clarity in Reporting {BLEU} Scores",
    author = "Post, Matt",
    booktitle = "Proceedings of the Third Conference on Machine Translation: Research Papers",
    year = "2018",
    pages = "186--191",
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): generated comments.
    references (`list[str]` or `list[list[str]]`): one reference, or a list of references, per prediction.
    tokenize (`str`, defaults to `"13a"`): sacreBLEU tokenizer: `"13a"` (WMT), `"intl"`, `"zh"` (Chinese),
        `"char"`, `"none"`.
    lowercase (`bool`, defaults to `False`): case-insensitive BLEU.
    smooth_method (`str`, defaults to `"exp"`): `"exp"`, `"floor"`, `"add-k"` or `"none"`.
    max_order (`int`, defaults to 4): longest n-gram; live comments are short, so BLEU-1/BLEU-2 are common too.
Returns:
    score (`float`): BLEU, 0 to 100.
    precisions (`list[float]`): modified 1- to `max_order`-gram precisions, 0 to 100.
    brevity_penalty (`float`), sys_len (`int`), ref_len (`int`).
Example:
    >>> bleu = evaluate.load(hf_livechat.evaluation.generation_metrics.BLEU_MODULE)
    >>> bleu.compute(predictions=["that was a great play"], references=[["that was a great play", "gg"]])["score"]
    100.00000000000004
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LivechatBleu(evaluate.Metric):
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
            codebase_urls=["https://github.com/mjpost/sacrebleu"],
        )

    def _compute(self, predictions, references, tokenize="13a", lowercase=False, smooth_method="exp", max_order=4):
        references = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
        if any(not refs for refs in references):
            raise ValueError("Every prediction needs at least one reference")
        # sacreBLEU takes reference *streams* (the i-th reference of every prediction); `None` pads the streams of
        # predictions that have fewer references.
        num_streams = max(len(refs) for refs in references)
        streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(num_streams)]
        bleu = sacrebleu.BLEU(
            tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method, max_ngram_order=max_order
        )
        result = bleu.corpus_score(list(predictions), streams)
        return {
            "score": result.score,
            "precisions": list(result.precisions),
            "brevity_penalty": result.bp,
            "sys_len": result.sys_len,
            "ref_len": result.ref_len,
        }
