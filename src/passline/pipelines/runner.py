"""Running a pipeline: cache lookups, steps on an executor, and the platform records.

Each step's cache key hashes its code, its parameters and the digests of what it takes
(dataset version ids, upstream outputs' bytes). A step whose key is in the cache is not
run: its output's digest is enough for the steps after it, so a rerun of an unchanged
pipeline reads no bytes at all. A step that fails after its retries fails the run with
its traceback; steps already finished keep their cached outputs, so the next run starts
where this one stopped.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from passline.core.clock import utcnow
from passline.core.pipelines import PipelineRun
from passline.errors import InvalidInput, PasslineError
from passline.pipelines.dsl import Pipeline, Step, jsonable
from passline.pipelines.executors import Executor, StepTask, TaskResult, open_executor
from passline.pipelines.types import decode
from passline.services.workspace import Services

__all__ = ["PipelineRunner", "StepEvent", "run_pipeline"]


@dataclass
class StepEvent:
    """What the progress display is told: a step changed state."""

    step: str
    status: str  # running cached succeeded failed skipped retrying
    done: int
    total: int
    detail: str = ""


Progress = Callable[[StepEvent], None]


@dataclass
class _State:
    order: list[str]
    digests: dict[str, str] = field(default_factory=dict)  # step -> output digest
    kinds: dict[str, str] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    pending_records: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None

    @property
    def done(self) -> int:
        return sum(s in ("cached", "succeeded") for s in self.status.values())


class PipelineRunner:
    """Runs pipelines for one caller on one executor."""

    def __init__(
        self, services: Services, executor: Executor, progress: Progress | None = None
    ) -> None:
        self.svc = services
        self.executor = executor
        self.progress = progress or (lambda event: None)
        self._lock = threading.Lock()

    def run(
        self,
        pipeline: Pipeline,
        params: dict[str, Any] | None = None,
        *,
        trigger: dict[str, Any] | None = None,
        code: dict[str, Any] | None = None,
        environment: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> PipelineRun:
        """Run it; the finished run's record (check its ``status``)."""
        params = {**pipeline.params, **(params or {})}
        order = pipeline.check()  # a cycle or an unwired parameter fails before any record
        known = _param_names(pipeline)
        unknown = sorted(set(params) - known)
        if unknown:
            raise InvalidInput(
                f"Pipeline {pipeline.name!r} has no parameter {unknown[0]!r}.",
                hint=f"Its parameters: {', '.join(sorted(known)) or 'none'}.",
            )
        inputs = self._resolve_inputs(pipeline)
        ref = f"{pipeline.project}/{pipeline.name}"
        self.svc.pipelines.save(
            pipeline.project,
            pipeline.name,
            pipeline.definition(),
            pipeline.source,
            pipeline.description,
        )
        steps = [{"name": n, "kind": pipeline.by_name[n].output_kind} for n in order]
        run = self.svc.pipelines.start_run(
            ref,
            self.executor.name,
            steps,
            params=jsonable(params),
            inputs=inputs,
            code=code or {},
            environment=environment or {},
            trigger=trigger,
            run_id=run_id,
        )
        state = _State(order)
        try:
            self._execute(pipeline, run, params, inputs, state)
        finally:
            self._flush(run, state)
        if state.failure:
            self.svc.pipelines.finish_run(run, "failed", error=state.failure)
        else:
            self._publish(pipeline, run, params, inputs, state)
        return self.svc.pipelines.run(run)

    # -- inputs --------------------------------------------------------------------------

    def _resolve_inputs(self, pipeline: Pipeline) -> dict[str, dict[str, Any]]:
        """Each dataset input at its version now (``@vN`` pins one); unknown ones fail here."""
        resolved = {}
        for name, ref in pipeline.inputs.items():
            version = self.svc.datasets.version(ref)
            resolved[name] = {"ref": version.label, "id": version.id}
        return resolved

    # -- scheduling ----------------------------------------------------------------------

    def _execute(
        self,
        pipeline: Pipeline,
        run: str,
        params: dict[str, Any],
        inputs: dict[str, dict[str, Any]],
        state: _State,
    ) -> None:
        remaining = list(state.order)
        running: dict[Future[TaskResult | None], str] = {}
        with ThreadPoolExecutor(self.executor.slots, thread_name_prefix="passline-step") as pool:
            while remaining or running:
                for name in self._ready(pipeline, remaining, state):
                    remaining.remove(name)
                    if state.failure:
                        self._set(run, state, name, "skipped")
                        continue
                    future = self._start(
                        pipeline, run, pipeline.by_name[name], params, inputs, state, pool
                    )
                    if future is not None:
                        running[future] = name
                if not running:
                    if remaining and not self._ready(pipeline, remaining, state):
                        for name in remaining:
                            self._set(run, state, name, "skipped")
                        remaining.clear()
                    continue
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    future.result()

    def _ready(self, pipeline: Pipeline, remaining: list[str], state: _State) -> list[str]:
        """Steps whose upstream steps have all ended (a failed one makes them skip)."""
        ended = {
            n for n, s in state.status.items() if s in ("cached", "succeeded", "failed", "skipped")
        }
        return [n for n in remaining if set(pipeline.upstream(pipeline.by_name[n])) <= ended]

    def _start(
        self,
        pipeline: Pipeline,
        run: str,
        item: Step,
        params: dict[str, Any],
        inputs: dict[str, dict[str, Any]],
        state: _State,
        pool: ThreadPoolExecutor,
    ) -> Future[TaskResult | None] | None:
        if any(
            state.status.get(up) != "succeeded" and state.status.get(up) != "cached"
            for up in pipeline.upstream(item)
        ):
            self._set(run, state, item.name, "skipped")
            return None
        step_params = pipeline.step_params(item, params)
        key = _cache_key(item, step_params, _input_digests(pipeline, item, inputs, state))
        hit = self.svc.pipelines.cached(pipeline.project, [key]).get(key) if item.cache else None
        if hit is not None and hit["kind"] == item.output_kind:
            state.digests[item.name], state.kinds[item.name] = hit["digest"], hit["kind"]
            self._set(
                run,
                state,
                item.name,
                "cached",
                cache_key=key,
                output_digest=hit["digest"],
                output_size=hit["size"],
                duration_ms=0.0,
            )
            return None
        self._set(run, state, item.name, "running", cache_key=key, started_at=utcnow())
        self._flush(run, state)
        return pool.submit(self._attempts, pipeline, run, item, step_params, inputs, key, state)

    def _attempts(
        self,
        pipeline: Pipeline,
        run: str,
        item: Step,
        step_params: dict[str, Any],
        inputs: dict[str, dict[str, Any]],
        key: str,
        state: _State,
    ) -> TaskResult | None:
        task = StepTask(
            item.name,
            _function_bytes(item),
            self._task_inputs(pipeline, item, inputs, state),
            dict(step_params),
            item.output_kind,
        )
        started = time.perf_counter()
        result = TaskResult(False, error="not run")
        for attempt in range(1, item.retries + 2):
            result = self.executor.run(task, item.timeout_s)
            if result.ok or not result.retryable or attempt > item.retries:
                break
            self.progress(
                StepEvent(
                    item.name, "retrying", state.done, len(state.order), f"attempt {attempt} failed"
                )
            )
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        if not result.ok:
            with self._lock:
                state.failure = state.failure or f"Step {item.name!r} failed:\n{result.error}"
                self._set(
                    run,
                    state,
                    item.name,
                    "failed",
                    attempts=attempt,
                    duration_ms=elapsed,
                    error=result.error[-20_000:],
                )
            return result
        blob = self.svc.workspace.blobs.put_stream(io.BytesIO(result.data))
        entry = {"digest": blob.digest, "kind": item.output_kind, "size": len(result.data)}
        if item.cache:
            self.svc.pipelines.remember(pipeline.project, run, item.name, key, entry)
        with self._lock:
            state.digests[item.name], state.kinds[item.name] = blob.digest, item.output_kind
            self._set(
                run,
                state,
                item.name,
                "succeeded",
                attempts=attempt,
                duration_ms=elapsed,
                output_digest=blob.digest,
                output_size=len(result.data),
            )
        self._flush(run, state)
        return result

    def _task_inputs(
        self, pipeline: Pipeline, item: Step, inputs: dict[str, dict[str, Any]], state: _State
    ) -> dict[str, tuple[str, bytes]]:
        values: dict[str, tuple[str, bytes]] = {}
        for name in item.parameters:
            if name in pipeline.by_name:
                values[name] = (state.kinds[name], self._bytes(state.digests[name]))
            elif name in inputs:
                values[name] = ("dataset", self._dataset_bytes(inputs[name]["ref"]))
        return values

    def _bytes(self, blob_digest: str) -> bytes:
        return b"".join(self.svc.workspace.blobs.iter_verified(blob_digest))

    def _dataset_bytes(self, ref: str) -> bytes:
        from passline.pipelines.types import encode

        return encode(ref, "dataset", self.svc.datasets.read(ref))

    # -- recording -------------------------------------------------------------------------

    def _set(self, run: str, state: _State, step: str, status: str, **values: Any) -> None:
        state.status[step] = status
        state.pending_records.append({"step": step, "status": status, **values})
        self.progress(StepEvent(step, status, state.done, len(state.order)))

    def _flush(self, run: str, state: _State) -> None:
        with self._lock:
            changes, state.pending_records = state.pending_records, []
        self.svc.pipelines.record_steps(run, changes)

    def _publish(
        self,
        pipeline: Pipeline,
        run: str,
        params: dict[str, Any],
        inputs: dict[str, dict[str, Any]],
        state: _State,
    ) -> None:
        """The run's results on the platform: a tracking run (params, metrics, datasets in),
        registered model versions, and releases into the pipeline's environments."""
        try:
            outputs, produced, tracking_run = _Publisher(self, pipeline, run).publish(
                params, inputs, state
            )
        except PasslineError as exc:
            self.svc.pipelines.finish_run(run, "failed", error=f"Publishing failed: {exc}")
            return
        self.svc.pipelines.finish_run(
            run, "succeeded", outputs=outputs, produced=produced, tracking_run_id=tracking_run
        )


class _Publisher:
    def __init__(self, runner: PipelineRunner, pipeline: Pipeline, run: str) -> None:
        self.runner, self.svc, self.pipeline, self.run = runner, runner.svc, pipeline, run

    def publish(
        self, params: dict[str, Any], inputs: dict[str, dict[str, Any]], state: _State
    ) -> tuple[dict[str, Any], list[str], str]:
        tracking = self.svc.tracking
        experiment = tracking.ensure_experiment(
            self.pipeline.project, f"pipeline-{self.pipeline.name}"
        )
        tracked = tracking.start_run(
            experiment.id,
            name=f"{self.pipeline.name}-{self.run[-8:].lower()}",
            entry_point=f"pipeline {self.pipeline.name}",
            tags={"passline.pipeline_run": self.run},
        )
        for spec in inputs.values():
            tracking.log_input(tracked.id, spec["ref"])
        tracking.log_params(tracked.id, {k: _short(v) for k, v in params.items()})
        metrics = self._metrics(state)
        if metrics:
            tracking.log_metrics(tracked.id, [{"key": k, "value": v} for k, v in metrics.items()])
        models = [
            self._register(tracked.id, step, model, state)
            for step, model in self.pipeline.register.items()
        ]
        tracking.end_run(tracked.id)
        releases = [r for m in models for r in self._releases(m)]
        produced = [f"model_version:{m['version_id']}" for m in models]
        outputs = {"metrics": metrics, "models": models, "releases": releases}
        return outputs, produced, tracked.id

    def _metrics(self, state: _State) -> dict[str, float]:
        found: dict[str, float] = {}
        for step in state.order:
            if state.kinds.get(step) == "metrics":
                found.update(decode("metrics", self.runner._bytes(state.digests[step])))
        return found

    def _register(self, tracked: str, step: str, model: str, state: _State) -> dict[str, Any]:
        """Register the step's model, unless an earlier run registered these same bytes."""
        output = state.digests[step]
        ref = f"{self.pipeline.project}/{self.pipeline.name}"
        earlier = self.svc.pipelines.registered_by_digest(ref, output)
        if earlier is not None:
            return {**earlier, "new": False}
        data = self.runner._bytes(output)
        self.svc.tracking.log_artifact(tracked, "model/model.pkl", io.BytesIO(data))
        version = self.svc.registry.register(model, f"runs:/{tracked}/model")
        return {
            "model": model,
            "version": version.version,
            "version_id": version.id,
            "digest": output,
            "step": step,
            "new": True,
        }

    def _releases(self, model: dict[str, Any]) -> list[dict[str, Any]]:
        """Along ``release_to`` until one is refused (the next would need it)."""
        done: list[dict[str, Any]] = []
        for environment in self.pipeline.release_to:
            done.append(self._release(model, environment))
            if done[-1]["status"] == "refused":
                break
        return done

    def _release(self, model: dict[str, Any], environment: str) -> dict[str, Any]:
        """Release the version into ``environment`` through its gates; a refusal is an
        outcome of the run (recorded and shown), not a crash of it."""
        if _holds_version(self.svc, model, environment):
            return {
                "model": model["model"],
                "version": model["version"],
                "to": environment,
                "status": "unchanged",
                "message": f"{environment} holds it already",
            }
        try:
            release = self.svc.environments.release(
                model["model"], model["version"], environment, reason=f"pipeline run {self.run}"
            )
        except PasslineError as exc:
            return {
                "model": model["model"],
                "version": model["version"],
                "to": environment,
                "status": "refused",
                "message": exc.message,
            }
        return {
            "model": model["model"],
            "version": model["version"],
            "to": environment,
            "status": release.status,
            "release_id": release.id,
            "duration_ms": release.duration_ms,
        }


def _holds_version(svc: Services, model: dict[str, Any], environment: str) -> bool:
    try:
        return svc.registry.version(model["model"], environment).version == model["version"]
    except PasslineError:  # no alias of that name yet
        return False


def _function_bytes(item: Step) -> bytes:
    """The step's function by value: a worker (a fresh process, a Ray node) may not be able
    to import the user's module, and its code is what the cache key hashed anyway."""
    import sys

    import cloudpickle

    module = sys.modules.get(item.fn.__module__)
    if module is not None and not item.fn.__module__.startswith(("passline.", "__main__")):
        cloudpickle.register_pickle_by_value(module)
    return cloudpickle.dumps(item.fn)


def _param_names(pipeline: Pipeline) -> set[str]:
    taken = set(pipeline.by_name) | set(pipeline.inputs)
    return {p for s in pipeline.steps for p in s.parameters if p not in taken}


def _input_digests(
    pipeline: Pipeline, item: Step, inputs: dict[str, dict[str, Any]], state: _State
) -> dict[str, str]:
    found = {}
    for name in item.parameters:
        if name in pipeline.by_name:
            found[name] = state.digests[name]
        elif name in inputs:
            found[name] = f"dataset_version:{inputs[name]['id']}"
    return found


def _cache_key(item: Step, params: dict[str, Any], inputs: dict[str, str]) -> str:
    material = json.dumps(
        {
            "step": item.name,
            "code": item.code_hash,
            "kind": item.output_kind,
            "params": jsonable(params),
            "inputs": inputs,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _short(value: Any) -> str:
    return str(value)[:500]


def run_pipeline(
    services: Services,
    pipeline: Pipeline,
    params: dict[str, Any] | None = None,
    *,
    executor: str = "local",
    progress: Progress | None = None,
    trigger: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> PipelineRun:
    """Run ``pipeline`` on the named executor, recording code and environment."""
    from passline.sdk.capture import code_version

    settings = services.workspace.settings
    engine = open_executor(
        executor,
        workers=settings.pipeline_workers,
        ray_address=settings.ray_address,
        ray_cpus=settings.ray_num_cpus,
    )
    try:
        code, _diff = code_version()
        return PipelineRunner(services, engine, progress).run(
            pipeline, params, trigger=trigger, code=code, environment=_environment(), run_id=run_id
        )
    finally:
        engine.close()


@functools.lru_cache(maxsize=1)
def _environment() -> dict[str, Any]:
    """Python, platform and a fingerprint of the installed packages, read once per process
    (reading every package's metadata takes half a second)."""
    from passline.sdk.capture import environment

    found = environment()
    return {
        "python": found["python"],
        "platform": found["platform"],
        "fingerprint": found.get("fingerprint"),
        "packages": len(found.get("packages", [])),
    }
