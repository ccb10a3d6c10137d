"""FileConnector: CSV, TSV, JSON Lines, Parquet, Excel; globs, fsspec URLs, bad data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from passline.data.connectors.files import FileConnector
from passline.errors import InvalidInput
from passline.settings import Settings

BAD_CSV = "id,name\n1,a\n2\n3,c\n4,d,extra\n5,e\n"  # lines 3 and 5 are bad


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def read(connector: FileConnector) -> pa.Table:
    batches = list(connector.batches())
    return pa.Table.from_batches(batches, schema=batches[0].schema)


# --- CSV: bad lines -----------------------------------------------------------------------


def test_bad_line_is_an_error_naming_the_line_and_its_text(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", BAD_CSV)
    with pytest.raises(InvalidInput, match=r"bad.csv, line 3: expected 2 fields, got 1: '2'") as e:
        read(FileConnector(str(path)))
    assert "--on-bad-lines skip" in str(e.value)


@pytest.mark.parametrize("mode", ["skip", "quarantine"])
def test_bad_lines_skipped_or_quarantined_with_line_numbers(tmp_path: Path, mode: str) -> None:
    connector = FileConnector(str(write(tmp_path / "bad.csv", BAD_CSV)), on_bad_lines=mode)
    assert read(connector).column("id").to_pylist() == [1, 3, 5]
    kept = connector.report.skipped if mode == "skip" else connector.report.quarantined
    other = connector.report.quarantined if mode == "skip" else connector.report.skipped
    assert kept.line_numbers == [3, 5]
    assert kept.texts == ["2", "4,d,extra"]
    assert "expected 2 fields, got 3" in kept.reasons[1]
    assert len(other) == 0
    assert kept.to_table().num_rows == 2


def test_bad_lines_in_later_blocks_keep_their_file_line_numbers(tmp_path: Path) -> None:
    lines = ["id,name"] + [f"{i},name{i}" for i in range(1, 400)]
    lines[300] = "oops"  # line 301 of the file
    path = write(tmp_path / "long.csv", "\n".join(lines) + "\n")
    connector = FileConnector(str(path), on_bad_lines="quarantine", batch_bytes=1024)
    batches = list(connector.batches())
    assert len(batches) > 3
    assert sum(b.num_rows for b in batches) == 398
    assert connector.report.quarantined.line_numbers == [301]


# --- CSV: types, encodings, empty files ---------------------------------------------------


def test_tsv_is_read_with_tabs(tmp_path: Path) -> None:
    path = write(tmp_path / "data.tsv", "a\tb\n1\tx,y\n2\tz\n")
    table = read(FileConnector(str(path)))
    assert table.to_pylist() == [{"a": 1, "b": "x,y"}, {"a": 2, "b": "z"}]


def test_latin1_bytes_read_as_utf8_suggest_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "fr.csv", "ville,n\nMontréal,1\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match=r"not valid utf8 .*--encoding latin-1"):
        read(FileConnector(str(path)))
    table = read(FileConnector(str(path), encoding="latin-1"))
    assert table.column("ville").to_pylist() == ["Montréal"]


def test_latin1_bytes_in_a_later_block_name_the_line(tmp_path: Path) -> None:
    body = "ville,n\n" + "Paris,1\n" * 300
    path = write(tmp_path / "fr.csv", body.encode() + "Montréal,2\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match=r"line 302, column 'ville': .* --encoding latin-1"):
        read(FileConnector(str(path), batch_bytes=1024))


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is empty"):
        read(FileConnector(str(write(tmp_path / "empty.csv", b""))))


@pytest.mark.parametrize("text", ["id,name\n", "id,name"])
def test_header_only_yields_no_rows_with_the_columns(tmp_path: Path, text: str) -> None:
    connector = FileConnector(str(write(tmp_path / "head.csv", text)), column_types={"id": "int64"})
    batches = list(connector.batches())
    assert [b.num_rows for b in batches] == [0]
    assert batches[0].schema == pa.schema([("id", pa.int64()), ("name", pa.string())])
    assert any("no rows" in note for note in connector.report.notes)


def test_value_that_does_not_fit_in_a_later_block_names_column_line_value(tmp_path: Path) -> None:
    lines = ["id,amount"] + [f"{i},{i * 10}" for i in range(1, 300)]
    lines[250] = "251,unknown"  # line 251 of the file
    path = write(tmp_path / "amounts.csv", "\n".join(lines) + "\n")
    with pytest.raises(InvalidInput) as caught:
        read(FileConnector(str(path), batch_bytes=1024))
    message = str(caught.value)
    assert "line 251, column 'amount'" in message
    assert "'unknown'" in message and "int64" in message
    assert "--type amount=string" in message


def test_column_types_override_inference(tmp_path: Path) -> None:
    path = write(tmp_path / "zips.csv", "zip,when,flag\n01234,2024-05-01,true\n99999,,false\n")
    table = read(
        FileConnector(str(path), column_types={"zip": "string", "when": "date32", "flag": "bool"})
    )
    assert table.schema == pa.schema(
        [("zip", pa.string()), ("when", pa.date32()), ("flag", pa.bool_())]
    )
    assert table.column("zip").to_pylist() == ["01234", "99999"]


def test_column_empty_in_the_first_block_is_read_as_text(tmp_path: Path) -> None:
    body = "id,note\n" + "".join(f"{i},\n" for i in range(300)) + "300,late value\n"
    connector = FileConnector(str(write(tmp_path / "sparse.csv", body)), batch_bytes=1024)
    table = read(connector)
    assert table.schema.field("note").type == pa.string()
    assert table.column("note").to_pylist()[-1] == "late value"


def test_unknown_type_name_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="'integer' given for column 'x'"):
        FileConnector("x.csv", column_types={"x": "integer"})


def test_format_must_be_known(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Cannot tell the format"):
        FileConnector(str(tmp_path / "data.bin"))
    with pytest.raises(InvalidInput, match=r"'format' parameter .* Got 'xml' instead"):
        FileConnector("data.bin", format="xml")


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        read(FileConnector(str(tmp_path / "nope.csv")))


# --- globs --------------------------------------------------------------------------------


def test_glob_reads_files_in_name_order(tmp_path: Path) -> None:
    for name, first in (("b", 3), ("a", 1), ("c", 5)):
        write(tmp_path / f"{name}.csv", f"id,v\n{first},x\n{first + 1},y\n")
    connector = FileConnector(str(tmp_path / "*.csv"))
    assert read(connector).column("id").to_pylist() == [1, 2, 3, 4, 5, 6]
    described = connector.describe()
    assert described["files"] == [str(tmp_path / f"{n}.csv") for n in "abc"]
    assert described["bytes"] == sum((tmp_path / f"{n}.csv").stat().st_size for n in "abc")
    assert described["kind"] == "file" and described["format"] == "csv"


def test_glob_types_follow_the_first_file(tmp_path: Path) -> None:
    write(tmp_path / "1.csv", "id,v\n1,1.5\n")
    write(tmp_path / "2.csv", "id,v\n2,7\n")  # alone, v would be int64
    table = read(FileConnector(str(tmp_path / "*.csv")))
    assert table.schema.field("v").type == pa.float64()


def test_glob_with_a_differing_file_names_it_and_the_column(tmp_path: Path) -> None:
    write(tmp_path / "1.csv", "id,v\n1,a\n")
    write(tmp_path / "2.csv", "id,v\n2,b\n")
    write(tmp_path / "3.csv", "id,value\n3,c\n")
    with pytest.raises(InvalidInput, match=r"3.csv does not have the columns .*'value'"):
        read(FileConnector(str(tmp_path / "*.csv")))


def test_glob_matching_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="No file matches"):
        read(FileConnector(str(tmp_path / "*.csv")))


# --- JSON Lines ---------------------------------------------------------------------------


def test_jsonl_streams_records(tmp_path: Path) -> None:
    body = "".join(f'{{"id": {i}, "tags": ["a"], "meta": {{"ok": true}}}}\n' for i in range(200))
    connector = FileConnector(str(write(tmp_path / "data.ndjson", body)), batch_bytes=2048)
    batches = list(connector.batches())
    assert len(batches) > 1
    table = pa.Table.from_batches(batches)
    assert table.num_rows == 200
    assert table.schema.field("meta").type == pa.struct([("ok", pa.bool_())])


def test_jsonl_line_that_is_not_json_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "data.jsonl", '{"id": 1}\n{"id": 2}\nnot json at all\n{"id": 4}\n')
    with pytest.raises(InvalidInput, match=r"data.jsonl, line 3: not valid JSON"):
        read(FileConnector(str(path)))


def test_jsonl_type_change_in_a_later_block_names_line_and_field(tmp_path: Path) -> None:
    body = "".join(f'{{"id": {i}}}\n' for i in range(100)) + '{"id": "x"}\n'
    path = write(tmp_path / "data.jsonl", body)
    with pytest.raises(InvalidInput, match=r"line 101: field 'id' is a string, earlier a number"):
        read(FileConnector(str(path), batch_bytes=1024))


def test_jsonl_declared_type_for_a_field_missing_at_first(tmp_path: Path) -> None:
    body = "".join(f'{{"id": {i}}}\n' for i in range(100)) + '{"id": 100, "late": 5}\n'
    path = write(tmp_path / "data.jsonl", body)
    connector = FileConnector(str(path), batch_bytes=1024, column_types={"late": "int64"})
    assert read(connector).column("late").to_pylist()[-2:] == [None, 5]


# --- Parquet ------------------------------------------------------------------------------


def test_parquet_is_read_in_batches_of_about_batch_bytes(tmp_path: Path) -> None:
    table = pa.table({"id": list(range(50_000)), "v": [float(i) for i in range(50_000)]})
    pq.write_table(table, tmp_path / "data.parquet", row_group_size=10_000)
    connector = FileConnector(str(tmp_path / "data.parquet"), batch_bytes=64 * 1024)
    batches = list(connector.batches())
    assert len(batches) > 5
    assert max(b.nbytes for b in batches) <= 2 * 64 * 1024
    assert pa.Table.from_batches(batches).equals(table)


def test_parquet_column_types_cast(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2]}), tmp_path / "data.parquet")
    connector = FileConnector(str(tmp_path / "data.parquet"), column_types={"id": "string"})
    assert read(connector).column("id").to_pylist() == ["1", "2"]


@pytest.mark.parametrize("content", [b"", b"PAR1 this is not really parquet PAR1"])
def test_zero_byte_or_corrupt_parquet_is_not_valid(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "broken.parquet", content)
    with pytest.raises(InvalidInput, match="broken.parquet is not a valid Parquet file"):
        read(FileConnector(str(path)))


# --- Excel --------------------------------------------------------------------------------


def make_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    book.close()
    return path


def test_excel_sheet_in_batches_of_rows(tmp_path: Path) -> None:
    rows = [["id", "name", "score"]] + [[i, f"n{i}", i / 4] for i in range(1, 26)]
    path = make_workbook(tmp_path / "book.xlsx", {"first": [["x"], [1]], "scores": rows})
    connector = FileConnector(str(path), sheet="scores", batch_rows=10)
    batches = list(connector.batches())
    assert [b.num_rows for b in batches] == [10, 10, 5]
    table = pa.Table.from_batches(batches)
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("name", pa.string()), ("score", pa.float64())]
    )
    assert table.column("id").to_pylist() == list(range(1, 26))
    assert read(FileConnector(str(path))).to_pylist() == [{"x": 1}]  # default: first sheet


def test_excel_missing_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "book.xlsx", {"a": [["x"], [1]]})
    with pytest.raises(InvalidInput, match=r"no sheet 'b'; it has \['a'\]"):
        read(FileConnector(str(path), sheet="b"))


def test_excel_value_that_does_not_fit_a_later_batch(tmp_path: Path) -> None:
    rows = [["id"]] + [[i] for i in range(1, 6)] + [["six"]]
    path = make_workbook(tmp_path / "book.xlsx", {"s": rows})
    with pytest.raises(InvalidInput, match=r"sheet 's', rows 7-7: column 'id'"):
        read(FileConnector(str(path), batch_rows=5))
    table = read(FileConnector(str(path), batch_rows=5, column_types={"id": "string"}))
    assert table.column("id").to_pylist()[-2:] == ["5", "six"]


def test_invalid_excel_file(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    with pytest.raises(InvalidInput, match="not a valid Excel"):
        read(FileConnector(str(write(tmp_path / "fake.xlsx", b"not a zip"))))


# --- fsspec URLs and memory ---------------------------------------------------------------


@pytest.fixture
def memory_dir() -> Iterator[str]:
    root = f"memory://passline-tests-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_memory_url_and_glob(memory_dir: str) -> None:
    for name in ("a", "b"):
        with fsspec.open(f"{memory_dir}/{name}.csv", "wb") as f:
            f.write(f"id,src\n1,{name}\n".encode())
    connector = FileConnector(f"{memory_dir}/*.csv")
    assert read(connector).column("src").to_pylist() == ["a", "b"]
    files = connector.describe()["files"]
    assert [f.removeprefix("memory:///") for f in files] == [
        f"{memory_dir.removeprefix('memory://')}/{name}.csv" for name in ("a", "b")
    ]


def test_unknown_protocol_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="Protocol not known"):
        read(FileConnector("nosuchproto://bucket/data.csv"))


def test_memory_stays_bounded_by_batch_bytes(tmp_path: Path) -> None:
    batch_bytes = 128 * 1024
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("id,name,city,amount\n")
        i = 0
        while f.tell() < 5 * batch_bytes:
            f.write(f"{i},customer-{i:08d},Lyon,{i * 1.25}\n")
            i += 1
    connector = FileConnector(str(path), batch_bytes=batch_bytes)
    sizes = [b.nbytes for b in connector.batches()]
    assert len(sizes) >= 5
    assert max(sizes) < 2 * batch_bytes
    rows = len(path.read_text().splitlines()) - 1
    again = FileConnector(str(path), batch_bytes=batch_bytes)
    assert sum(b.num_rows for b in again.batches()) == rows


def test_default_batch_bytes_follow_the_memory_budget() -> None:
    assert FileConnector("x.csv", settings=Settings(memory_budget_mb=512)).batch_bytes == 8 << 20
    assert FileConnector("x.csv", settings=Settings(memory_budget_mb=16)).batch_bytes == 256 << 10
