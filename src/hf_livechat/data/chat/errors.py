"""The one error every chat reader raises for bad input."""

from __future__ import annotations

from os import PathLike


class ChatFormatError(ValueError):
    """A chat log is malformed, or its format cannot be recognised.

    The message names the file, where in it the problem is (a line, or a record index for formats without useful
    line numbers) and what is wrong, e.g. ``chat.json, line 12 (record 3): 'content_offset_seconds' is missing``.
    """

    def __init__(
        self, path: str | PathLike[str], reason: str, *, line: int | None = None, record: int | None = None
    ) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        self.record = record
        where = [f"line {line}"] if line is not None else []
        if record is not None:
            where.append(f"record {record}" if not where else f"(record {record})")
        location = f", {' '.join(where)}" if where else ""
        super().__init__(f"{self.path}{location}: {reason}")

    def __reduce__(self):  # keep the keyword-only fields through pickling (multiprocessing builders)
        return _rebuild_error, (self.path, self.reason, self.line, self.record)


def _rebuild_error(path: str, reason: str, line: int | None, record: int | None) -> ChatFormatError:
    return ChatFormatError(path, reason, line=line, record=record)
