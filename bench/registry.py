"""Tracking and registry against MLflow: metrics/s, a filtered run search, alias moves.

Four paths are measured in the same run and take turns, slice by slice:

- Passline embedded: the SDK ``Client`` over the in-process transport (SQLite workspace);
- Passline over HTTP: the same ``Client`` against a real ``passline up`` on the same workspace;
- MLflow with a SQLite store: ``MlflowClient`` on ``sqlite:///...``;
- MLflow over HTTP: ``MlflowClient`` against a real ``mlflow server`` on the same SQLite file.

MLflow lives in its own virtual environment (``bench/.venv-peers``, made from
``bench/peers-requirements.txt`` on first use), so each MLflow path is a long-lived worker
subprocess of that environment's Python: it reads one JSON request a line, times the calls
itself with ``perf_counter`` and answers with the seconds, just as Passline's calls are
timed in this process. Imports, process start and the pipe are never inside a timing.

Each tool's HTTP server serves the same database file as its embedded path, so the search
runs are written once per tool and both of its paths search the same 10,000 runs.
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from sqlalchemy import insert

from bench.report import rate, ratio, verdict
from bench.workspaces import DATA_DIR, open_local_client, serve, settings_for
from passline.core.ids import new_id
from passline.sdk.client import Client
from passline.sdk.tracking import ActiveRun
from passline.sdk.transports import LocalTransport
from passline.store.models import LatestMetricRow, MetricRow, RunParamRow, RunRow, RunTagRow

__all__ = ["FULL", "QUICK", "RegistryParams", "RegistryResult", "registry_tables", "run"]

BENCH_DIR = Path(__file__).parent
PEERS_VENV = BENCH_DIR / ".venv-peers"
PEERS_REQUIREMENTS = BENCH_DIR / "peers-requirements.txt"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
_PEERS_STAMP = PEERS_VENV / ".requirements-sha256"

PROJECT = "bench"
FILTER = "metrics.auc > 0.8 and params.model = 'gbm'"
ALIAS = "production"
GOAL_METRICS_RATIO = 10.0  # Passline metrics/s over MLflow's, each path
GOAL_SEARCH_RATIO = 10.0  # MLflow search seconds over Passline's, each path
_SERVER_READY_S = 120.0
T = TypeVar("T")

PATHS = {  # path key -> column title, in table order
    "passline_embedded": "Passline embedded (SQLite)",
    "mlflow_sqlite": "MLflow SQLite store",
    "passline_http": "Passline HTTP -> passline up",
    "mlflow_server": "MLflow HTTP -> mlflow server",
}
PAIRS = {  # comparison -> (Passline path, MLflow path)
    "embedded": ("passline_embedded", "mlflow_sqlite"),
    "http": ("passline_http", "mlflow_server"),
}


@dataclass(frozen=True)
class RegistryParams:
    metrics: int  # points per path, both one call at a time (Passline) and batched
    mlflow_single: int  # MLflow's one-call-per-point sample per path (its calls are slow)
    runs: int  # runs the filtered search scans
    batch_size: int = 1_000  # MLflow's log_batch limit
    turns: int = 20  # slices the one-call phase is cut into, so the paths take turns
    warmup_calls: int = 20
    search_repeats: int = 5
    max_results: int = 1_000
    alias_rounds: int = 50
    profile_calls: int = 1_000
    seed: int = 20261130


FULL = RegistryParams(metrics=10_000, mlflow_single=2_000, runs=10_000)
QUICK = RegistryParams(metrics=1_000, mlflow_single=250, runs=1_000)


# --- results ---------------------------------------------------------------------------


@dataclass
class PathResult:
    """Raw seconds for one path; rates are derived so they never disagree with them."""

    path: str
    label: str
    single_latencies: list[float] = field(default_factory=list)
    batch_s: list[float] = field(default_factory=list)
    batch_size: int = 0
    search_s: list[float] = field(default_factory=list)
    search_returned: int | None = None
    set_alias_s: list[float] = field(default_factory=list)
    rollback_s: list[float] = field(default_factory=list)
    server_move_ms: list[float] = field(default_factory=list)  # Passline's own duration_ms

    def single_per_s(self) -> float | None:
        lat = self.single_latencies
        return len(lat) / sum(lat) if lat else None

    def batched_per_s(self) -> float | None:
        return len(self.batch_s) * self.batch_size / sum(self.batch_s) if self.batch_s else None

    def search_median_s(self) -> float | None:
        return statistics.median(self.search_s) if self.search_s else None

    def alias_ms(self) -> dict[str, dict[str, float] | None]:
        return {
            "set_alias": percentiles_ms(self.set_alias_s),
            "rollback": percentiles_ms(self.rollback_s),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "single_calls": len(self.single_latencies),
            "single_s": sum(self.single_latencies),
            "single_latency_ms": percentiles_ms(self.single_latencies),
            "single_metrics_per_s": self.single_per_s(),
            "batches": len(self.batch_s),
            "batch_size": self.batch_size,
            "batch_s": self.batch_s,
            "batched_metrics_per_s": self.batched_per_s(),
            "search_s": self.search_s,
            "search_median_s": self.search_median_s(),
            "search_returned": self.search_returned,
            "alias_ms": self.alias_ms(),
            "set_alias_s": self.set_alias_s,
            "rollback_s": self.rollback_s,
            "passline_reported_move_ms_median": statistics.median(self.server_move_ms)
            if self.server_move_ms
            else None,
        }


@dataclass
class RegistryResult:
    params: RegistryParams
    paths: dict[str, PathResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    expected_matches: int = 0
    populate_s: dict[str, float] = field(default_factory=dict)
    startup_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def figure(self, path: str, measure: Callable[[PathResult], T | None]) -> T | None:
        found = self.paths.get(path)
        return measure(found) if found else None

    def ratios(self) -> dict[str, dict[str, float | None]]:
        """Passline over MLflow per path: x metrics/s, and x faster for search and aliases."""
        out: dict[str, dict[str, float | None]] = {}
        for pair, (ours, theirs) in PAIRS.items():
            out[pair] = {
                "single_metrics": _over(
                    self.figure(ours, PathResult.single_per_s),
                    self.figure(theirs, PathResult.single_per_s),
                ),
                "batched_metrics": _over(
                    self.figure(ours, PathResult.batched_per_s),
                    self.figure(theirs, PathResult.batched_per_s),
                ),
                "search_speedup": _over(
                    self.figure(theirs, PathResult.search_median_s),
                    self.figure(ours, PathResult.search_median_s),
                ),
                "set_alias_speedup": _over(
                    self.figure(theirs, lambda p: _p50(p.set_alias_s)),
                    self.figure(ours, lambda p: _p50(p.set_alias_s)),
                ),
                "rollback_speedup": _over(
                    self.figure(theirs, lambda p: _p50(p.rollback_s)),
                    self.figure(ours, lambda p: _p50(p.rollback_s)),
                ),
            }
        return out

    def goals(self) -> dict[str, dict[str, bool | None]]:
        def met(value: float | None, goal: float) -> bool | None:
            return None if value is None else value >= goal

        return {
            pair: {
                "single_metrics": met(r["single_metrics"], GOAL_METRICS_RATIO),
                "batched_metrics": met(r["batched_metrics"], GOAL_METRICS_RATIO),
                "search": met(r["search_speedup"], GOAL_SEARCH_RATIO),
            }
            for pair, r in self.ratios().items()
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "filter": FILTER,
            "expected_matches": self.expected_matches,
            "goals_x": {"metrics_per_s": GOAL_METRICS_RATIO, "search_speed": GOAL_SEARCH_RATIO},
            "versions": self.versions,
            "startup_s": self.startup_s,
            "populate_s": self.populate_s,
            "paths": {k: p.to_json() for k, p in self.paths.items()},
            "ratios_passline_over_mlflow": self.ratios(),
            "goals_met": self.goals(),
            "profiles": self.profiles,
            "skipped": self.skipped,
            "notes": self.notes,
        }


def _over(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _p50(seconds: list[float]) -> float | None:
    return statistics.median(seconds) if seconds else None


def percentiles_ms(seconds: list[float]) -> dict[str, float] | None:
    """p50/p95/p99/max in milliseconds (None when nothing was measured)."""
    if len(seconds) < 2:
        return None
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50": statistics.median(seconds) * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "max": max(seconds) * 1000,
    }


# --- the data both tools get -------------------------------------------------------------


@dataclass(frozen=True)
class SearchRun:
    model: str
    auc: float
    team: str


def search_runs_data(params: RegistryParams) -> list[SearchRun]:
    """The same runs for both tools: model in {gbm, lr}, auc uniform in [0, 1), a tag."""
    rng = random.Random(params.seed)
    return [
        SearchRun(rng.choice(("gbm", "lr")), round(rng.random(), 6), rng.choice(("a", "b", "c")))
        for _ in range(params.runs)
    ]


def expected_matches(data: list[SearchRun]) -> int:
    return sum(1 for r in data if r.model == "gbm" and r.auc > 0.8)


def loss(step: int) -> float:
    return 1.0 / (step + 1)


# --- Passline paths ----------------------------------------------------------------------


class PasslinePath:
    """One Passline client (embedded or HTTP) and what it logs into."""

    def __init__(self, key: str, client: Client) -> None:
        self.key = key
        self.client = client
        self.result = PathResult(key, PATHS[key])
        self.single: ActiveRun | None = None
        self.batched: ActiveRun | None = None
        self.model = f"{PROJECT}/m-{key.removeprefix('passline_')}"

    # metrics
    def setup_metrics(self) -> None:
        suffix = self.key.removeprefix("passline_")
        self.single = self.client.start_run(f"{PROJECT}/single-{suffix}", capture_code=False)
        self.batched = self.client.start_run(f"{PROJECT}/batched-{suffix}", capture_code=False)

    def log_single(self, start: int, count: int, timed: bool = True) -> None:
        """One ``log_metric`` + ``flush`` per point: one request and one transaction each."""
        active = self.single
        assert active is not None
        latencies = self.result.single_latencies
        for step in range(start, start + count):
            began = time.perf_counter()
            active.log_metric("loss", loss(step), step)
            active.flush()
            if timed:
                latencies.append(time.perf_counter() - began)

    def log_batch(self, start: int, size: int, timed: bool = True) -> None:
        """The SDK's default: ``log_metric`` buffers and sends 1,000 points per request."""
        active = self.batched
        assert active is not None
        began = time.perf_counter()
        for step in range(start, start + size):
            active.log_metric("loss", loss(step), step)
        active.flush()
        if timed:
            self.result.batch_s.append(time.perf_counter() - began)
            self.result.batch_size = size

    # search
    def populate(self, data: list[SearchRun]) -> None:
        """Bulk rows through Passline's own models, with the fields ``start_run``,
        ``log_params``, ``log_metrics`` and ``set_tags`` write (as for MLflow: creating
        runs one API call at a time takes minutes, and creation is not what is measured)."""
        services = cast(LocalTransport, self.client.transport).services
        experiment = services.tracking.ensure_experiment(PROJECT, "search")
        user, started = services.tracking.actor_name, int(time.time() * 1000)
        rows: dict[type[Any], list[dict[str, Any]]] = {
            RunRow: [],
            RunParamRow: [],
            MetricRow: [],
            LatestMetricRow: [],
            RunTagRow: [],
        }
        for number, item in enumerate(data):
            run_id = new_id("run")
            rows[RunRow].append(
                {
                    "id": run_id,
                    "experiment_id": experiment.id,
                    "name": f"r{number}",
                    "status": "RUNNING",
                    "start_time": started + number,
                    "end_time": None,
                    "user": user,
                    "entry_point": None,
                    "code": {},
                    "environment": {},
                    "lifecycle": "active",
                }
            )
            rows[RunParamRow].append({"run_id": run_id, "key": "model", "value": item.model})
            point = {"run_id": run_id, "key": "auc", "value": item.auc, "is_nan": False}
            point.update(step=0, timestamp=started)
            rows[MetricRow].append(point)
            rows[LatestMetricRow].append(dict(point))
            rows[RunTagRow].append({"run_id": run_id, "key": "team", "value": item.team})
        with services.workspace.db.write() as session:
            for model, items in rows.items():
                session.execute(insert(model), items)

    def search(self, max_results: int, timed: bool = True) -> None:
        began = time.perf_counter()
        page = self.client.runs.search(project=PROJECT, filter=FILTER, max_results=max_results)
        if timed:
            self.result.search_s.append(time.perf_counter() - began)
        self.result.search_returned = len(page.runs)

    # registry
    def setup_registry(self) -> None:
        suffix = self.key.removeprefix("passline_")
        active = self.client.start_run(f"{PROJECT}/models-{suffix}", capture_code=False)
        self.client.transport.log_run_artifact(
            active.id, "model/model.pkl", io.BytesIO(b"not really a pickle")
        )
        for _ in range(2):
            self.client.models.register(self.model, f"runs:/{active.id}/model")
        self.client.models.set_alias(self.model, ALIAS, 1)

    def alias_round(self, timed: bool = True) -> None:
        """Move the alias 1 -> 2, then roll it back to 1 (Passline finds 1 in the history)."""
        models = self.client.models
        began = time.perf_counter()
        moved = models.set_alias(self.model, ALIAS, 2)
        middle = time.perf_counter()
        back = models.rollback(self.model, ALIAS)
        ended = time.perf_counter()
        if back.to_version != 1:
            raise RuntimeError(f"{self.key}: rollback went to v{back.to_version}, not v1")
        if timed:
            self.result.set_alias_s.append(middle - began)
            self.result.rollback_s.append(ended - middle)
            self.result.server_move_ms.extend(
                m for m in (moved.duration_ms, back.duration_ms) if m is not None
            )


# --- MLflow paths: a worker in the peers' environment --------------------------------------

# The worker runs in bench/.venv-peers. Requests and answers are JSON lines; MLflow's own
# output goes to stderr (a log file), so it can never corrupt an answer.
MLFLOW_WORKER = r'''
import json, os, sys, tempfile, time, traceback, uuid
answers = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
began = time.perf_counter()
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
uri = sys.argv[1]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
state = {}

def now_ms():
    return int(time.time() * 1000)

def loss(step):
    return 1.0 / (step + 1)

def setup_metrics(prefix):
    eid = client.create_experiment(f"{prefix}-metrics")
    state["eid"] = eid
    state["single"] = client.create_run(eid).info.run_id
    state["batched"] = client.create_run(eid).info.run_id
    return {}

def log_single(start, count):
    run_id, log, lat = state["single"], client.log_metric, []
    for step in range(start, start + count):
        t = time.perf_counter()
        log(run_id, "loss", loss(step), step=step)
        lat.append(time.perf_counter() - t)
    return {"latencies": lat}

def log_batch(start, size):
    run_id = state["batched"]
    t = time.perf_counter()
    metrics = [Metric("loss", loss(s), now_ms(), s) for s in range(start, start + size)]
    client.log_batch(run_id, metrics=metrics)
    return {"seconds": time.perf_counter() - t}

def populate(prefix, runs):
    """Bulk rows through MLflow's own models, with the fields create_run and log_batch
    write: one create_run + log_batch per run managed 23-37 runs/s here, and creating
    runs is not what is measured."""
    from sqlalchemy import insert
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag)
    eid = client.create_experiment(f"{prefix}-search")
    root = client.get_experiment(eid).artifact_location.rstrip("/")
    store = client._tracking_client.store
    ts = now_ms()
    rows = {SqlRun: [], SqlParam: [], SqlMetric: [], SqlLatestMetric: [], SqlTag: []}
    for number, (model, auc, team) in enumerate(runs):
        rid = uuid.uuid4().hex
        rows[SqlRun].append(dict(
            run_uuid=rid, name=f"r{number}", artifact_uri=f"{root}/{rid}/artifacts",
            experiment_id=int(eid), source_type="UNKNOWN", source_name="",
            entry_point_name="", user_id="bench", status="RUNNING", start_time=ts + number,
            end_time=None, deleted_time=None, source_version="", lifecycle_stage="active"))
        rows[SqlParam].append(dict(run_uuid=rid, key="model", value=model))
        point = dict(run_uuid=rid, key="auc", value=auc, timestamp=ts, step=0, is_nan=False)
        rows[SqlMetric].append(point)
        rows[SqlLatestMetric].append(dict(point))
        rows[SqlTag].append(dict(run_uuid=rid, key="team", value=team))
        rows[SqlTag].append(dict(run_uuid=rid, key="mlflow.runName", value=f"r{number}"))
    with store.engine.begin() as conn:
        for model, items in rows.items():
            conn.execute(insert(model.__table__), items)
    return {"experiment_id": eid}

def search(experiment_id, filter, max_results):
    t = time.perf_counter()
    found = client.search_runs([experiment_id], filter_string=filter, max_results=max_results)
    return {"seconds": time.perf_counter() - t, "returned": len(found)}

def setup_registry(prefix):
    run = client.create_run(state["eid"]).info
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "model.pkl"), "wb") as f:
        f.write(b"not really a pickle")
    client.log_artifact(run.run_id, os.path.join(folder, "model.pkl"), "model")
    name = f"{prefix}-m"
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, f"{run.artifact_uri}/model", run_id=run.run_id)
    client.set_registered_model_alias(name, "production", "1")
    state["model"] = name
    return {}

def alias_round():
    """Move 1 -> 2, then the rollback: MLflow keeps no alias history, so the caller
    must know the previous version and set it back."""
    name, move = state["model"], client.set_registered_model_alias
    t0 = time.perf_counter()
    move(name, "production", "2")
    t1 = time.perf_counter()
    move(name, "production", "1")
    t2 = time.perf_counter()
    return {"set_alias": t1 - t0, "rollback": t2 - t1}

print(json.dumps({"ready": True, "import_s": time.perf_counter() - began,
                  "version": mlflow.__version__}), file=answers)
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "quit":
        break
    try:
        answer = {"ok": True, "result": globals()[request["op"]](**request["args"])}
    except Exception:
        answer = {"ok": False, "error": traceback.format_exc()}
    print(json.dumps(answer), file=answers)
'''


class MlflowWorker:
    """A worker process of the peers' Python talking to one MLflow tracking URI."""

    def __init__(self, uri: str, cwd: Path, log_path: Path) -> None:
        self._log = log_path.open("wb")
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
        self.process = subprocess.Popen(
            [str(PEERS_PYTHON), "-c", MLFLOW_WORKER, uri],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=cwd,
            env=env,
            text=True,
        )
        self.log_path = log_path
        self.hello: dict[str, Any] = {}

    def wait_ready(self) -> dict[str, Any]:
        self.hello = self._read()
        return self.hello

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"The MLflow worker exited: {self.log_path.read_text()[-3000:]}")
        return cast(dict[str, Any], json.loads(line))

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if not answer["ok"]:
            raise RuntimeError(f"MLflow worker, {op}: {answer['error']}")
        return cast(dict[str, Any], answer["result"])

    def close(self) -> None:
        try:
            if self.process.poll() is None and self.process.stdin is not None:
                self.process.stdin.write('{"op": "quit"}\n')
                self.process.stdin.close()
                self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            self._log.close()


class MlflowPath:
    def __init__(self, key: str, worker: MlflowWorker) -> None:
        self.key = key
        self.worker = worker
        self.result = PathResult(key, PATHS[key])
        self.prefix = key
        self.search_experiment: str | None = None

    def setup_metrics(self) -> None:
        self.worker.call("setup_metrics", prefix=self.prefix)

    def log_single(self, start: int, count: int, timed: bool = True) -> None:
        latencies = self.worker.call("log_single", start=start, count=count)["latencies"]
        if timed:
            self.result.single_latencies.extend(latencies)

    def log_batch(self, start: int, size: int, timed: bool = True) -> None:
        seconds = self.worker.call("log_batch", start=start, size=size)["seconds"]
        if timed:
            self.result.batch_s.append(seconds)
            self.result.batch_size = size

    def populate(self, data: list[SearchRun]) -> str:
        runs = [[r.model, r.auc, r.team] for r in data]
        found = self.worker.call("populate", prefix=self.prefix, runs=runs)
        return str(found["experiment_id"])

    def search(self, max_results: int, timed: bool = True) -> None:
        found = self.worker.call(
            "search",
            experiment_id=self.search_experiment,
            filter=FILTER,
            max_results=max_results,
        )
        if timed:
            self.result.search_s.append(found["seconds"])
        self.result.search_returned = found["returned"]

    def setup_registry(self) -> None:
        self.worker.call("setup_registry", prefix=self.prefix)

    def alias_round(self, timed: bool = True) -> None:
        found = self.worker.call("alias_round")
        if timed:
            self.result.set_alias_s.append(found["set_alias"])
            self.result.rollback_s.append(found["rollback"])


AnyPath = PasslinePath | MlflowPath


# --- the peers' environment and the MLflow server -----------------------------------------


def ensure_peers_venv(console: Console) -> None:
    """Create ``bench/.venv-peers`` from the pinned requirements, once (or when they change)."""
    wanted = hashlib.sha256(PEERS_REQUIREMENTS.read_bytes()).hexdigest()
    if PEERS_PYTHON.exists() and _PEERS_STAMP.exists() and _PEERS_STAMP.read_text() == wanted:
        return
    console.log(f"registry: creating {PEERS_VENV} from {PEERS_REQUIREMENTS.name} (once, ~1 min)")
    if not PEERS_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    subprocess.run(
        [str(PEERS_PYTHON), "-m", "pip", "install", "-q", "-r", str(PEERS_REQUIREMENTS)],
        check=True,
    )
    _PEERS_STAMP.write_text(wanted)


@dataclass(frozen=True)
class MlflowServer:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path


@contextmanager
def mlflow_server(folder: Path, database: Path) -> Iterator[MlflowServer]:
    """``mlflow server --workers 1`` on a SQLite file, artifacts served from ``folder``.

    Started in its own process group: it runs uvicorn as a child, and stopping the group
    stops both. Its background job runner is switched off (it serves no request and would
    only take CPU from the two cores the comparison runs on).
    """
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    command = [
        str(PEERS_VENV / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{database}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(folder / "mlartifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log_path = folder / "mlflow-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=env,
            start_new_session=True,
        )
        try:
            yield MlflowServer(process, f"http://127.0.0.1:{port}", log_path)
        finally:
            _stop_group(process)


def wait_for_health(server: MlflowServer) -> None:
    deadline = time.monotonic() + _SERVER_READY_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {server.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"mlflow server did not answer within {_SERVER_READY_S:.0f} s")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    try:  # uvicorn's child may outlive its parent by a moment
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- measuring -----------------------------------------------------------------------------


def take_turns(paths: list[Any], slices: list[T], work: Callable[[Any, T], None]) -> None:
    """Every path gets each slice in turn, starting with a different path each time, so a
    busy minute on the shared machine lands on all of them alike."""
    for number, piece in enumerate(slices):
        shift = number % len(paths)
        for path in paths[shift:] + paths[:shift]:
            work(path, piece)


def measure_metrics(paths: list[AnyPath], params: RegistryParams, console: Console) -> None:
    for path in paths:
        path.setup_metrics()
    console.log("registry: warming up, then one call per point, turn by turn")
    for path in paths:
        path.log_single(0, params.warmup_calls, timed=False)
        path.log_batch(0, params.batch_size, timed=False)

    def single(path: AnyPath, turn: int) -> None:
        total = params.mlflow_single if isinstance(path, MlflowPath) else params.metrics
        size = total // params.turns
        path.log_single(params.warmup_calls + turn * size, size)

    take_turns(paths, list(range(params.turns)), single)
    console.log(f"registry: batches of {params.batch_size:,}, turn by turn")
    batches = params.metrics // params.batch_size

    def batched(path: AnyPath, number: int) -> None:
        path.log_batch((number + 1) * params.batch_size, params.batch_size)

    take_turns(paths, list(range(batches)), batched)


def measure_search(
    paths: list[AnyPath], params: RegistryParams, result: RegistryResult, console: Console
) -> None:
    data = search_runs_data(params)
    result.expected_matches = expected_matches(data)
    mlflow_experiment: str | None = None
    for path in paths:
        if path.key not in ("passline_embedded", "mlflow_sqlite"):
            continue
        console.log(f"registry: writing {params.runs:,} runs for the search ({path.key})")
        began = time.perf_counter()
        if isinstance(path, MlflowPath):
            mlflow_experiment = path.populate(data)
        else:
            path.populate(data)
        result.populate_s[path.key] = time.perf_counter() - began
    for path in paths:
        if isinstance(path, MlflowPath):
            path.search_experiment = mlflow_experiment
        path.search(params.max_results, timed=False)
    console.log(f"registry: search, median of {params.search_repeats}, turn by turn")
    take_turns(
        paths,
        list(range(params.search_repeats)),
        lambda path, _: path.search(params.max_results),
    )


def measure_aliases(paths: list[AnyPath], params: RegistryParams, console: Console) -> None:
    for path in paths:
        path.setup_registry()
        path.alias_round(timed=False)
    console.log(f"registry: {params.alias_rounds} alias moves and rollbacks, turn by turn")
    take_turns(paths, list(range(params.alias_rounds)), lambda path, _: path.alias_round())


# --- profiling where a goal is missed -----------------------------------------------------


def profile_passline(
    embedded: PasslinePath, result: RegistryResult, params: RegistryParams
) -> None:
    """cProfile of the embedded calls behind a missed goal (the server runs the same code)."""
    goals = result.goals()
    wanted: dict[str, Callable[[], None]] = {}
    if any(goals[p]["single_metrics"] is False for p in PAIRS):
        start = 1_000_000
        wanted["log_metrics, one call per point"] = lambda: embedded.log_single(
            start, params.profile_calls, timed=False
        )
    if any(goals[p]["batched_metrics"] is False for p in PAIRS):
        wanted["log_metrics, batches"] = lambda: [
            embedded.log_batch(2_000_000 + n * params.batch_size, params.batch_size, timed=False)
            for n in range(5)
        ]
    if any(goals[p]["search"] is False for p in PAIRS):
        wanted[f"search_runs x{params.search_repeats}"] = lambda: [
            embedded.search(params.max_results, timed=False) for _ in range(params.search_repeats)
        ]
    for name, action in wanted.items():
        profiler = cProfile.Profile()
        profiler.enable()
        action()
        profiler.disable()
        result.profiles[name] = top_functions(profiler)


def top_functions(profiler: cProfile.Profile) -> list[dict[str, Any]]:
    """Passline's own functions by cumulative time, then every function by its own time."""
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == __file__:
            continue
        rows.append(
            {
                "function": name if filename == "~" else f"{_short(filename)}:{line}({name})",
                "calls": calls,
                "own_s": round(own, 4),
                "cumulative_s": round(cumulative, 4),
            }
        )
    ours = [r for r in rows if r["function"].startswith("passline/")]
    ours.sort(key=lambda r: r["cumulative_s"], reverse=True)
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return [{"view": "Passline, cumulative", **r} for r in ours[:8]] + [
        {"view": "all, own time", **r} for r in rows[:10]
    ]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --- the benchmark -------------------------------------------------------------------------


def run(params: RegistryParams, console: Console) -> RegistryResult:
    result = RegistryResult(params)
    workdir = DATA_DIR / f"registry-{secrets.token_hex(3)}"
    (workdir / "mlflow").mkdir(parents=True)
    try:
        with ExitStack() as stack:
            paths = open_paths(workdir, result, stack, console)
            console.log(f"registry: measuring {', '.join(p.key for p in paths)}, in turns")
            measure_metrics(paths, params, console)
            measure_search(paths, params, result, console)
            measure_aliases(paths, params, console)
            result.paths = {p.key: p.result for p in paths}
            embedded = next(p for p in paths if isinstance(p, PasslinePath))
            console.log("registry: profiling Passline where a goal is missed")
            profile_passline(embedded, result, params)
            result.notes += [
                f"MLflow one-call-per-point figures are a sample of {params.mlflow_single:,} "
                f"calls per path (Passline: {params.metrics:,}).",
                "The search runs are bulk-inserted through each tool's own SQLAlchemy models "
                "with the fields its API writes; populate_s is not a measure.",
                "mlflow server: --workers 1, MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false.",
            ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def open_paths(
    workdir: Path, result: RegistryResult, stack: ExitStack, console: Console
) -> list[AnyPath]:
    """Start both servers and the MLflow workers; return the paths in table order."""
    import passline

    result.versions["passline"] = passline.__version__
    opened: dict[str, AnyPath] = {}
    mlflow: MlflowServer | None = None
    try:
        ensure_peers_venv(console)
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = f"the peers' environment could not be made: {exc}"
        console.log(f"registry: MLflow skipped ({reason})")
        result.skipped.update({"mlflow_sqlite": reason, "mlflow_server": reason})
    else:
        database = workdir / "mlflow" / "mlflow.db"
        console.log("registry: starting mlflow server --workers 1 (20-35 s to answer)")
        began = time.perf_counter()
        mlflow = stack.enter_context(mlflow_server(workdir / "mlflow", database))
    home = workdir / "passline"
    began_passline = time.perf_counter()
    passline_server = stack.enter_context(serve(home))
    result.startup_s["passline_up"] = time.perf_counter() - began_passline
    embedded = open_local_client(settings_for(home))
    opened["passline_embedded"] = PasslinePath("passline_embedded", embedded)
    stack.callback(embedded.close)
    embedded.create_project(PROJECT, "benchmark scratch project")
    http = passline_server.client()
    stack.callback(http.close)
    opened["passline_http"] = PasslinePath("passline_http", http)
    if mlflow is not None:
        wait_for_health(mlflow)
        result.startup_s["mlflow_server"] = time.perf_counter() - began
        console.log(
            f"registry: mlflow server answered after {result.startup_s['mlflow_server']:.0f} s"
        )
        for key, uri in (
            ("mlflow_sqlite", f"sqlite:///{database}"),
            ("mlflow_server", mlflow.url),
        ):
            worker = MlflowWorker(uri, workdir / "mlflow", workdir / "mlflow" / f"{key}.log")
            stack.callback(worker.close)
            opened[key] = MlflowPath(key, worker)
        for key in ("mlflow_sqlite", "mlflow_server"):
            hello = cast(MlflowPath, opened[key]).worker.wait_ready()
            result.startup_s[f"{key}_import"] = hello["import_s"]
            result.versions["mlflow"] = hello["version"]
    return [opened[k] for k in PATHS if k in opened]


# --- tables --------------------------------------------------------------------------------

PAIR_LABELS = {
    "embedded": "embedded: in-process SQLite / MLflow SQLite store",
    "http": "HTTP: passline up / mlflow server",
}


def registry_tables(result: RegistryResult) -> Group:
    tables: list[Table | str] = [_metrics_table(result), _search_table(result)]
    tables.append(_alias_table(result))
    if result.skipped:
        skipped = "; ".join(f"{k}: {why}" for k, why in result.skipped.items())
        tables.append(f"[yellow]Skipped[/yellow] {escape(skipped)}")
    tables += [_profile_table(name, rows) for name, rows in result.profiles.items()]
    return Group(*tables)


def _table(title: str, caption: str, goal: str) -> Table:
    table = Table(title=title, caption=caption)
    for name in ("measure", "path", "Passline", "MLflow", "Passline / MLflow", goal):
        table.add_column(name, justify="left" if name in ("measure", "path") else "right")
    return table


def _metrics_table(result: RegistryResult) -> Table:
    params = result.params
    table = _table(
        f"Metrics logged: {params.metrics:,} points per path (metrics/s, higher is better)",
        f"One call per point: Passline log_metric + flush (one request, one transaction); "
        f"MLflow log_metric, sampled over {params.mlflow_single:,} calls per path. Batches of "
        f"{params.batch_size:,}: Passline's buffered log_metric (it sends 1,000 points a "
        "request); MLflow log_batch (1,000 is its limit). Latency: p50 / p95 ms of one call.",
        f">= {GOAL_METRICS_RATIO:g}x",
    )
    ratios, goals = result.ratios(), result.goals()
    rows = [
        ("one call per point", PathResult.single_per_s, "single_metrics"),
        (f"batches of {params.batch_size:,}", PathResult.batched_per_s, "batched_metrics"),
    ]
    for label, measure, key in rows:
        for pair, (ours, theirs) in PAIRS.items():
            table.add_row(
                label,
                PAIR_LABELS[pair],
                rate(result.figure(ours, measure)),
                rate(result.figure(theirs, measure)),
                ratio(ratios[pair][key]),
                verdict(goals[pair][key]),
            )
    for pair, (ours, theirs) in PAIRS.items():
        table.add_row(
            "one call latency (ms)",
            PAIR_LABELS[pair],
            _p50_p95(result, ours, "single"),
            _p50_p95(result, theirs, "single"),
            "",
            "",
        )
    return table


def _p50_p95(result: RegistryResult, path: str, what: str) -> str:
    found = result.paths.get(path)
    if found is None:
        return "-"
    seconds = {
        "single": found.single_latencies,
        "set_alias": found.set_alias_s,
        "rollback": found.rollback_s,
    }[what]
    ms = percentiles_ms(seconds)
    return f"{ms['p50']:.2f} / {ms['p95']:.2f}" if ms else "-"


def _search_table(result: RegistryResult) -> Table:
    params = result.params
    table = _table(
        f"search_runs over {params.runs:,} runs, max_results={params.max_results:,}, median "
        f"of {params.search_repeats} (ms, lower is better)",
        f"Filter: {FILTER}; {result.expected_matches:,} runs match. Each run has "
        "params.model, metrics.auc and a tag; both tools return the runs with their params, "
        "metrics and tags. Both paths of a tool search the same database file. Ratio: "
        "MLflow's median / Passline's (x faster).",
        f">= {GOAL_SEARCH_RATIO:g}x",
    )
    ratios, goals = result.ratios(), result.goals()
    for pair, (ours, theirs) in PAIRS.items():
        table.add_row(
            "median ms",
            PAIR_LABELS[pair],
            _ms(result.figure(ours, PathResult.search_median_s)),
            _ms(result.figure(theirs, PathResult.search_median_s)),
            ratio(ratios[pair]["search_speedup"]),
            verdict(goals[pair]["search"]),
        )
    for pair, (ours, theirs) in PAIRS.items():
        table.add_row(
            "min / max ms", PAIR_LABELS[pair], _spread(result, ours), _spread(result, theirs)
        )
    for pair, (ours, theirs) in PAIRS.items():
        table.add_row(
            "runs returned",
            PAIR_LABELS[pair],
            _count(result.figure(ours, lambda p: p.search_returned)),
            _count(result.figure(theirs, lambda p: p.search_returned)),
        )
    return table


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _spread(result: RegistryResult, path: str) -> str:
    found = result.paths.get(path)
    if found is None or not found.search_s:
        return "-"
    return f"{min(found.search_s) * 1000:,.1f} / {max(found.search_s) * 1000:,.1f}"


def _alias_table(result: RegistryResult) -> Table:
    table = _table(
        f"Alias move and rollback, {result.params.alias_rounds} rounds "
        "(ms p50 / p95, lower is better)",
        "Passline: set_alias to v2 (with its release-policy check), then rollback, which "
        "finds v1 in the alias history; each move is audited. MLflow: "
        "set_registered_model_alias to v2, then to v1 again (it keeps no alias history, so "
        "the caller must know v1). Ratio: MLflow p50 / Passline p50 (x faster); no goal.",
        "goal",
    )
    ratios = result.ratios()
    for label, what, key in (
        ("move alias to v2", "set_alias", "set_alias_speedup"),
        ("rollback to v1", "rollback", "rollback_speedup"),
    ):
        for pair, (ours, theirs) in PAIRS.items():
            table.add_row(
                label,
                PAIR_LABELS[pair],
                _p50_p95(result, ours, what),
                _p50_p95(result, theirs, what),
                ratio(ratios[pair][key]),
                "-",
            )
    return table


def _profile_table(name: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title=f"Profile of Passline embedded, {name} (cProfile)",
        caption="The HTTP server runs the same service code behind uvicorn.",
    )
    for column in ("view", "function", "calls", "own s", "cumulative s"):
        table.add_column(column, justify="left" if column in ("view", "function") else "right")
    for row in rows:
        table.add_row(
            row["view"],
            row["function"],
            f"{row['calls']:,}",
            f"{row['own_s']:.3f}",
            f"{row['cumulative_s']:.3f}",
        )
    return table
