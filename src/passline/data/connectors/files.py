"""Read CSV, TSV, JSON Lines, Parquet and Excel files: local paths, globs and fsspec URLs.

Every format streams: CSV and JSON Lines are parsed ``batch_bytes`` of text at a time,
Parquet ``batch_bytes`` of (uncompressed) row data at a time, Excel ``batch_rows`` rows at a
time. A glob reads its files in name order, and all of them must have the first file's
columns. Errors name the file, the line, the column and the value, and say what to do.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import IO, Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from passline.data.connectors._rows import RowBatcher, arrow_types
from passline.data.connectors.base import Connector
from passline.errors import InvalidInput, MissingExtra, Unavailable
from passline.settings import Settings, redact_url

__all__ = ["FORMATS", "FileConnector"]

MiB = 1024 * 1024
FORMATS = ("csv", "tsv", "jsonl", "parquet", "xlsx")
BAD_LINE_MODES = ("error", "skip", "quarantine")
_ALIASES = {"ndjson": "jsonl", "json_lines": "jsonl", "jsonlines": "jsonl", "xls": "xlsx"}
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
_CONVERSION = re.compile(r"In CSV column #(\d+): Row #(\d+): CSV conversion error to (.+?): (.*)")
_TYPE_HINT = "Declare the column's type: --type {col}=string (column_types={{'{col}': 'string'}})."


class FileConnector(Connector):
    """Rows from one file, a glob of files or an fsspec URL (``memory://``, ``s3://``...).

    Args:
        path: a path, a glob (``data/*.csv``) or a URL; ``s3://`` needs the ``s3`` extra.
        format: one of csv, tsv, jsonl, parquet, xlsx; inferred from the extension if omitted.
        encoding: of CSV/TSV text, e.g. ``latin-1``.
        delimiter: of CSV fields; default ``,`` (``\\t`` for tsv).
        column_types: ``{column: type}``, e.g. ``{"zip": "string"}``, instead of inferred types.
        on_bad_lines: CSV rows with the wrong number of fields: ``error`` stops the read,
            ``skip`` drops them (``report.skipped``), ``quarantine`` sets them aside
            (``report.quarantined``).
        batch_bytes: text parsed per batch; default the memory budget / 64, at least 256 KiB.
        batch_rows: Excel rows per batch.
        sheet: Excel sheet name or 0-based index; default the first.
        storage_options: passed to fsspec (e.g. an S3 endpoint); never put secrets here.
    """

    kind = "file"

    def __init__(
        self,
        path: str,
        format: str | None = None,
        *,
        encoding: str = "utf8",
        delimiter: str | None = None,
        column_types: Mapping[str, str] | None = None,
        on_bad_lines: str = "error",
        batch_bytes: int | None = None,
        batch_rows: int = 10_000,
        sheet: str | int | None = None,
        storage_options: Mapping[str, Any] | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        self.path, self.encoding, self.delimiter = path, encoding, delimiter
        self.format = _resolve_format(path, format)
        self.column_types = dict(column_types or {})
        self.types = arrow_types(self.column_types)
        self.on_bad_lines = _check_choice("on_bad_lines", on_bad_lines, BAD_LINE_MODES)
        if on_bad_lines != "error" and self.format not in ("csv", "tsv"):
            raise InvalidInput(
                f"on_bad_lines={on_bad_lines!r} applies to CSV and TSV only; "
                f"{path} is read as {self.format}."
            )
        budget = (settings or Settings()).memory_budget_mb * MiB
        # Arrow's streaming CSV reader holds read-ahead and parse buffers of dozens of blocks
        # (measured: peak RSS grows by about 50x the block size), so a block is 1/64 of the
        # budget: the reader then stays within the budget whatever the file's size.
        self.batch_bytes = batch_bytes or max(256 * 1024, budget // 64)
        if self.batch_bytes < 1024 or batch_rows < 1:
            raise InvalidInput(
                "The 'batch_bytes' parameter of FileConnector must be at least 1024 and "
                f"'batch_rows' at least 1. Got {batch_bytes} and {batch_rows} instead."
            )
        self.batch_rows, self.sheet = batch_rows, sheet
        self.storage_options = dict(storage_options or {})

    def fingerprint(self) -> str | None:
        """SHA-256 of every file's bytes and of the options that shape the rows."""
        hasher = hashlib.sha256()
        options = [
            self.format,
            self.encoding,
            self.delimiter,
            self.on_bad_lines,
            self.sheet,
            sorted(self.column_types.items()),
        ]
        hasher.update(repr(options).encode())
        for path, _size in self._files:
            hasher.update(path.encode() + b"\0")
            with self._fs.open(path, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    hasher.update(chunk)
        return hasher.hexdigest()

    def describe(self) -> dict[str, Any]:
        files = self._files
        return {
            "kind": self.kind,
            "format": self.format,
            "location": _safe(self.path),
            "files": [self._display(p) for p, _ in files],
            "bytes": sum(size for _, size in files),
        }

    def batches(self) -> Iterator[pa.RecordBatch]:
        read = {
            "csv": self._csv,
            "tsv": self._csv,
            "jsonl": self._jsonl,
            "parquet": self._parquet,
            "xlsx": self._excel,
        }[self.format]
        first: tuple[str, pa.Schema] | None = None
        for path, size in self._files:
            for batch in read(path, size, first[1] if first else None):
                if first is None:
                    first = (path, batch.schema)
                elif batch.schema != first[1]:
                    raise _schema_differs(first[0], first[1], path, batch.schema)
                yield batch

    # --- locating files ---------------------------------------------------------------

    @cached_property
    def _fs(self) -> fsspec.AbstractFileSystem:
        try:
            fs, _ = fsspec.core.url_to_fs(self.path, **self.storage_options)
        except ImportError as err:
            scheme = self.path.split("://")[0]
            if scheme in ("s3", "s3a"):
                raise MissingExtra.for_extra("s3", "Reading s3:// URLs") from None
            raise InvalidInput(f"Reading {scheme}:// URLs needs a package: {err}") from None
        except ValueError as err:
            raise InvalidInput(f"Cannot read {_safe(self.path)}: {err}.") from None
        return fs

    @cached_property
    def _files(self) -> list[tuple[str, int]]:
        """The files to read, in order, with their sizes."""
        fs = self._fs
        target = fs._strip_protocol(self.path)
        try:
            if any(ch in target for ch in "*?["):
                paths = sorted(p for p in fs.glob(target) if fs.isfile(p))
                if not paths:
                    raise InvalidInput(f"No file matches {_safe(self.path)}.")
            elif fs.isdir(target):
                raise InvalidInput(
                    f"{_safe(self.path)} is a folder.", hint="Name files with a glob: folder/*.csv"
                )
            elif not fs.exists(target):
                raise InvalidInput(f"{_safe(self.path)} does not exist.")
            else:
                paths = [target]
            return [(p, int(fs.size(p) or 0)) for p in paths]
        except (ConnectionError, TimeoutError) as err:
            raise Unavailable(f"Cannot reach {_safe(self.path)}: {err}") from None

    def _display(self, path: str) -> str:
        if isinstance(self._fs, LocalFileSystem):
            return path
        return _safe(self._fs.unstrip_protocol(path))

    def _open(self, path: str) -> IO[bytes]:
        return self._fs.open(path, "rb", compression="infer")  # type: ignore[no-any-return]

    # --- CSV / TSV --------------------------------------------------------------------

    def _csv(self, path: str, size: int, like: pa.Schema | None) -> Iterator[pa.RecordBatch]:
        if size == 0:
            raise InvalidInput(f"{path} is empty (0 bytes).", hint="Check the export that made it.")
        types = dict(zip(like.names, like.types, strict=True)) if like else dict(self.types)
        f = self._open(path)
        try:
            reader, bad = self._open_csv(f, path, types)
            if nulls := [col.name for col in reader.schema if col.type == pa.null()]:
                # A column empty throughout the first block is typed null, and its first value
                # further down would fail to convert: read such columns as text instead.
                self.report.notes.append(f"{path}: no value in the first block for {nulls}; text.")
                f.close()
                f = self._open(path)
                reader, bad = self._open_csv(f, path, types | dict.fromkeys(nulls, pa.string()))
            self._check_csv_header(path, reader.schema, like)
            rows = 0
            try:
                for batch in reader:
                    rows += batch.num_rows
                    yield batch
            except pa.ArrowInvalid as err:
                raise self._csv_error(path, err, bad, reader.schema.names) from None
        finally:
            f.close()
        if rows == 0:  # a header and no rows: no data, but the columns are known
            self.report.notes.append(f"{path} has a header and no rows.")
            yield _empty(reader.schema)

    def _open_csv(
        self, f: IO[bytes], path: str, types: dict[str, pa.DataType]
    ) -> tuple[pa.RecordBatchReader, _BadLines]:
        bad = _BadLines(self, path)
        delimiter = self.delimiter or ("\t" if self.format == "tsv" else ",")
        try:
            reader = pacsv.open_csv(
                f,
                # Serial parsing is what gives the invalid-row handler its line numbers.
                read_options=pacsv.ReadOptions(
                    block_size=self.batch_bytes, encoding=self.encoding, use_threads=False
                ),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=bad),
                convert_options=pacsv.ConvertOptions(column_types=types),
            )
        except LookupError:
            raise InvalidInput(f"Unknown encoding {self.encoding!r}.") from None
        except pa.ArrowInvalid as err:
            names = _header_names(f, delimiter, self.encoding)
            if "Empty CSV" not in str(err):
                raise self._csv_error(path, err, bad, names) from None
            if not [n for n in names if n.strip()]:
                raise InvalidInput(f"{path} is empty: it has no header line.") from None
            # Arrow refuses a header without a line break after it; it is still a header.
            schema = pa.schema([(n, types.get(n, pa.string())) for n in names])
            return pa.RecordBatchReader.from_batches(schema, []), bad
        return reader, bad

    def _check_csv_header(self, path: str, schema: pa.Schema, like: pa.Schema | None) -> None:
        undecodable = [
            n
            for n, t in zip(schema.names, schema.types, strict=True)
            if "\ufffd" in n or (t == pa.binary() and self.types.get(n) != pa.binary())
        ]
        if undecodable:
            raise _encoding_error(path, f"column {undecodable[0]!r}", self.encoding)
        if like is not None and schema.names != like.names:
            raise _schema_differs("the first file", like, path, schema)

    def _csv_error(
        self, path: str, err: pa.ArrowInvalid, bad: _BadLines, names: list[str]
    ) -> InvalidInput:
        if bad.first is not None:
            number, expected, got, text = bad.first
            return InvalidInput(
                f"{path}, line {number}: expected {expected} fields, got {got}: {_cut(text)!r}.",
                hint="Fix the line, or pass --on-bad-lines skip (drop such lines) "
                "or --on-bad-lines quarantine (keep them aside).",
            )
        message = str(err)
        if match := _CONVERSION.search(message):
            index, line, type_, problem = match.groups()
            column = names[int(index)] if int(index) < len(names) else f"#{int(index) + 1}"
            if "UTF8" in problem:
                return _encoding_error(path, f"line {line}, column {column!r}", self.encoding)
            return InvalidInput(
                f"{path}, line {line}, column {column!r}: cannot read {_cut(problem)} as {type_}; "
                f"the type comes from column_types or the first {self.batch_bytes} bytes.",
                hint=_TYPE_HINT.format(col=column),
            )
        if "straddl" in message:
            return InvalidInput(
                f"{path} has a line longer than batch_bytes ({self.batch_bytes}).",
                hint="Pass a larger batch_bytes.",
            )
        return InvalidInput(f"{path} is not valid {self.format.upper()}: {_cut(message, 200)}")

    # --- JSON Lines -------------------------------------------------------------------

    def _jsonl(self, path: str, size: int, like: pa.Schema | None) -> Iterator[pa.RecordBatch]:
        if size == 0:
            raise InvalidInput(f"{path} is empty (0 bytes).", hint="Check the export that made it.")
        declared = like or (pa.schema(list(self.types.items())) if self.types else None)
        with self._open(path) as f:
            try:
                reader = pajson.open_json(
                    f,
                    read_options=pajson.ReadOptions(block_size=self.batch_bytes, use_threads=False),
                    parse_options=pajson.ParseOptions(explicit_schema=declared),
                )
                yield from reader
            except pa.ArrowInvalid as err:
                raise self._json_error(path, str(err)) from None

    def _json_error(self, path: str, message: str) -> InvalidInput:
        if "straddl" in message:
            return InvalidInput(
                f"{path} has a line longer than batch_bytes ({self.batch_bytes}).",
                hint="Pass a larger batch_bytes.",
            )
        with self._open(path) as f, io.TextIOWrapper(f, "utf-8", errors="replace") as lines:
            found = _locate_json_problem(lines)
        if found is None:
            return InvalidInput(f"{path} is not valid JSON Lines: {_cut(message, 200)}")
        line, text, problem = found
        return InvalidInput(
            f"{path}, line {line}: {problem}: {_cut(text)!r}.",
            hint="Fix the line; a field whose values change type, or that is null at first, "
            "needs a declared type: --type field=int64.",
        )

    # --- Parquet ----------------------------------------------------------------------

    def _parquet(self, path: str, size: int, like: pa.Schema | None) -> Iterator[pa.RecordBatch]:
        with self._open(path) as f:
            try:
                parquet = pq.ParquetFile(f)
                rows = _rows_per_batch(parquet.metadata, self.batch_bytes)
                for batch in parquet.iter_batches(batch_size=rows):
                    yield self._cast(path, batch) if self.types else batch
            except (pa.ArrowInvalid, OSError) as err:
                raise InvalidInput(
                    f"{path} is not a valid Parquet file: {_cut(str(err), 120)}",
                    hint="Check that the file was written completely.",
                ) from None

    def _cast(self, path: str, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays, fields = [], []
        for field, column in zip(batch.schema, batch.columns, strict=True):
            target = self.types.get(field.name, field.type)
            try:
                arrays.append(column.cast(target))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise InvalidInput(
                    f"{path}, column {field.name!r}: cannot cast {field.type} to {target}: "
                    f"{_cut(str(err))}"
                ) from None
            fields.append(pa.field(field.name, target))
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

    # --- Excel ------------------------------------------------------------------------

    def _excel(self, path: str, size: int, like: pa.Schema | None) -> Iterator[pa.RecordBatch]:
        try:
            import openpyxl
            from openpyxl.utils.exceptions import InvalidFileException
        except ImportError:
            raise MissingExtra.for_extra("excel", "Reading Excel files") from None
        with self._open(path) as f:
            try:
                book = openpyxl.load_workbook(f, read_only=True, data_only=True)
            except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
                raise InvalidInput(f"{path} is not a valid Excel (.xlsx) file: {err}") from None
            try:
                yield from self._sheet_batches(path, self._sheet(book, path), like)
            finally:
                book.close()

    def _sheet(self, book: Any, path: str) -> Any:
        names = book.sheetnames
        if self.sheet is None:
            return book[names[0]]
        if isinstance(self.sheet, int) and 0 <= self.sheet < len(names):
            return book[names[self.sheet]]
        if self.sheet in names:
            return book[self.sheet]
        raise InvalidInput(f"{path} has no sheet {self.sheet!r}; it has {names}.")

    def _sheet_batches(
        self, path: str, sheet: Any, like: pa.Schema | None
    ) -> Iterator[pa.RecordBatch]:
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InvalidInput(f"{path}, sheet {sheet.title!r} is empty.")
        names = [str(v) if v is not None else f"column_{i + 1}" for i, v in enumerate(header)]
        types = dict(zip(like.names, like.types, strict=True)) if like else self.types
        batcher = RowBatcher(
            f"{path}, sheet {sheet.title!r}", self.report, types, _TYPE_HINT.format(col="col")
        )
        chunk: list[tuple[Any, ...]] = []
        start = 2
        for number, row in enumerate(rows, start=2):
            if all(v is None for v in row):
                continue  # blank rows: openpyxl reports formatted but empty rows too
            chunk.append(_fit_row(row, len(names), path, number))
            if len(chunk) == self.batch_rows:
                yield _excel_batch(batcher, names, chunk, start)
                chunk, start = [], number + 1
        if chunk or batcher.schema is None:
            yield _excel_batch(batcher, names, chunk, start)


class _BadLines:
    """The CSV invalid-row handler: records each bad line as the mode asks."""

    def __init__(self, connector: FileConnector, path: str) -> None:
        self.mode, self.report, self.path = connector.on_bad_lines, connector.report, path
        self.first: tuple[int, int, int, str] | None = None

    def __call__(self, row: Any) -> str:
        reason = f"expected {row.expected_columns} fields, got {row.actual_columns}"
        if self.mode == "error":
            if self.first is None:  # Arrow may look ahead; the first bad line is the one to show
                self.first = (row.number, row.expected_columns, row.actual_columns, row.text)
            return "error"
        bucket = self.report.skipped if self.mode == "skip" else self.report.quarantined
        bucket.add(row.number, row.text, f"{self.path}: {reason}")
        return "skip"


def _header_names(f: IO[bytes], delimiter: str, encoding: str) -> list[str]:
    """The column names on the first line, read without Arrow (for error messages)."""
    f.seek(0)
    first = f.readline().decode("utf-8" if encoding == "utf8" else encoding, errors="replace")
    return next(csv.reader([first], delimiter=delimiter), [])


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    """A batch of no rows; columns Arrow typed null (nothing to infer from) become text."""
    fields = [pa.field(f.name, pa.string() if f.type == pa.null() else f.type) for f in schema]
    return pa.RecordBatch.from_pylist([], schema=pa.schema(fields))


def _fit_row(row: tuple[Any, ...], width: int, path: str, number: int) -> tuple[Any, ...]:
    if len(row) > width and any(v is not None for v in row[width:]):
        raise InvalidInput(
            f"{path}, row {number} has a value in column {width + 1}, which has no header.",
            hint="Give every column a header in the first row.",
        )
    return tuple(row[:width]) + (None,) * (width - len(row))


def _excel_batch(
    batcher: RowBatcher, names: list[str], rows: list[tuple[Any, ...]], start: int
) -> pa.RecordBatch:
    columns = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in names]
    where = f"rows {start}-{start + len(rows) - 1}"
    return batcher.from_columns(dict(zip(names, columns, strict=True)), where)


def _locate_json_problem(lines: IO[str]) -> tuple[int, str, str] | None:
    """The first line that is not a JSON object, or whose fields change JSON type."""
    kinds: dict[str, str] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            return number, text.strip(), f"not valid JSON ({err.msg})"
        if not isinstance(value, dict):
            return number, text.strip(), f"a JSON {_json_kind(value)}, not an object"
        for key, item in value.items():
            kind = _json_kind(item)
            if kind != "null" and kinds.setdefault(key, kind) != kind:
                return number, text.strip(), f"field {key!r} is a {kind}, earlier a {kinds[key]}"
    return None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def _rows_per_batch(metadata: pq.FileMetaData, batch_bytes: int) -> int:
    """Rows that hold about ``batch_bytes`` of uncompressed data, from the row groups' sizes."""
    if metadata.num_rows == 0:
        return 65_536
    total = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return max(1, int(batch_bytes * metadata.num_rows // max(total, 1)))


def _schema_differs(
    first_path: str, first: pa.Schema, path: str, schema: pa.Schema
) -> InvalidInput:
    for index in range(max(len(first), len(schema))):
        a = first.field(index) if index < len(first) else None
        b = schema.field(index) if index < len(schema) else None
        if a is None or b is None or a.name != b.name or a.type != b.type:
            break
    said = f"{b.name!r} ({b.type})" if b else "no column"
    wanted = f"{a.name!r} ({a.type})" if a else "no column"
    return InvalidInput(
        f"{path} does not have the columns of {first_path}: column {index + 1} is {said}, "
        f"expected {wanted}.",
        hint="Read files with different columns as separate sources.",
    )


def _encoding_error(path: str, where: str, encoding: str) -> InvalidInput:
    return InvalidInput(
        f"{path}, {where}: the bytes are not valid {encoding} text.",
        hint="Pass the file's encoding, e.g. --encoding latin-1 (or cp1252).",
    )


def _resolve_format(path: str, format: str | None) -> str:
    if format is not None:
        name = _ALIASES.get(format.lower(), format.lower())
        return _check_choice("format", name, FORMATS)
    name = path.lower()
    for suffix in _COMPRESSIONS:
        name = name.removesuffix(suffix)
    for extension, fmt in _EXTENSIONS.items():
        if name.endswith(extension):
            return fmt
    raise InvalidInput(
        f"Cannot tell the format of {_safe(path)} from its name.",
        hint=f"Pass format, one of {', '.join(FORMATS)}.",
    )


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(
            f"The '{name}' parameter of FileConnector must be one of {', '.join(allowed)}. "
            f"Got {value!r} instead."
        )
    return value


def _safe(location: str) -> str:
    return redact_url(location) if "://" in location and "@" in location else location


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
