"""Line-by-line reading for the line-oriented formats (IRC logs, JSON lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ._parsing import ReadContext


def iter_lines(ctx: ReadContext) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for the non-blank lines of ``ctx.path``, without their line break.

    Lines are split on ``\\n`` only (a stray ``\\r`` or U+2028 inside a message does not end it). A line that is
    not UTF-8 is reported as a bad record.
    """
    with open(Path(ctx.path), "rb") as fp:
        for number, raw in enumerate(fp, start=1):
            line = decode_line(ctx, number, raw)
            if line is not None and line.strip():
                yield number, line


def decode_line(ctx: ReadContext, number: int, raw: bytes) -> str | None:
    """Line `number` of a log as text: a UTF-8 BOM on line 1 dropped, the line ending stripped; `None` (reported
    through `ctx` as a bad record) when it is not UTF-8."""
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        ctx.bad(f"not valid UTF-8 ({exc.reason})", line=number)
        return None
