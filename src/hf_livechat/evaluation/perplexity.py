"""Perplexity per word, so that models with different tokenizers compare on the same comments.

A model's summed negative log-likelihood of a comment (natural log, over all of its tokens including the token(s)
that end the line) is spread over the comment's words: whitespace words plus one for the line end, which every
model has to predict too. `per_word_perplexity = exp(sum of NLL / sum of words)` over a set of comments.

`causal_lm_target_nll` computes those sums for any causal LM of transformers, given prompts and the targets that
follow them, in padded batches (one forward pass per batch).

A closed vocabulary (BERT's WordPiece: an emoji, a rare CJK character or a long spam word becomes `[UNK]`) predicts
"some word I cannot spell" for the price of one token, which an open vocabulary (byte-level BPE) never gets to do: on
the YouTube premiere's chat a fifth of the test words are `[UNK]` to BERT's tokenizer, on Bilibili's half.
`unknown_token_cost` spreads each `[UNK]`'s probability evenly over the pieces of the log that the tokenizer cannot
spell (adding `log N` nats per `[UNK]`, N such distinct pieces), the usual adjustment for comparing closed and open
vocabularies; a tokenizer without an unknown token costs nothing more.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def count_words(text: str) -> int:
    """Whitespace words of `text` plus one for the end of the line."""
    return len(text.split()) + 1


def per_word_perplexity(nll: Sequence[float], texts: Sequence[str]) -> float:
    """`exp(sum(nll) / sum(count_words(text)))`.

    Args:
        nll: per comment, the summed negative log-likelihood (natural log) of all its tokens, the line end included.
        texts: the comments, without the line end.

    Raises:
        ValueError: lengths differ, there are no comments, or an NLL is negative or not finite.
    """
    nll = np.asarray(nll, dtype=np.float64).ravel()
    if len(nll) != len(texts):
        raise ValueError(f"{len(nll)} NLL values but {len(texts)} texts")
    if len(nll) == 0:
        raise ValueError("per-word perplexity needs at least one comment")
    if not np.isfinite(nll).all() or (nll < 0).any():
        raise ValueError("NLL values must be finite and >= 0")
    return math.exp(nll.sum() / sum(count_words(text) for text in texts))


def unknown_pieces(tokenizer, texts: Sequence[str]) -> Counter:
    """How often each piece of `texts` that `tokenizer` cannot spell occurs (the text its `[UNK]` tokens stand for);
    empty for a tokenizer without an unknown token."""
    pieces: Counter = Counter()
    for text, spans in zip(texts, _unknown_spans(tokenizer, texts)):
        pieces.update(text[start:end] for start, end in spans)
    return pieces


def _unknown_spans(tokenizer, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """Per text, the character spans of its `[UNK]` tokens (none for a tokenizer without an unknown token)."""
    unk_id = tokenizer.unk_token_id
    if unk_id is None or not texts:
        return [[] for _ in texts]
    encoded = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    return [
        [tuple(span) for token, span in zip(ids, offsets) if token == unk_id]
        for ids, offsets in zip(encoded["input_ids"], encoded["offset_mapping"])
    ]


def unknown_token_cost(tokenizer, texts: Sequence[str], vocabulary_texts: Sequence[str]) -> tuple[np.ndarray, int]:
    """Per text, the nats to add to its NLL so that a closed vocabulary's per-word perplexity compares with an open
    one's: `log N` per `[UNK]` token of the text, N the distinct pieces of `vocabulary_texts` (the whole log) and of
    `texts` that `tokenizer` cannot spell. Returns the costs and N (0 and zeros without unknown tokens)."""
    known = unknown_pieces(tokenizer, vocabulary_texts)
    counts = [unknown_pieces(tokenizer, [text]) for text in texts]
    for count in counts:
        known.update(count)
    if not known:
        return np.zeros(len(texts)), 0
    return np.array([sum(count.values()) * math.log(len(known)) for count in counts]), len(known)


def lowercases(tokenizer) -> bool:
    """Whether `tokenizer` reads "A" and "a" as the same tokens (its normaliser lower-cases, as BERT uncased does)."""
    return tokenizer("A", add_special_tokens=False)["input_ids"] == tokenizer("a", add_special_tokens=False)["input_ids"]


_WORD_START, _LOWER, _UPPER = 0, 1, 2


def _case_transitions(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Per text, `(previous state, letter is upper-case)` of every cased letter outside its `[UNK]` pieces (whose
    spread already tells their spellings apart), the state restarting at each whitespace word."""
    transitions = []
    for text, spans in zip(texts, _unknown_spans(tokenizer, texts)):
        skipped = np.zeros(len(text), dtype=bool)
        for start, end in spans:
            skipped[start:end] = True
        pairs, state = [], _WORD_START
        for index, char in enumerate(text):
            if char.isspace():
                state = _WORD_START
            elif char.lower() != char.upper():
                upper = char.isupper()
                if not skipped[index]:
                    pairs.append((state, upper))
                state = _UPPER if upper else _LOWER
        transitions.append(np.array(pairs, dtype=np.int64).reshape(-1, 2))
    return transitions


def case_cost(tokenizer, texts: Sequence[str], reference_texts: Sequence[str]) -> np.ndarray:
    """Per text, the nats to add to a lower-casing tokenizer's NLL so that it predicts the text as written: `-log
    P(case of each letter | state)`, the state being the word's start or the previous letter's case, with the chain's
    probabilities counted on `reference_texts` (the log's training messages) with add-one smoothing. Letters of
    `[UNK]` pieces are left to `unknown_token_cost`. Zeros when the tokenizer keeps case."""
    if not lowercases(tokenizer):
        return np.zeros(len(texts))
    counts = np.ones((3, 2))
    reference = _case_transitions(tokenizer, reference_texts)
    if reference:
        pairs = np.concatenate(reference)
        np.add.at(counts, (pairs[:, 0], pairs[:, 1]), 1)
    nats = -np.log(counts / counts.sum(-1, keepdims=True))
    return np.array([nats[pairs[:, 0], pairs[:, 1]].sum() for pairs in _case_transitions(tokenizer, texts)])


def causal_lm_target_nll(
    model, tokenizer, prompts: Sequence[str], targets: Sequence[str], batch_size: int = 8, max_length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Summed NLL of each target given its prompt under a causal LM, and the target's token count.

    Prompt and target are tokenized apart (no special tokens) and joined, so every target token is scored, the
    first one included. Sequences are left-padded so that all targets end at the last position: the LM head runs only
    on the last `longest target` positions (`logits_to_keep`). Prompts longer than `max_length` minus the target
    lose their oldest tokens.

    Args:
        model: a `*ForCausalLM` (anything taking `input_ids`, `attention_mask`, `position_ids`, `logits_to_keep`).
        tokenizer: its tokenizer.
        prompts: the text before each target (may be empty).
        targets: the text to score, e.g. a comment plus `"\\n"`; must tokenize to at least one token.
        batch_size: sequences per forward pass.
        max_length: the longest sequence fed; default the model's `max_position_embeddings` when it has one.

    Returns:
        `(nll, tokens)`: float64 and int64 arrays with one entry per target.
    """
    import torch

    if len(prompts) != len(targets):
        raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_length is None:
        max_length = getattr(model.config, "max_position_embeddings", None) or 1024
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise ValueError("the tokenizer has neither a pad nor an EOS token to pad with")

    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    # an empty prompt starts from BOS (else EOS), so that the target's first token has a position predicting it
    start_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if any(not ids for ids in prompt_ids) and start_id is None:
        raise ValueError("an empty prompt needs a BOS or EOS token to start from")
    prompt_ids = [ids or [start_id] for ids in prompt_ids]
    target_ids = tokenizer(list(targets), add_special_tokens=False)["input_ids"]
    for index, ids in enumerate(target_ids):
        if not ids:
            raise ValueError(f"target {index} ({targets[index]!r}) has no tokens")
        if len(ids) >= max_length:
            raise ValueError(f"target {index} has {len(ids)} tokens, max_length is {max_length}")

    device = next(model.parameters()).device
    nll = np.zeros(len(targets), dtype=np.float64)
    counts = np.array([len(ids) for ids in target_ids], dtype=np.int64)
    for start in range(0, len(targets), batch_size):
        rows = range(start, min(start + batch_size, len(targets)))
        # keep the newest prompt tokens; at least one token before the target is needed to predict its first token
        sequences = [prompt_ids[i][max(0, len(prompt_ids[i]) - (max_length - len(target_ids[i]))):] + target_ids[i] for i in rows]
        width = max(map(len, sequences))
        input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            input_ids[row, width - len(sequence):] = torch.tensor(sequence)
            attention_mask[row, width - len(sequence):] = 1
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        keep = int(counts[list(rows)].max())
        # the logits that predict the last `keep` tokens are those at positions -keep-1 .. -2
        with torch.no_grad():
            logits = model(
                input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                position_ids=position_ids.to(device), logits_to_keep=keep + 1, use_cache=False,
            ).logits[:, :-1].float()
        labels = input_ids[:, width - keep:].to(device)
        token_nll = -torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        is_target = torch.arange(keep, device=device).unsqueeze(0) >= (keep - torch.as_tensor(counts[list(rows)], device=device)).unsqueeze(1)
        # where(), not a product: rows of pure padding can hold NaN logits, and NaN * 0 is NaN
        nll[list(rows)] = torch.where(is_target, token_nll, 0.0).sum(-1).double().cpu().numpy()
    return nll, counts


__all__ = [
    "case_cost",
    "causal_lm_target_nll",
    "count_words",
    "lowercases",
    "per_word_perplexity",
    "unknown_pieces",
    "unknown_token_cost",
]
