"""Reading an import file: UTF-8 CSV with a header row. A row that cannot be read is
reported with its line and the reason; a file that is not UTF-8, or that ends inside a
quoted field, stops the import with the line where it went wrong."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BadFile", "Row", "RowError", "read_rows"]

MAX_BYTES = 1 << 30


class BadFile(Exception):
    """The file as a whole cannot be imported; the message says where and why."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, str]


def read_rows(
    path: Path, required: Sequence[str], optional: Sequence[str]
) -> Iterator[Row | RowError]:
    """The file's rows with the header's columns; raises BadFile for a file that is not
    UTF-8 CSV with the required columns, or that is cut off inside a quoted field."""
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise BadFile(f"{path} is over {MAX_BYTES:,} bytes; split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadFile(f"line {line}: the file is not UTF-8 (byte {exc.start})") from exc
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise BadFile(f"line {line}: the file holds a NUL character")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    last = 0  # the line where the last record read whole ended
    try:
        header = next(reader, [])
        missing = [c for c in required if c not in header]
        if missing:
            raise BadFile(f"line 1: the header lacks {', '.join(missing)}")
        unknown = [c for c in header if c not in required and c not in optional]
        if unknown:
            raise BadFile(f"line 1: unknown columns {', '.join(unknown)}")
        # Each row is read into a dict by the header: of two columns of one name, the last
        # one's cells were taken and the first one's dropped without a word.
        twice = list(dict.fromkeys(c for i, c in enumerate(header) if c in header[:i]))
        if twice:
            raise BadFile(f"line 1: columns given twice: {', '.join(twice)}")
        width, last = len(header), reader.line_num
        for record in reader:
            last = reader.line_num
            if not record:
                continue  # a blank line, as csv.DictReader skips them
            if len(record) != width:
                yield RowError(last, "-", "the row has another number of fields than the header")
            else:
                yield Row(last, dict(zip(header, record, strict=True)))
    except csv.Error as exc:  # in the record that starts after the last one read whole
        raise BadFile(f"line {last + 1}: {exc}") from exc
