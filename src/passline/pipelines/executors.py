"""Where a step runs: local processes (the default) or a Ray cluster, behind one method.

A step travels as a :class:`StepTask`: the function (cloudpickled, so functions from a
script or a file the worker cannot import still arrive), its inputs as bytes and its
plain parameters. The worker decodes the inputs, calls the function and encodes the
output, so the bytes (and their digest) are made where the step ran. Both executors run
the same :func:`run_task`; switching to Ray changes nothing in the pipeline.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from passline.errors import InvalidInput, MissingExtra, PasslineError, Unavailable

__all__ = [
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "RayExecutor",
    "StepTask",
    "StreamWorker",
    "TaskResult",
    "open_executor",
    "run_task",
]


@dataclass
class StepTask:
    step: str
    function: bytes  # cloudpickle of the step's function
    inputs: dict[str, tuple[str, bytes]]  # parameter -> (kind, bytes)
    params: dict[str, Any]
    kind: str


@dataclass
class TaskResult:
    ok: bool
    data: bytes = b""
    error: str = ""
    retryable: bool = True  # a wrong output type fails the same way every time
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def run_task(task: StepTask) -> TaskResult:
    """Run one step where this function is called (a worker process or a Ray task)."""
    import cloudpickle

    from passline.pipelines.types import decode, encode

    started = time.perf_counter()
    try:
        fn = cloudpickle.loads(task.function)
        args = {name: decode(kind, data) for name, (kind, data) in task.inputs.items()}
        value = fn(**args, **task.params)
    except BaseException:  # noqa: BLE001 - the step's own failure, reported with its traceback
        return TaskResult(False, error=traceback.format_exc(), seconds=_since(started))
    try:
        data = encode(task.step, task.kind, value)
    except PasslineError as exc:
        return TaskResult(False, error=exc.message, retryable=False, seconds=_since(started))
    return TaskResult(True, data, seconds=_since(started), peak_rss_mb=_peak_rss_mb())


def _since(started: float) -> float:
    return time.perf_counter() - started


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Executor(ABC):
    """Runs one task to its end, or gives up after ``timeout_s``; thread-safe."""

    name: str = "executor"
    slots: int = 1  # how many tasks may run at once

    @abstractmethod
    def run(self, task: StepTask, timeout_s: float | None) -> TaskResult: ...

    def close(self) -> None:  # noqa: B027 - most executors hold nothing
        """Release what the executor holds."""


class LocalExecutor(Executor):
    """One fresh Python process per task, fed through its stdin and stdout.

    A process per task (not a pool) because a step that times out must be killed without
    taking other steps down, and a step that leaks memory returns it when it ends. A plain
    subprocess, not multiprocessing: the fork server and spawn re-run the caller's
    ``__main__``, so a script that runs a pipeline at its top level would start itself
    again in every worker.
    """

    name = "local"

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise InvalidInput(f"The number of local workers must be 1 or more. Got {workers}.")
        self.slots = workers

    def run(self, task: StepTask, timeout_s: float | None) -> TaskResult:
        started = time.perf_counter()
        try:
            result: TaskResult = call_in_subprocess(run_task, (task,), timeout_s)
        except TimeoutError:
            return TaskResult(False, error=_timeout(task.step, timeout_s), seconds=_since(started))
        except WorkerDied as exc:
            error = f"The worker running step {task.step!r} {exc}"
            return TaskResult(False, error=error, seconds=_since(started))
        return result


class InlineExecutor(Executor):
    """Steps in this process, one at a time: a breakpoint in a step stops there, and tests
    of a pipeline's logic skip the interpreter start of each step. Nothing can stop a step
    here, so timeouts are not enforced: use the local or Ray executor for that."""

    name = "inline"

    def run(self, task: StepTask, timeout_s: float | None) -> TaskResult:
        return run_task(task)


def _timeout(step: str, timeout_s: float | None) -> str:
    return f"Step {step!r} ran past its timeout of {timeout_s:g} s and was stopped."


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class WorkerDied(Exception):
    """The worker process ended without an answer (killed, out of memory, a crash)."""


def call_in_subprocess(fn: Any, args: tuple[Any, ...], timeout_s: float | None) -> Any:
    """``fn(*args)`` in a fresh interpreter; its return value. ``fn`` travels by value."""
    import cloudpickle

    payload = cloudpickle.dumps((fn, args))
    worker = subprocess.Popen(
        [sys.executable, "-c", "from passline.pipelines.executors import _serve; _serve()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        answer, errors = worker.communicate(payload, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        raise TimeoutError from None
    if worker.returncode != 0 or not answer:
        tail = errors.decode(errors="replace")[-2000:]
        raise WorkerDied(f"died (exit code {worker.returncode}), perhaps out of memory: {tail}")
    return pickle.loads(answer)


class StreamWorker:
    """A worker process that applies one function to items sent one at a time:
    ``fn(shared, item, columns)``. It holds one item at a time (memory bounded by a chunk,
    not by the data), and pays its interpreter start and its ``shared`` load once."""

    def __init__(self, fn: Any, shared: bytes, columns: list[str], threads: int = 1) -> None:
        import tempfile

        import cloudpickle

        env = {**os.environ, **{name: str(threads) for name in _THREAD_VARIABLES}}
        self._errors = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from passline.pipelines.executors import _serve_stream; _serve_stream()",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env=env,
        )
        self._send(cloudpickle.dumps((fn, shared, columns)))

    def call(self, item: bytes) -> Any:
        self._send(item)
        ok, value = pickle.loads(self._receive())
        if not ok:
            raise PasslineError(f"A worker failed on a chunk:\n{value}")
        return value

    def _send(self, data: bytes) -> None:
        stream = self._process.stdin
        assert stream is not None
        try:
            stream.write(len(data).to_bytes(8, "big") + data)
            stream.flush()
        except BrokenPipeError:
            raise self._died() from None

    def _receive(self) -> bytes:
        stream = self._process.stdout
        assert stream is not None
        size = stream.read(8)
        if len(size) < 8:
            raise self._died()
        return stream.read(int.from_bytes(size, "big"))

    def _died(self) -> PasslineError:
        self._process.wait(10)
        self._errors.seek(0)
        tail = self._errors.read().decode(errors="replace")[-2000:]
        return PasslineError(
            f"A worker died (exit code {self._process.returncode}), perhaps out of memory: {tail}"
        )

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._send(b"")
                self._process.wait(30)
            except (PasslineError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._errors):
            if stream is not None:
                stream.close()

    def __enter__(self) -> StreamWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve_stream() -> None:
    """The stream worker's side: a header (fn, shared, columns), then items until an empty
    one; each answered with (ok, value or traceback)."""
    import cloudpickle

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    source = sys.stdin.buffer

    def receive() -> bytes:
        size = int.from_bytes(source.read(8) or b"\0" * 8, "big")
        return source.read(size) if size else b""

    fn, shared, columns = cloudpickle.loads(receive())
    while item := receive():
        try:
            answer = (True, fn(shared, item, columns))
        except Exception:  # noqa: BLE001 - reported to the driver with its traceback
            answer = (False, traceback.format_exc())
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(len(data).to_bytes(8, "big") + data)
        answers.flush()
    sys.stdout.flush()
    os._exit(0)


def _serve() -> None:
    """The worker's side: read (fn, args), answer fn's result. The step's own prints go to
    stderr, so they cannot corrupt the answer on stdout."""
    import cloudpickle

    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    fn, args = cloudpickle.loads(sys.stdin.buffer.read())
    answer.write(pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL))
    answer.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: native thread pools (Arrow's, OpenMP's) sometimes
    # abort while being destroyed ("terminate called without an active exception"), which
    # would turn an answered task into a dead worker. Nothing is left to clean up here.
    os._exit(0)


class RayExecutor(Executor):
    """Tasks on a Ray cluster at ``address`` ("host:port" of ``ray start --head``), or on
    a local Ray instance with ``num_cpus`` when no address is given."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        ray = _import_ray()
        if address and address not in ("local", "auto"):
            _check_reachable(address)
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address and address != "local":
                options["address"] = address
            else:
                options["num_cpus"] = num_cpus or os.cpu_count() or 1
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError) as exc:
                raise Unavailable(
                    f"Could not connect to the Ray cluster at {address or 'a new local instance'}: "
                    f"{exc}",
                    hint="Start it with 'ray start --head' or fix PASSLINE_RAY_ADDRESS.",
                ) from None
        self._ray = ray
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(run_task)

    def run(self, task: StepTask, timeout_s: float | None) -> TaskResult:
        started = time.perf_counter()
        ref = self._remote.remote(task)
        try:
            return self._ray.get(ref, timeout=timeout_s)  # type: ignore[no-any-return]
        except self._ray.exceptions.GetTimeoutError:
            self._ray.cancel(ref, force=True)
            return TaskResult(False, error=_timeout(task.step, timeout_s), seconds=_since(started))
        except self._ray.exceptions.RayError as exc:
            return TaskResult(
                False, error=f"Ray lost step {task.step!r}: {exc}", seconds=_since(started)
            )


def _import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError:
        raise MissingExtra(
            "The Ray executor needs Ray.", hint="Install it: pip install 'passline[ray]'"
        ) from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail in seconds, before anything is recorded, when nothing listens at ``address``
    (ray.init itself retries for a minute and then raises a bare ConnectionError)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInput(
            f"A Ray address looks like 'host:port' (the head node's GCS port, 6379 by default). "
            f"Got {address!r} instead.",
            hint="Set PASSLINE_RAY_ADDRESS or pass --ray-address.",
        )
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise Unavailable(
            f"Cannot reach the Ray cluster at {address}: {exc.strerror or exc}. Nothing was run "
            "or recorded.",
            hint="Start it with 'ray start --head --port PORT', or fix PASSLINE_RAY_ADDRESS.",
        ) from None


def open_executor(
    name: str, *, workers: int = 2, ray_address: str | None = None, ray_cpus: int | None = None
) -> Executor:
    """The executor called ``name`` ("local" or "ray")."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(ray_address, ray_cpus)
    if name == "inline":
        return InlineExecutor()
    raise InvalidInput(f"The executor must be 'local', 'ray' or 'inline'. Got {name!r} instead.")
