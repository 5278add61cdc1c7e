"""The row schema every live-comment dataset shares: a list of comments (`ChatMessage` minus its source and emote
ids). No torch here."""

from __future__ import annotations


def comment_feature():
    """The schema of a list of live comments (`ChatMessage` minus its source and emote ids)."""
    from datasets import List, Value

    return List(
        {
            "time": Value("float32"),
            "author": Value("string"),
            "text": Value("string"),
            "emotes": List({"name": Value("string"), "start": Value("int32"), "end": Value("int32")}),
        }
    )


def comment_rows(messages) -> list[dict]:
    """`ChatMessage`s -> rows of `comment_feature()`."""
    return [
        {"time": m.time, "author": m.author, "text": m.text, "emotes": [{"name": e.name, "start": e.start, "end": e.end} for e in m.emotes]}
        for m in messages
    ]
