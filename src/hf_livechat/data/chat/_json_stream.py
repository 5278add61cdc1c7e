"""Incremental JSON: read the elements of a huge array one at a time without loading the file.

``json.JSONDecoder.raw_decode`` decodes one value from a sliding text buffer; the buffer is refilled when a value
runs past its end and trimmed once values are consumed, so memory holds one record (plus a chunk), never the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, TextIO

from .errors import ChatFormatError

CHUNK_CHARS = 1 << 16
# A chat record is a few KB; a "value" this large means a broken file (e.g. a string whose closing quote is lost),
# and reading on would pull the rest of a multi-GB file into memory.
MAX_VALUE_CHARS = 64 << 20
_WHITESPACE = " \t\n\r"
_TRUNCATION_SLACK = 6  # a buffer cut inside "\u12" or "tru" fails this close to its end


class JsonStream:
    """A cursor over the JSON text of ``fp`` that decodes one value at a time."""

    def __init__(self, fp: TextIO, path: Path, chunk_chars: int = CHUNK_CHARS) -> None:
        self._fp = fp
        self._path = path
        self._chunk_chars = chunk_chars
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line_of_buf_start = 1
        self._counted = (0, 1)  # (buffer position, its line): counting resumes here, keeping `line` O(1) amortised

    # -- positions -------------------------------------------------------------------------------------------
    @property
    def line(self) -> int:
        """1-based line number of the cursor."""
        counted_pos, counted_line = self._counted
        line = counted_line + self._buf.count("\n", counted_pos, self._pos)
        self._counted = (self._pos, line)
        return line

    def error(self, reason: str, *, record: int | None = None, at: int | None = None) -> ChatFormatError:
        line = self.line if at is None else self._line_of_buf_start + self._buf.count("\n", 0, at)
        return ChatFormatError(self._path, reason, line=line, record=record)

    # -- buffer ----------------------------------------------------------------------------------------------
    def _fill(self, at_least: int) -> None:
        if self._pos:  # drop what was consumed so the buffer stays one record long
            self._line_of_buf_start += self._buf.count("\n", 0, self._pos)
            self._buf = self._buf[self._pos :]
            self._pos = 0
        self._counted = (0, self._line_of_buf_start)
        try:
            chunk = self._fp.read(max(self._chunk_chars, at_least))
        except UnicodeDecodeError as exc:
            raise self.error(f"not valid UTF-8 ({exc.reason})") from None
        if chunk:
            self._buf += chunk
        else:
            self._eof = True

    def peek(self) -> str:
        """The next non-whitespace character ("" at the end of the file), without consuming it."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buf) or self._eof:
                return self._buf[self._pos : self._pos + 1]
            self._fill(0)

    def expect(self, chars: str, what: str, *, record: int | None = None) -> str:
        """Consume the next non-whitespace character, which must be one of ``chars``."""
        char = self.peek()
        if not char or char not in chars:
            found = repr(char) if char else "the end of the file"
            raise self.error(f"expected {what}, found {found}", record=record)
        self._pos += 1
        return char

    def value(self, *, record: int | None = None) -> Any:
        """Decode the next JSON value."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._eof or not self._may_be_cut(exc):
                    raise self.error(f"invalid JSON: {exc.msg}", record=record, at=exc.pos) from None
            except (ValueError, RecursionError) as exc:  # e.g. an integer literal beyond Python's digit limit
                raise self.error(f"invalid JSON: {exc}", record=record) from None
            else:
                if end < len(self._buf) or self._eof:  # a number ending at the buffer's edge may go on
                    self._pos = end
                    return value
            if len(self._buf) - self._pos > MAX_VALUE_CHARS:
                raise self.error(f"a single value is longer than {MAX_VALUE_CHARS} characters", record=record)
            self._fill(len(self._buf) - self._pos)  # doubling keeps re-decoding a long value linear overall

    def _may_be_cut(self, exc: json.JSONDecodeError) -> bool:
        return exc.pos >= len(self._buf) - _TRUNCATION_SLACK or exc.msg.startswith("Unterminated string")

    # -- structure -------------------------------------------------------------------------------------------
    def array_items(self) -> Iterator[tuple[int, int, Any]]:
        """Yield ``(line, index, element)`` for the array at the cursor, consuming its closing bracket."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self._pos += 1
            return
        index = 0
        while True:
            self.peek()
            line = self.line
            yield line, index, self.value(record=index)
            index += 1
            if self.expect(",]", "',' or ']' after an array element", record=index - 1) == "]":
                return

    def object_keys(self) -> Iterator[str]:
        """Yield the keys of the object at the cursor; the caller must consume each key's value (``value()`` or
        ``array_items()``) before asking for the next key."""
        self.expect("{", "'{'")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error("expected a quoted object key")
            key = self.value()
            self.expect(":", "':' after an object key")
            yield key
            if self.expect(",}", "',' or '}' after an object value") == "}":
                return

    def at_end(self) -> bool:
        return self.peek() == ""
