"""Bad input at ingest: a clear error, nothing half-written, earlier versions untouched."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from passline.data.connectors import FileConnector
from passline.errors import InvalidInput
from passline.services.ingest import IngestOptions
from passline.services.workspace import Services, Workspace

GOOD = "id,store,units\n1,a,10\n2,b,12\n3,a,9\n"


@pytest.fixture
def svc(workspace: Workspace, tmp_path: Path) -> Services:
    services = workspace.services(workspace.local_context("sdk"))
    services.projects.create("retail")
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    services.ingest.ingest("retail/sales", FileConnector(str(good)))
    return services


def blob_count(workspace: Workspace) -> int:
    return sum(
        1 for p in (workspace.settings.home / "artifacts" / "sha256").rglob("*") if p.is_file()
    )


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


BAD_INPUTS = [
    ("malformed.csv", b"id,store,units\n1,a,10\n2,b\n", "line 3", {}),
    ("latin1.csv", "id,store,units\n1,caf\u00e9,10\n".encode("latin-1"), "encoding", {}),
    ("empty.csv", b"", "empty", {}),
    (
        "coerce.csv",
        b"id,store,units\n" + b"1,a,10\n" * 500 + b"x,b,12\n",
        "cannot",
        {"batch_bytes": 1024},
    ),
    ("zero.parquet", b"", "not a valid Parquet", {}),
    ("corrupt.parquet", b"PAR1 this is not parquet PAR1", "Parquet", {}),
]


@pytest.mark.parametrize(
    ("name", "content", "message", "options"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_files_leave_the_dataset_as_it_was(
    svc: Services,
    workspace: Workspace,
    tmp_path: Path,
    name: str,
    content: bytes,
    message: str,
    options: dict[str, int],
) -> None:
    before = blob_count(workspace)
    path = write(tmp_path, name, content)
    with pytest.raises(InvalidInput, match=message):
        svc.ingest.ingest(
            "retail/sales", FileConnector(path, **options), IngestOptions(mode="append")
        )
    assert [v.number for v in svc.datasets.versions("retail/sales")] == [1]
    assert svc.datasets.read("retail/sales").num_rows == 3
    assert blob_count(workspace) == before
    assert not list((workspace.settings.home / "artifacts" / "tmp").glob("put-*"))


def test_quarantined_lines_are_kept_aside_with_their_line_numbers(
    svc: Services, tmp_path: Path
) -> None:
    path = write(tmp_path, "mixed.csv", b"id,store,units\n4,a,1\n5,b\n6,c,3\n7\n")
    version = svc.ingest.ingest(
        "retail/sales", FileConnector(path, on_bad_lines="quarantine"), IngestOptions(mode="append")
    )
    assert version.rows == 5 and version.bad_rows["quarantined"] == 2
    aside = svc.datasets.bad_rows("retail/sales")
    assert aside.column("line").to_pylist() == [3, 5]


_SLOW_INGEST = textwrap.dedent(
    """
    import sys, time
    import pyarrow as pa
    from pathlib import Path
    from passline.data.connectors.memory import TableConnector
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    class Slow(TableConnector):
        def batches(self):
            for i in range(1000):
                if i == 3:
                    print("writing", flush=True)
                time.sleep(0.05)
                yield pa.record_batch({"id": list(range(i * 100, i * 100 + 100)),
                                       "store": ["z"] * 100, "units": [1] * 100})

    ws = Workspace.open(Settings(home=Path(sys.argv[1])))
    svc = ws.services(ws.local_context("sdk"))
    svc.ingest.ingest("retail/sales", Slow([]))
    """
)


@pytest.mark.serial
def test_kill_9_during_ingest_leaves_no_version_and_the_store_works(
    svc: Services, workspace: Workspace
) -> None:
    before = blob_count(workspace)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_INGEST, str(workspace.settings.home)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert [v.number for v in svc.datasets.versions("retail/sales")] == [1]
    assert blob_count(workspace) == before
    assert svc.datasets.read("retail/sales").num_rows == 3
    assert svc.audit.verify().ok


_BOUNDED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from passline.data.connectors import FileConnector
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    def peak_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    ws = Workspace.open(Settings(home=Path(sys.argv[1]), memory_budget_mb=16))
    svc = ws.services(ws.local_context("sdk"))
    svc.projects.create("big")
    import pyarrow, numpy, datasketches  # noqa: F401 - count imports in the baseline
    from passline.data.pii import default_name_detector
    detector = default_name_detector()  # spaCy, when installed: a fixed cost, not the data's
    if detector is not None:
        detector.detect(["Jane Doe"])
    baseline = peak_mb()
    version = svc.ingest.ingest("big/events", FileConnector(sys.argv[2], settings=ws.settings))
    print(version.rows, baseline, peak_mb())
    """
)


_WHOLE_FILE = textwrap.dedent(
    """
    import sys
    import pyarrow.csv

    def peak_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    import pyarrow, numpy, datasketches  # noqa: F401 - the same baseline as the ingest
    baseline = peak_mb()
    pyarrow.csv.read_csv(sys.argv[1])
    print(peak_mb() - baseline)
    """
)


def _ingest_peak(home: Path, csv: Path) -> tuple[int, float, float]:
    done = subprocess.run(
        [sys.executable, "-c", _BOUNDED, str(home), str(csv)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows, baseline, peak = done.stdout.split()
    return int(rows), float(baseline), float(peak)


@pytest.mark.serial
def test_ingest_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """A CSV over five times the 16 MB budget ingests, and tripling the file barely moves
    the peak: memory is bounded by batches and sketches, not by the data."""
    rows = 400_000
    rng = np.random.default_rng(3)
    table = pa.table(
        {
            "event_id": np.arange(rows),
            "user": pa.array(rng.integers(0, 50_000, rows).astype(str)),
            "amount": rng.normal(50, 20, rows).round(2),
            "kind": pa.array(rng.choice(["view", "cart", "buy"], rows)),
            "note": pa.array(
                np.full(rows, "lorem ipsum dolor sit amet, consectetur adipiscing elit")
            ),
        }
    )
    small = tmp_path / "small.csv"
    pacsv.write_csv(table, small)
    large = tmp_path / "large.csv"
    body = small.read_bytes().split(b"\n", 1)[1]
    large.write_bytes(small.read_bytes() + body + body)  # the same rows, three times
    small_mb, large_mb = small.stat().st_size / 2**20, large.stat().st_size / 2**20
    assert large_mb > 5 * 16
    n_small, base_small, peak_small = _ingest_peak(tmp_path / "ws1", small)
    n_large, base_large, peak_large = _ingest_peak(tmp_path / "ws2", large)
    assert (n_small, n_large) == (rows, 3 * rows)
    growth_small, growth_large = peak_small - base_small, peak_large - base_large
    extra_data = large_mb - small_mb
    assert growth_large - growth_small < 0.25 * extra_data, (growth_small, growth_large, extra_data)
    # And far below what reading the whole file into memory takes.
    done = subprocess.run(
        [sys.executable, "-c", _WHOLE_FILE, str(large)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    whole = float(done.stdout)
    assert growth_large < whole / 2, (growth_large, whole)
