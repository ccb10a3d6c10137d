"""The gateway against MLflow: one scikit-learn model under ``passline serve``, under
``mlflow models serve`` and called in-process; then alias moves under steady load.

The model is a scikit-learn Pipeline on named columns (a ColumnTransformer with one-hot
encoders and a LogisticRegression over five columns), trained here on synthetic data and
logged to MLflow with ``mlflow.sklearn.log_model(serialization_format="cloudpickle")`` in
the peers' environment (``bench/.venv-peers``). Passline registers the very ``model.pkl``
MLflow wrote, so both servers unpickle the same bytes. The same worker of the peers'
environment then times the model in-process there (MLflow's pandas is not Passline's).

Every server is a subprocess on a free loopback port, in its own process group, stopped on
exit even when the run fails. The same client (httpx, keep-alive, one connection per client
thread) sends the same single-row and 100-row bodies to each; the servers take turns, slice
by slice, and the in-process calls take their turn beside them, so a busy minute on the
shared machine lands on all of them alike. Passline's prediction log (Parquet files and
per-minute summaries, written by a thread) stays on: it is part of what a request costs.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pickle
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table

from bench.registry import (
    PEERS_PYTHON,
    PEERS_VENV,
    _free_port,
    _stop_group,
    ensure_peers_venv,
    percentiles_ms,
    take_turns,
    top_functions,
)
from bench.report import rate, ratio, verdict
from bench.workspaces import DATA_DIR, make_token, open_local_client, settings_for
from passline.data.connectors.memory import TableConnector
from passline.services.workspace import Services, Workspace

__all__ = [
    "FULL",
    "QUICK",
    "ServingParams",
    "ServingResult",
    "run",
    "run_benchmark",
    "serving_tables",
]

PROJECT = "bench"
MODEL = f"{PROJECT}/scorer"
DATASET = f"{PROJECT}/transactions"
ALIAS = "production"
FEATURES = ["amount", "hour", "age", "channel", "country"]
TARGET = "is_fraud"
GOAL_ADDED_P50_MS = 1.0  # gateway p50 minus in-process p50, one row
GOAL_THROUGHPUT_X = 3.0  # Passline requests/s over MLflow's, one worker each
_READY_S = 120.0

SERVERS = {  # key -> label, in table order
    "passline": "passline serve (1 worker)",
    "mlflow": "mlflow models serve (1 worker)",
    "passline_w2": "passline serve --workers 2",
}
IN_PROCESS = {  # key -> label
    "predict": "model.predict(DataFrame built before)",
    "records": "DataFrame.from_records + predict (in-process baseline)",
    "gateway_path": "Passline's request path in-process (no HTTP)",
}


@dataclass(frozen=True)
class ServingParams:
    latency_requests: int  # single-row requests at concurrency 1, per server
    throughput_requests: int  # single-row requests at `concurrency`, per server
    batch_requests: int  # `batch_rows`-row requests at concurrency 1, per server
    slices: int  # each phase is cut into this many turns
    warmup: int
    concurrency: int = 8
    batch_rows: int = 100
    health_requests: int = 500
    moves: int = 10
    move_interval_s: float = 1.5
    swap_threads: int = 4  # client threads during the moves, shared among the gateways
    workers2: bool = True
    profile_calls: int = 1_000
    train_rows: int = 5_000
    seed: int = 20261130


FULL = ServingParams(
    latency_requests=2_000, throughput_requests=2_000, batch_requests=400, slices=4, warmup=200
)
QUICK = ServingParams(
    latency_requests=400,
    throughput_requests=400,
    batch_requests=80,
    slices=2,
    warmup=50,
    health_requests=200,
    move_interval_s=1.2,
)


# --- results ---------------------------------------------------------------------------------


@dataclass
class Phase:
    """One load phase against one target, summed over its slices."""

    rows: int
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    failures: int = 0
    cpu_s: float | None = None  # the server's process group, during the phase

    def add(
        self, latencies: list[float], wall_s: float, failures: int, cpu_s: float | None
    ) -> None:
        self.latencies += latencies
        self.wall_s += wall_s
        self.failures += failures
        if cpu_s is not None:
            self.cpu_s = (self.cpu_s or 0.0) + cpu_s

    def per_s(self) -> float | None:
        return len(self.latencies) / self.wall_s if self.wall_s else None

    def rows_per_s(self) -> float | None:
        return (self.per_s() or 0) * self.rows or None

    def p50_ms(self) -> float | None:
        return statistics.median(self.latencies) * 1000 if self.latencies else None

    def cpu_ms_per_request(self) -> float | None:
        done = len(self.latencies)
        return self.cpu_s * 1000 / done if self.cpu_s is not None and done else None

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "concurrency": self.concurrency,
            "requests": len(self.latencies),
            "failures": self.failures,
            "wall_s": self.wall_s,
            "requests_per_s": self.per_s(),
            "rows_per_s": self.rows_per_s(),
            "latency_ms": percentiles_ms(self.latencies),
            "server_cpu_s": self.cpu_s,
            "server_cpu_ms_per_request": self.cpu_ms_per_request(),
        }


@dataclass
class Move:
    to_version: int
    call_ms: float
    first_new_ms: float | None  # first answer from the new version, after the move returned
    last_old_ms: float | None  # last answer from the old version to a request sent after it


@dataclass
class SwapResult:
    requests: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "errors": self.errors,
            "duration_s": self.duration_s,
            "moves": [asdict(m) for m in self.moves],
            "first_new_ms": _spread([m.first_new_ms for m in self.moves]),
            "last_old_ms": _spread([m.last_old_ms for m in self.moves]),
            "all_moves_seen": all(m.first_new_ms is not None for m in self.moves),
        }


def _in_process_json(
    samples: dict[str, dict[int, list[float]]], labels: dict[str, str]
) -> dict[str, Any]:
    return {
        key: {"label": labels[key], **{f"rows_{n}": percentiles_ms(s) for n, s in by_rows.items()}}
        for key, by_rows in samples.items()
    }


def _spread(values: list[float | None]) -> dict[str, float] | None:
    seen = [v for v in values if v is not None]
    return {"p50": statistics.median(seen), "max": max(seen)} if seen else None


@dataclass
class ServingResult:
    params: ServingParams
    servers: dict[str, dict[str, Phase]] = field(default_factory=dict)
    in_process: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    agree: dict[str, bool] = field(default_factory=dict)
    swap: dict[str, SwapResult] = field(default_factory=dict)
    startup_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    profile: list[dict[str, Any]] = field(default_factory=list)
    mlflow_in_process: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    in_process_cpu_s: dict[str, dict[int, float]] = field(default_factory=dict)
    mlflow_in_process_cpu_s: dict[str, dict[int, float]] = field(default_factory=dict)
    mlflow_env: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def phase(self, server: str, name: str) -> Phase | None:
        return self.servers.get(server, {}).get(name)

    def in_process_p50_ms(self, key: str, rows: int = 1, mlflow: bool = False) -> float | None:
        seconds = (self.mlflow_in_process if mlflow else self.in_process).get(key, {}).get(rows)
        return statistics.median(seconds) * 1000 if seconds else None

    def in_process_cpu_ms(self, key: str, rows: int = 1, mlflow: bool = False) -> float | None:
        """CPU milliseconds per call (the calling thread's), from the timed calls."""
        samples = (self.mlflow_in_process if mlflow else self.in_process).get(key, {}).get(rows)
        cpu = (self.mlflow_in_process_cpu_s if mlflow else self.in_process_cpu_s).get(key, {})
        return cpu[rows] * 1000 / len(samples) if samples and rows in cpu else None

    def added_p50_ms(self, server: str) -> float | None:
        """The server's single-row p50 minus the in-process baseline's, each in its own
        environment (MLflow's has another pandas)."""
        found = self.phase(server, "latency")
        base = self.in_process_p50_ms("records", mlflow=server == "mlflow")
        p50 = found.p50_ms() if found else None
        return p50 - base if p50 is not None and base is not None else None

    def throughput_x(self, server: str) -> float | None:
        ours, theirs = self.phase(server, "throughput"), self.phase("mlflow", "throughput")
        if not ours or not theirs or not ours.per_s() or not theirs.per_s():
            return None
        return (ours.per_s() or 0) / (theirs.per_s() or 1)

    def goals(self) -> dict[str, bool | None]:
        added, times = self.added_p50_ms("passline"), self.throughput_x("passline")
        swap = self.swap.get("passline")
        return {
            "added_p50_under_1ms": None if added is None else added < GOAL_ADDED_P50_MS,
            "throughput_3x_mlflow": None if times is None else times >= GOAL_THROUGHPUT_X,
            "hot_swap_no_failure": None if swap is None else swap.failures == 0,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "model": {"name": MODEL, "features": FEATURES, "target": TARGET},
            "goals": {"added_p50_ms_below": GOAL_ADDED_P50_MS, "throughput_x": GOAL_THROUGHPUT_X},
            "versions": self.versions,
            "startup_s": self.startup_s,
            "servers": {
                k: {"label": SERVERS[k], **{n: p.to_json() for n, p in phases.items()}}
                for k, phases in self.servers.items()
            },
            "in_process": _in_process_json(self.in_process, IN_PROCESS),
            "in_process_cpu_s": self.in_process_cpu_s,
            "mlflow_in_process": _in_process_json(self.mlflow_in_process, PEERS_IN_PROCESS),
            "mlflow_in_process_cpu_s": self.mlflow_in_process_cpu_s,
            "mlflow_environment": self.mlflow_env,
            "predictions_agree": self.agree,
            "added_p50_ms": {k: self.added_p50_ms(k) for k in self.servers},
            "throughput_x_mlflow": {k: self.throughput_x(k) for k in self.servers},
            "hot_swap": {k: s.to_json() for k, s in self.swap.items()},
            "goals_met": self.goals(),
            "profile": self.profile,
            "skipped": self.skipped,
            "notes": self.notes,
        }


# --- the model and the workspace -------------------------------------------------------------


def transactions(rows: int, seed: int) -> pa.Table:
    """Synthetic card transactions: three numbers, two categories, a fraud label."""
    rng = np.random.default_rng(seed)
    amount = np.round(rng.lognormal(3.0, 0.9, rows), 2)
    hour = rng.integers(0, 24, rows)
    age = rng.integers(18, 90, rows)
    channel = rng.choice(["web", "store", "app", "phone"], rows)
    country = rng.choice(["FR", "DE", "ES", "IT", "NL", "PL", "PT", "BE"], rows)
    risk = 0.9 * (np.log1p(amount) - 3.2) + 1.4 * (hour < 6) + 0.8 * (channel == "web") - 2.2
    fraud = rng.random(rows) < 1 / (1 + np.exp(-risk))
    return pa.table(
        {
            "amount": amount,
            "hour": hour.astype(np.int64),
            "age": age.astype(np.int64),
            "channel": channel,
            "country": country,
            TARGET: fraud.astype(np.int64),
        }
    )


def train(table: pa.Table, c: float) -> Any:
    """One-hot encoders on the categories, scaled numbers, a logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["channel", "country"]),
            ("numbers", StandardScaler(), ["amount", "hour", "age"]),
        ]
    )
    frame = table.to_pandas()
    model = make_pipeline(columns, LogisticRegression(C=c, max_iter=500))
    return model.fit(frame[FEATURES], frame[TARGET])


def request_records(params: ServingParams) -> list[dict[str, Any]]:
    """The rows every request sends: row 0 alone, or the first ``batch_rows``."""
    return transactions(params.batch_rows, params.seed + 1).select(FEATURES).to_pylist()


def register(svc: Services, model_bytes: bytes) -> int:
    """A version from a run on the dataset, so its signature is the five features."""
    tracking = svc.tracking
    run = tracking.start_run(tracking.ensure_experiment(PROJECT, "serving").id)
    tracking.log_input(run.id, f"{DATASET}@v1")
    tracking.log_params(run.id, {"target": TARGET, "features": ",".join(FEATURES)})
    tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(model_bytes))
    tracking.end_run(run.id)
    return svc.registry.register(MODEL, f"runs:/{run.id}/model").version


def prepare_passline(home: Path, v1: bytes, v2: bytes, train_table: pa.Table) -> None:
    """The bench project, the training dataset, v1 (MLflow's pickle) and v2; production -> v1."""
    workspace = Workspace.open(settings_for(home))
    try:
        svc = workspace.services(workspace.local_context("sdk"))
        svc.projects.create(PROJECT)
        svc.ingest.ingest(DATASET, TableConnector(train_table))
        for model_bytes in (v1, v2):
            register(svc, model_bytes)
        svc.registry.set_alias(MODEL, ALIAS, 1)
    finally:
        workspace.close()


# --- MLflow: logging the model and serving it ------------------------------------------------

# Runs in bench/.venv-peers: logs the model, says hello (the model folder, versions) and then
# times the same model in-process on request, so MLflow's environment takes its turn beside the
# others. Requests and answers are JSON lines; MLflow's own output goes to stderr (a log file).
MLFLOW_WORKER = r"""
import importlib.util, json, os, pickle, sys, time
answers = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
import mlflow, pandas, sklearn
from mlflow.models import infer_signature
work, pickled, records = sys.argv[1:4]
mlflow.set_tracking_uri(f"sqlite:///{work}/mlflow.db")
mlflow.set_experiment("serving")
with open(pickled, "rb") as stream:
    model = pickle.load(stream)
with open(records) as stream:
    rows = json.load(stream)
frame = pandas.DataFrame.from_records(rows)
signature = infer_signature(frame, model.predict(frame))
began = time.perf_counter()
with mlflow.start_run():
    info = mlflow.sklearn.log_model(
        model, name="scorer", serialization_format="cloudpickle", signature=signature,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", "cloudpickle"])
log_s = time.perf_counter() - began
folder = mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=f"{work}/model")
pyfunc = mlflow.pyfunc.load_model(folder)  # what `mlflow models serve` calls
print(json.dumps({"folder": folder, "model_uri": info.model_uri, "log_model_s": log_s,
                  "mlflow": mlflow.__version__, "sklearn": sklearn.__version__,
                  "pandas": pandas.__version__,
                  "uvloop": bool(importlib.util.find_spec("uvloop")),
                  "httptools": bool(importlib.util.find_spec("httptools"))}), file=answers)

def timed(call, count):
    seconds, cpu = [], time.thread_time()
    for _ in range(count):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
    return {"seconds": seconds, "cpu_s": time.thread_time() - cpu}

for line in sys.stdin:
    request = json.loads(line)
    if request.get("quit"):
        break
    some, count = rows[: request["rows"]], request["count"]
    print(json.dumps({
        "records": timed(lambda: model.predict(pandas.DataFrame.from_records(some)), count),
        "pyfunc": timed(lambda: pyfunc.predict(pandas.DataFrame.from_records(some)), count),
    }), file=answers)
"""
PEERS_IN_PROCESS = {
    "records": "DataFrame.from_records + predict (in-process baseline)",
    "pyfunc": "mlflow.pyfunc model.predict (what mlflow models serve calls)",
}


class MlflowSide:
    """The worker above: the model logged to MLflow, then its in-process timings."""

    key = "mlflow_in_process"

    def __init__(self, folder: Path, pickled: Path, records: Path) -> None:
        self.log_path = folder / "mlflow-worker.log"
        self._log = self.log_path.open("wb")
        command = [str(PEERS_PYTHON), "-c", MLFLOW_WORKER, str(folder), str(pickled)]
        self.process = subprocess.Popen(
            [*command, str(records)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=folder,
            env=_mlflow_env(),
            text=True,
        )
        self.samples: dict[str, dict[int, list[float]]] = {k: {} for k in PEERS_IN_PROCESS}
        self.cpu_s: dict[str, dict[int, float]] = {k: {} for k in PEERS_IN_PROCESS}

    def hello(self) -> dict[str, Any]:
        """Wait for the model to be logged; its local folder and the environment's versions."""
        return self._read()

    def measure(self, records: list[dict[str, Any]], count: int, keep: bool = True) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"rows": len(records), "count": count}) + "\n")
        self.process.stdin.flush()
        for key, timed in self._read().items():
            if keep:
                self.samples[key].setdefault(len(records), []).extend(timed["seconds"])
                cpu = self.cpu_s[key]
                cpu[len(records)] = cpu.get(len(records), 0.0) + timed["cpu_s"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"The MLflow worker exited: {self.log_path.read_text()[-3000:]}")
        return dict(json.loads(line))

    def close(self) -> None:
        try:
            if self.process.poll() is None and self.process.stdin is not None:
                self.process.stdin.write('{"quit": true}\n')
                self.process.stdin.close()
                self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            self._log.close()


def _mlflow_env() -> dict[str, str]:
    bin_dir = str(PEERS_VENV / "bin")  # `mlflow models serve` runs `uvicorn` from PATH
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


# --- servers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    key: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path


@contextmanager
def server_group(
    key: str, command: list[str], folder: Path, env: dict[str, str], port: int
) -> Iterator[Server]:
    """A server in its own process group (a launcher and its uvicorn, or uvicorn and its
    workers), stopped as a group on exit."""
    log_path = folder / f"{key}.log"
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
            yield Server(key, process, f"http://127.0.0.1:{port}", log_path)
        finally:
            _stop_group(process)


def passline_command(home: Path, port: int, workers: int) -> list[str]:
    cli = [sys.executable, "-m", "passline.cli.main", "--home", str(home), "serve"]
    return [*cli, "--port", str(port), "--workers", str(workers)]


def mlflow_command(model_folder: str, port: int) -> list[str]:
    serve = [str(PEERS_VENV / "bin" / "mlflow"), "models", "serve", "-m", model_folder]
    return [*serve, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]


def wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + _READY_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.key} exited: {server.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}{path}", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.key} did not answer {path} within {_READY_S:.0f} s")


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# --- the client --------------------------------------------------------------------------------


class HttpTarget:
    """One server as the client sees it: its predict URL, bodies and keep-alive clients."""

    def __init__(
        self, server: Server, route: str, health: str, headers: dict[str, str], key: str
    ) -> None:
        self.key = server.key
        self.pgid = server.process.pid
        self.predict_url = f"{server.url}{route}"
        self.health_url = f"{server.url}{health}"
        self.records_key = key
        self.clients = [httpx.Client(headers=headers, timeout=60.0) for _ in range(8)]
        self.phases: dict[str, Phase] = {}

    def body(self, records: list[dict[str, Any]]) -> bytes:
        return json.dumps({self.records_key: records}).encode()

    def predictions(self, records: list[dict[str, Any]]) -> list[Any]:
        answer = self.clients[0].post(self.predict_url, content=self.body(records))
        answer.raise_for_status()
        return list(answer.json()["predictions"])

    def load(self, name: str, body: bytes | None, rows: int, requests: int, threads: int) -> None:
        """``requests`` closed-loop requests from ``threads`` client threads (POST ``body``, or
        GET the health route when ``body`` is None), added to phase ``name``."""
        phase = self.phases.setdefault(name, Phase(rows, threads))
        shares = [requests // threads + (i < requests % threads) for i in range(threads)]
        results: list[tuple[list[float], int]] = [([], 0)] * threads
        start = threading.Barrier(threads + 1)

        def work(index: int) -> None:
            start.wait()
            results[index] = self._send(self.clients[index], body, shares[index])

        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        cpu = group_cpu_s(self.pgid)
        start.wait()
        began = time.perf_counter()
        for worker in workers:
            worker.join()
        wall = time.perf_counter() - began
        cpu = group_cpu_s(self.pgid) - cpu
        latencies = [s for lat, _ in results for s in lat]
        phase.add(latencies, wall, sum(f for _, f in results), cpu)

    def _send(
        self, client: httpx.Client, body: bytes | None, count: int
    ) -> tuple[list[float], int]:
        latencies, failures = [], 0
        post, get = client.post, client.get
        for _ in range(count):
            began = time.perf_counter()
            try:
                answer = (
                    get(self.health_url) if body is None else post(self.predict_url, content=body)
                )
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - began)
            failures += not ok
        return latencies, failures

    def close(self) -> None:
        for client in self.clients:
            client.close()


# --- in-process ----------------------------------------------------------------------------


class InProcess:
    """The same model called in this process: bare, from the records, and through the
    gateway's own request path (auth, route, parse and check, predict, log, JSON) minus HTTP."""

    key = "in_process"

    def __init__(self, home: Path, token: str, target: str) -> None:
        from passline.serving.gateway import create_gateway_app

        self.workspace = Workspace.open(settings_for(home))
        self.gateway = create_gateway_app(self.workspace).state.gateway
        self.gateway.log.start()  # the app's lifespan would; the log writer runs as served
        svc = self.workspace.services(self.workspace.local_context("sdk"))
        self.model = svc.registry.load(MODEL, ALIAS)
        self.token, self.target = token, target
        self.samples: dict[str, dict[int, list[float]]] = {k: {} for k in IN_PROCESS}
        self.cpu_s: dict[str, dict[int, float]] = {k: {} for k in IN_PROCESS}

    def calls(self, records: list[dict[str, Any]]) -> dict[str, Callable[[], Any]]:
        import pandas as pd
        from fastapi.responses import JSONResponse

        frame = pd.DataFrame.from_records(records)
        body = json.dumps({"records": records}).encode()
        gateway, model = self.gateway, self.model

        def gateway_path() -> Any:
            answer = gateway.answer(
                self.token, "127.0.0.1", self.target, False, body, "application/json", "req_x"
            )
            return JSONResponse(answer).body

        return {
            "predict": lambda: model.predict(frame),
            "records": lambda: model.predict(pd.DataFrame.from_records(records)).tolist(),
            "gateway_path": gateway_path,
        }

    def measure(self, records: list[dict[str, Any]], count: int, keep: bool = True) -> None:
        for key, call in self.calls(records).items():
            seconds, cpu = [], time.thread_time()
            for _ in range(count):
                began = time.perf_counter()
                call()
                seconds.append(time.perf_counter() - began)
            if keep:
                self.samples[key].setdefault(len(records), []).extend(seconds)
                spent = self.cpu_s[key]
                spent[len(records)] = spent.get(len(records), 0.0) + time.thread_time() - cpu

    def predictions(self, records: list[dict[str, Any]]) -> list[Any]:
        return list(self.calls(records)["records"]())

    def profile(self, records: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
        call = self.calls(records)["gateway_path"]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(count):
            call()
        profiler.disable()
        return top_functions(profiler)

    def close(self) -> None:
        self.gateway.close()
        self.workspace.close()


# --- hot swap ------------------------------------------------------------------------------


@dataclass
class Answer:
    start: float
    end: float
    version: int | None  # None: a failed request


def steady_load(
    target: HttpTarget, body: bytes, stop: threading.Event, out: list[Answer], errors: list[str]
) -> None:
    """Closed-loop single-row requests until ``stop``; each answer's version, or a failure."""
    with httpx.Client(headers=target.clients[0].headers, timeout=60.0) as client:
        while not stop.is_set():
            began = time.perf_counter()
            version: int | None = None
            try:
                answer = client.post(target.predict_url, content=body)
                if answer.status_code == 200:
                    version = int(answer.json()["version"])
                else:
                    errors.append(f"HTTP {answer.status_code}: {answer.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            out.append(Answer(began, time.perf_counter(), version))


def hot_swap(
    targets: list[HttpTarget], home: Path, body: bytes, params: ServingParams
) -> dict[str, SwapResult]:
    """``params.moves`` alias moves (v2, v1, v2, ...) through the SDK while every gateway
    in ``targets`` answers steady traffic; when each gateway first served the new version."""
    stop = threading.Event()
    answers: dict[str, list[Answer]] = {t.key: [] for t in targets}
    errors: dict[str, list[str]] = {t.key: [] for t in targets}
    threads = [
        threading.Thread(target=steady_load, args=(t, body, stop, answers[t.key], errors[t.key]))
        for t in targets
        for _ in range(max(1, params.swap_threads // len(targets)))
    ]
    moves: list[tuple[float, float, int]] = []
    began = time.perf_counter()
    with open_local_client(settings_for(home)) as client:
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)
            for number in range(params.moves):
                version = 2 if number % 2 == 0 else 1
                called = time.perf_counter()
                client.models.set_alias(MODEL, ALIAS, version, reason="bench: hot swap")
                moves.append((called, time.perf_counter(), version))
                time.sleep(params.move_interval_s)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    duration = time.perf_counter() - began
    return {key: swap_result(found, errors[key], moves, duration) for key, found in answers.items()}


def swap_result(
    answers: list[Answer], errors: list[str], moves: list[tuple[float, float, int]], duration: float
) -> SwapResult:
    served = [a for a in answers if a.version is not None]
    result = SwapResult(len(answers), len(answers) - len(served), errors[:5], duration_s=duration)
    ends = [called for called, _, _ in moves[1:]] + [float("inf")]
    for (called, returned, version), until in zip(moves, ends, strict=True):
        window = [a for a in served if called <= a.start < until]
        new = [a.end for a in window if a.version == version]
        old = [a.end for a in window if a.version != version and a.start >= returned]
        result.moves.append(
            Move(
                version,
                (returned - called) * 1000,
                max(0.0, min(new) - returned) * 1000 if new else None,
                (max(old) - returned) * 1000 if old else None,
            )
        )
    return result


# --- the benchmark -------------------------------------------------------------------------


def run(params: ServingParams, console: Console) -> ServingResult:
    result = ServingResult(params)
    workdir = DATA_DIR / f"serving-{secrets.token_hex(3)}"
    workdir.mkdir(parents=True)
    try:
        with ExitStack() as stack:
            opened = open_targets(workdir, params, result, stack, console)
            measure(opened, params, result, console)
            gateways = [t for t in opened.targets if t.key.startswith("passline")]
            console.log(
                f"serving: {params.moves} alias moves under steady load "
                f"({', '.join(t.key for t in gateways)})"
            )
            body = json.dumps({"records": request_records(params)[:1]}).encode()
            result.swap = hot_swap(gateways, workdir / "passline", body, params)
            result.notes += environment_notes(result)
            if not all(result.goals().values()):
                console.log("serving: a goal is missed; profiling Passline's request path")
                one = request_records(params)[:1]
                result.profile = opened.local.profile(one, params.profile_calls)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def environment_notes(result: ServingResult) -> list[str]:
    """What differs between the two tools' environments besides the tools themselves."""
    import importlib.util

    notes = []
    ours = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
    theirs = [m for m in ("uvloop", "httptools") if result.mlflow_env.get(m)]
    if ours != theirs:
        notes.append(
            f"uvicorn's event loop and HTTP parser: Passline's environment has "
            f"{', '.join(ours) or 'neither uvloop nor httptools (asyncio, h11)'}; MLflow's has "
            f"{', '.join(theirs) or 'neither (asyncio, h11)'}."
        )
    pandas_ours = result.versions.get("pandas")
    pandas_theirs = result.versions.get("mlflow_env_pandas")
    if pandas_theirs and pandas_ours != pandas_theirs:
        notes.append(
            f"pandas {pandas_ours} in Passline's environment, {pandas_theirs} in MLflow's "
            "(pinned <3 for Evidently): the model's own predict differs between them; see the "
            "in-process rows of each environment."
        )
    return notes


@dataclass
class Opened:
    targets: list[HttpTarget]
    local: InProcess
    mlflow: MlflowSide | None

    def in_process(self) -> list[InProcess | MlflowSide]:
        return [self.local] + ([self.mlflow] if self.mlflow else [])


def open_targets(
    workdir: Path,
    params: ServingParams,
    result: ServingResult,
    stack: ExitStack,
    console: Console,
) -> Opened:
    """Train, log to MLflow, register in Passline; start every server; return the targets."""
    import pandas
    import sklearn

    import passline

    result.versions.update(
        passline=passline.__version__, sklearn=sklearn.__version__, pandas=pandas.__version__
    )
    table = transactions(params.train_rows, params.seed)
    v1, v2 = pickle.dumps(train(table, 1.0)), pickle.dumps(train(table, 0.05))
    mlflow_dir = workdir / "mlflow"
    mlflow_dir.mkdir()
    (mlflow_dir / "v1.pkl").write_bytes(v1)
    (mlflow_dir / "records.json").write_text(json.dumps(request_records(params)))
    mlflow, folder = _log_mlflow(mlflow_dir, result, stack, console)
    if folder is not None:
        v1 = (Path(folder) / "model.pkl").read_bytes()  # the pickle MLflow wrote (cloudpickle)
    home = workdir / "passline"
    prepare_passline(home, v1, v2, table)
    token = make_token(settings_for(home))
    servers = start_servers(stack, home, mlflow_dir, folder, params, result, console)
    route = f"/v1/models/{MODEL}@{ALIAS}/predict"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    targets: list[HttpTarget] = []
    for server in servers:
        if server.key == "mlflow":
            target = HttpTarget(server, "/invocations", "/ping", headers, "dataframe_records")
        else:
            target = HttpTarget(server, route, "/v1/health", headers, "records")
        stack.callback(target.close)
        targets.append(target)
    local = InProcess(home, token, f"{MODEL}@{ALIAS}")
    stack.callback(local.close)
    return Opened(targets, local, mlflow)


def _log_mlflow(
    folder: Path, result: ServingResult, stack: ExitStack, console: Console
) -> tuple[MlflowSide | None, str | None]:
    """The MLflow worker, once it has logged the model; (None, None) when MLflow is missing."""
    try:
        ensure_peers_venv(console)
        console.log("serving: mlflow.sklearn.log_model in the peers' environment")
        side = MlflowSide(folder, folder / "v1.pkl", folder / "records.json")
        stack.callback(side.close)
        hello = side.hello()
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        result.skipped["mlflow"] = f"MLflow could not log the model: {exc}"
        console.log(f"serving: MLflow skipped ({exc})")
        return None, None
    result.versions.update(
        mlflow=hello["mlflow"],
        mlflow_env_sklearn=hello["sklearn"],
        mlflow_env_pandas=hello["pandas"],
    )
    result.startup_s["mlflow_log_model"] = hello["log_model_s"]
    result.mlflow_env = {k: hello[k] for k in ("uvloop", "httptools", "model_uri")}
    return side, str(hello["folder"])


def start_servers(
    stack: ExitStack,
    home: Path,
    mlflow_dir: Path,
    model_folder: str | None,
    params: ServingParams,
    result: ServingResult,
    console: Console,
) -> list[Server]:
    """Start them all at once (start-up overlaps), then wait for each to answer."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    wanted: list[tuple[str, list[str], dict[str, str], str]] = []
    for key, workers in (("passline", 1), ("passline_w2", 2)):
        if workers == 2 and not params.workers2:
            continue
        port = _free_port()
        wanted.append((key, passline_command(home, port, workers), env, str(port)))
    if model_folder is not None:
        port = _free_port()
        wanted.append(("mlflow", mlflow_command(model_folder, port), _mlflow_env(), str(port)))
    began = time.perf_counter()
    servers = [
        stack.enter_context(server_group(key, command, mlflow_dir, server_env, int(port)))
        for key, command, server_env, port in wanted
    ]
    console.log(f"serving: started {', '.join(s.key for s in servers)}; waiting for them")
    for server in servers:
        wait_ready(server, "/ping" if server.key == "mlflow" else "/v1/health")
        result.startup_s[server.key] = time.perf_counter() - began
    return [s for key in SERVERS for s in servers if s.key == key]


def measure(opened: Opened, params: ServingParams, result: ServingResult, console: Console) -> None:
    """Warm up, check the predictions agree, then each phase slice by slice, in turns."""
    records = request_records(params)
    one, batch = records[:1], records[: params.batch_rows]
    targets, sides = opened.targets, opened.in_process()
    expected = opened.local.predictions(batch)
    for target in targets:
        result.agree[target.key] = target.predictions(batch) == expected
        target.load("warmup", target.body(one), 1, params.warmup, 1)
        target.load("warmup", target.body(one), 1, params.warmup, params.concurrency)
    for side in sides:
        side.measure(one, params.warmup, keep=False)
    slices = list(range(params.slices))
    everyone: list[Any] = [*targets, *sides]

    def latency(who: Any, _: int) -> None:
        count = params.latency_requests // params.slices
        if isinstance(who, HttpTarget):
            who.load("latency", who.body(one), 1, count, 1)
        else:
            who.measure(one, count)

    def batches(who: Any, _: int) -> None:
        count = params.batch_requests // params.slices
        if isinstance(who, HttpTarget):
            who.load("batch", who.body(batch), len(batch), count, 1)
        else:
            who.measure(batch, count)

    def throughput(who: HttpTarget, _: int) -> None:
        count = params.throughput_requests // params.slices
        who.load("throughput", who.body(one), 1, count, params.concurrency)

    def health(who: HttpTarget, _: int) -> None:
        who.load("health", None, 0, params.health_requests // params.slices, 1)

    console.log(f"serving: {params.latency_requests:,} single-row requests each, concurrency 1")
    take_turns(everyone, slices, latency)
    console.log(f"serving: {params.batch_requests:,} requests of {len(batch)} rows each")
    take_turns(everyone, slices, batches)
    console.log(
        f"serving: {params.throughput_requests:,} single-row requests each, "
        f"concurrency {params.concurrency}"
    )
    take_turns(targets, slices, throughput)
    console.log("serving: the HTTP floor (GET the health route)")
    take_turns(targets, slices, health)
    result.servers = {t.key: {k: p for k, p in t.phases.items() if k != "warmup"} for t in targets}
    result.in_process, result.in_process_cpu_s = opened.local.samples, opened.local.cpu_s
    if opened.mlflow is not None:
        result.mlflow_in_process = opened.mlflow.samples
        result.mlflow_in_process_cpu_s = opened.mlflow.cpu_s


# --- tables ----------------------------------------------------------------------------------


def serving_tables(result: ServingResult) -> Group:
    parts: list[Table | str] = [_main_table(result), _path_table(result), _swap_table(result)]
    if result.skipped:
        skipped = "; ".join(f"{k}: {why}" for k, why in result.skipped.items())
        parts.append(f"[yellow]Skipped[/yellow] {escape(skipped)}")
    if result.profile:
        parts.append(_profile_table(result))
    parts += [f"[dim]Note:[/dim] {escape(note)}" for note in result.notes]
    return Group(*parts)


def _ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(phase: Phase | None, key: str) -> float | None:
    found = percentiles_ms(phase.latencies) if phase else None
    return found[key] if found else None


def _main_table(result: ServingResult) -> Table:
    params = result.params
    table = Table(
        title=f"Serving one scikit-learn pipeline: {params.latency_requests:,} single-row "
        f"requests at concurrency 1, {params.throughput_requests:,} at concurrency "
        f"{params.concurrency}, {params.batch_requests:,} of {params.batch_rows} rows",
        caption="Same pickle, same bodies, same client (httpx, keep-alive). Passline's "
        "prediction log (Parquet + per-minute summaries) is on. x MLflow: Passline's rate over "
        "MLflow's, or MLflow's latency over Passline's. The --workers 2 column is for "
        "information: the goals compare one worker with one worker.",
    )
    table.add_column("measure")
    table.add_column("in-process", justify="right")
    for key in SERVERS:
        table.add_column(SERVERS[key], justify="right")
    table.add_column("x MLflow (1 worker)", justify="right")
    table.add_column("goal", justify="right")
    for row in _main_rows(result):
        table.add_row(*row)
    return table


# A row: label, in-process cell, phase, the server's cell, the figure compared, higher is better.
_RowSpec = tuple[str, str, str, Callable[[Phase], str], Callable[[Phase], float | None], bool]


def _main_rows(result: ServingResult) -> list[list[str]]:
    params, goals = result.params, result.goals()
    batch, c = params.batch_rows, params.concurrency
    base1, base_batch = (result.in_process_p50_ms("records", r) for r in (1, batch))
    p50, p99 = _cut("p50"), _cut("p99")
    specs: list[_RowSpec] = [
        ("1 row, c=1: p50 ms", _ms(base1, 3), "latency", _text(p50), p50, False),
        (
            "1 row, c=1: p99 ms",
            _ms(_in_pct(result, "records", 1, "p99"), 3),
            "latency",
            _text(p99),
            p99,
            False,
        ),
        (
            "1 row, c=1: requests/s",
            rate(1000 / base1 if base1 else None),
            "latency",
            _text(Phase.per_s, rate),
            Phase.per_s,
            True,
        ),
        (
            f"1 row, c={c}: requests/s",
            "",
            "throughput",
            _text(Phase.per_s, rate),
            Phase.per_s,
            True,
        ),
        (f"1 row, c={c}: p50 / p99 ms", "", "throughput", _both, p50, False),
        (
            f"server CPU ms per request, c={c}",
            "",
            "throughput",
            _text(Phase.cpu_ms_per_request),
            Phase.cpu_ms_per_request,
            False,
        ),
        (
            f"{batch} rows, c=1: p50 / p99 ms",
            f"{_ms(base_batch)} / {_ms(_in_pct(result, 'records', batch, 'p99'))}",
            "batch",
            _both,
            p50,
            False,
        ),
        (
            f"{batch} rows, c=1: rows/s",
            rate(batch * 1000 / base_batch if base_batch else None),
            "batch",
            _text(Phase.rows_per_s, rate),
            Phase.rows_per_s,
            True,
        ),
        ("HTTP floor: GET the health route, p50 ms", "", "health", _text(p50), p50, False),
    ]
    rows = [
        [label, inside, *_cells(result, name, text), _versus(result, name, figure, higher), ""]
        for label, inside, name, text, figure, higher in specs
    ]
    added = [_ms(result.added_p50_ms(k)) if k in result.servers else "-" for k in SERVERS]
    goal = f"< {GOAL_ADDED_P50_MS:g} ms {verdict(goals['added_p50_under_1ms'])}"
    rows.insert(2, ["added p50 over in-process, ms", "", *added, "", goal])
    rows[4][-1] = f">= {GOAL_THROUGHPUT_X:g}x {verdict(goals['throughput_3x_mlflow'])}"
    failures = [
        str(sum(ph.failures for ph in result.servers[k].values())) if k in result.servers else "-"
        for k in SERVERS
    ]
    return [*rows, ["failed requests", "", *failures, "", ""]]


def _cut(key: str) -> Callable[[Phase], float | None]:
    return lambda phase: _pct(phase, key)


def _text(
    figure: Callable[[Phase], float | None], fmt: Callable[[float | None], str] = _ms
) -> Callable[[Phase], str]:
    return lambda phase: fmt(figure(phase))


def _both(phase: Phase) -> str:
    return f"{_ms(_pct(phase, 'p50'))} / {_ms(_pct(phase, 'p99'))}"


def _cells(result: ServingResult, name: str, text: Callable[[Phase], str]) -> list[str]:
    return [text(p) if (p := result.phase(k, name)) else "-" for k in SERVERS]


def _versus(
    result: ServingResult, name: str, figure: Callable[[Phase], float | None], higher: bool
) -> str:
    """Passline (1 worker) against MLflow: its rate over theirs, or their time over its."""
    ours, theirs = result.phase("passline", name), result.phase("mlflow", name)
    a, b = (figure(ours) if ours else None), (figure(theirs) if theirs else None)
    if not a or not b:
        return "-"
    return ratio(a / b if higher else b / a)


def _in_pct(
    result: ServingResult, key: str, rows: int, cut: str, mlflow: bool = False
) -> float | None:
    samples = result.mlflow_in_process if mlflow else result.in_process
    found = percentiles_ms(samples.get(key, {}).get(rows, []))
    return found[cut] if found else None


def _path_table(result: ServingResult) -> Table:
    rows = result.params.batch_rows
    table = Table(
        title="Where the time goes: the same requests in-process and over HTTP (ms)",
        caption="Passline's request path in-process is Gateway.answer, what the route runs in "
        "its worker thread (token, route, parse and check, to_pandas, predict, the log record "
        "and the metrics), and the JSON answer, without HTTP. Over HTTP adds the client, the "
        "socket, uvicorn and FastAPI. CPU: the calling thread's CPU time per call in-process; "
        "the server's whole process group per request over HTTP (event loop, worker thread, "
        "log writer). CPU time moves less than latency when neighbours load the machine. "
        "MLflow's in-process rows run in a worker of its environment, in turns with the others.",
    )
    table.add_column("environment")
    table.add_column("step")
    for n in (1, rows):
        for name in ("p50", "p99", "CPU"):
            table.add_column(f"{n} row{'s' if n > 1 else ''} {name}", justify="right")
    for mlflow, labels in ((False, IN_PROCESS), (True, PEERS_IN_PROCESS)):
        for key, label in labels.items():
            cells = [
                _ms(
                    _in_pct(result, key, n, c, mlflow)
                    if c
                    else result.in_process_cpu_ms(key, n, mlflow),
                    3,
                )
                for n in (1, rows)
                for c in ("p50", "p99", None)
            ]
            table.add_row(_environment(result, mlflow), label, *cells)
    for key in ("passline", "mlflow"):
        phases = result.phase(key, "latency"), result.phase(key, "batch")
        cells = [
            _ms(_pct(phase, c) if c else (phase.cpu_ms_per_request() if phase else None), 3)
            for phase in phases
            for c in ("p50", "p99", None)
        ]
        table.add_row(_environment(result, key == "mlflow"), f"{SERVERS[key]} over HTTP", *cells)
    return table


def _environment(result: ServingResult, mlflow: bool) -> str:
    if mlflow:
        return f"MLflow's (pandas {result.versions.get('mlflow_env_pandas', '?')})"
    return f"Passline's (pandas {result.versions.get('pandas', '?')})"


def _swap_table(result: ServingResult) -> Table:
    params = result.params
    table = Table(
        title=f"Hot swap: {params.moves} alias moves (SDK set_alias, v1 <-> v2) every "
        f"{params.move_interval_s:g} s under steady single-row load",
        caption="Seen: from the move's return to the first answer from the new version; "
        "last old: to the last answer from the old version to a request sent after the move "
        "(every worker has switched by then). The gateway re-reads routes older than 1 s.",
    )
    for name in ("gateway", "requests", "failed", "move call p50 ms", "seen p50 / max ms"):
        table.add_column(name, justify="left" if name == "gateway" else "right")
    table.add_column("last old p50 / max ms", justify="right")
    table.add_column("zero failures", justify="right")
    for key, swap in result.swap.items():
        data = swap.to_json()
        seen, old = data["first_new_ms"], data["last_old_ms"]
        calls = [m.call_ms for m in swap.moves]
        table.add_row(
            SERVERS[key],
            f"{swap.requests:,}",
            str(swap.failures),
            _ms(statistics.median(calls) if calls else None, 1),
            f"{seen['p50']:.0f} / {seen['max']:.0f}" if seen else "-",
            f"{old['p50']:.0f} / {old['max']:.0f}" if old else "-",
            verdict(swap.failures == 0),
        )
    return table


def _profile_table(result: ServingResult) -> Table:
    table = Table(
        title=f"Profile of Passline's request path in-process, {result.params.profile_calls:,} "
        "single-row requests (cProfile)",
        caption="The server runs the same functions behind uvicorn and three thread hops.",
    )
    for column in ("view", "function", "calls", "own s", "cumulative s"):
        table.add_column(column, justify="left" if column in ("view", "function") else "right")
    for row in result.profile:
        table.add_row(
            row["view"],
            escape(row["function"]),
            f"{row['calls']:,}",
            f"{row['own_s']:.3f}",
            f"{row['cumulative_s']:.3f}",
        )
    return table


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    """The entry ``python -m bench --only serving`` calls."""
    result = run(QUICK if quick else FULL, console)
    return serving_tables(result), result.to_json()
