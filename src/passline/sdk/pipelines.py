"""Pipelines from Python: ``client.pipelines``.

    >>> from myproject.pipelines import retrain
    >>> run = client.pipelines.run(retrain, executor="ray")
    >>> run.status, run.cache_hits, run.outputs["models"]
    >>> client.pipelines.add_trigger("retail/retrain", "alert", "retail/forecast-drift")

Steps run where the workspace is: embedded, :meth:`PipelinesAPI.run` executes them in this
process's executor and records as it goes. Over HTTP the run is queued for the server's
scheduler (which loads the pipeline from the source it recorded) and followed until done.
"""

from __future__ import annotations

import time
from typing import Any

from passline.core.pipelines import PipelineInfo, PipelineRun, PipelineTrigger
from passline.errors import InvalidInput
from passline.sdk.tracking import _Namespace

__all__ = ["PipelinesAPI"]

POLL_S = 0.5


class PipelinesAPI(_Namespace):
    """Pipeline runs, their steps and triggers; reached as ``client.pipelines``."""

    def _local(self) -> Any:
        from passline.sdk.transports import LocalTransport

        transport = self._client.transport
        return transport.services if isinstance(transport, LocalTransport) else None

    def run(
        self,
        pipeline: Any,
        params: dict[str, Any] | None = None,
        executor: str = "local",
        progress: Any = None,
        wait: bool = True,
    ) -> PipelineRun:
        """Run a :class:`~passline.pipelines.Pipeline` (or its source ``file.py:name``, or
        the ``project/name`` of a recorded one); the finished run."""
        services = self._local()
        if services is not None:
            from passline.pipelines.runner import run_pipeline

            return run_pipeline(
                services, _load(services, pipeline), params, executor=executor, progress=progress
            )
        ref = _ref(pipeline)
        queued = self._call(
            "pipelines.enqueue", PipelineRun, ref=ref, params=params or {}, executor=executor
        )
        return self.follow(queued.id) if wait else queued

    def follow(self, run_id: str, timeout_s: float = 3600) -> PipelineRun:
        """Poll a run until it has finished (or ``timeout_s`` passes); the last state."""
        deadline = time.monotonic() + timeout_s
        run = self.get_run(run_id)
        while run.status not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(POLL_S)
            run = self.get_run(run_id)
        return run

    def list(self, project: str) -> list[PipelineInfo]:
        return self._call("pipelines.list", list[PipelineInfo], project=project)  # type: ignore[no-any-return]

    def get(self, ref: str) -> PipelineInfo:
        return self._call("pipelines.get", PipelineInfo, ref=ref)  # type: ignore[no-any-return]

    def runs(self, ref: str, limit: int = 50, status: str | None = None) -> list[PipelineRun]:
        """Newest runs of ``project/name``, or of every pipeline of ``project``."""
        return self._call("pipelines.runs", list[PipelineRun], ref=ref, limit=limit, status=status)  # type: ignore[no-any-return]

    def get_run(self, run_id: str) -> PipelineRun:
        return self._call("pipelines.run", PipelineRun, run_id=run_id)  # type: ignore[no-any-return]

    def enqueue(
        self, ref: str, params: dict[str, Any] | None = None, executor: str = "local"
    ) -> PipelineRun:
        """Queue a run of a recorded pipeline for the scheduler."""
        return self._call(
            "pipelines.enqueue",
            PipelineRun,
            ref=ref,
            params=params or {},  # type: ignore[no-any-return]
            executor=executor,
        )

    def add_trigger(
        self,
        ref: str,
        kind: str,
        target: str,
        params: dict[str, Any] | None = None,
        executor: str = "local",
    ) -> PipelineTrigger:
        """``kind`` is ``schedule`` (target: cron), ``dataset`` (target: project/dataset) or
        ``alert`` (target: project/monitor)."""
        return self._call(
            "pipelines.add_trigger",
            PipelineTrigger,
            ref=ref,
            kind=kind,  # type: ignore[no-any-return]
            target=target,
            params=params or {},
            executor=executor,
        )

    def triggers(self, project: str) -> list[PipelineTrigger]:
        return self._call("pipelines.triggers", list[PipelineTrigger], project=project)  # type: ignore[no-any-return]

    def remove_trigger(self, trigger_id: str) -> None:
        self._call("pipelines.remove_trigger", None, trigger_id=trigger_id)

    def score(
        self,
        dataset: str,
        model: str,
        output: str | None = None,
        executor: str = "local",
        chunk_rows: int = 500_000,
        progress: Any = None,
    ) -> dict[str, Any]:
        """Score a dataset version with ``project/model@alias`` in chunks on the executor;
        with ``output``, store the rows and scores as a new dataset version (embedded)."""
        from passline.pipelines.batch import score_dataset

        return score_dataset(
            self._embedded("batch scoring"),
            dataset,
            model,
            output=output,
            executor=executor,
            chunk_rows=chunk_rows,
            progress=progress,
        )

    def drift(
        self,
        reference: str,
        current: str,
        columns: list[str] | None = None,
        executor: str = "local",
        chunk_rows: int = 500_000,
    ) -> dict[str, Any]:
        """Drift of ``current`` against ``reference`` (dataset versions), profiled in chunks
        on the executor (embedded)."""
        from passline.pipelines.batch import chunked_drift

        return chunked_drift(
            self._embedded("chunked drift"),
            reference,
            current,
            columns=columns,
            executor=executor,
            chunk_rows=chunk_rows,
        )

    def _embedded(self, what: str) -> Any:
        services = self._local()
        if services is None:
            raise InvalidInput(
                f"{what.capitalize()} runs where the data is: use an embedded client "
                "(no --url) on a machine with the workspace's settings."
            )
        return services

    def run_queued(self) -> list[tuple[str, str]]:
        """Run what triggers and schedules queued (embedded only; a server does it itself)."""
        services = self._local()
        if services is None:
            raise InvalidInput("A server runs its queue itself; run_queued is for embedded mode.")
        from passline.pipelines.worker import run_queued

        return run_queued(services.workspace)


def _load(services: Any, pipeline: Any) -> Any:
    from passline.pipelines.dsl import Pipeline
    from passline.pipelines.loader import load_pipeline

    if isinstance(pipeline, Pipeline):
        return pipeline
    if ":" in str(pipeline):
        return load_pipeline(str(pipeline))
    recorded = services.pipelines.get(str(pipeline))
    if not recorded.source:
        raise InvalidInput(f"Pipeline {pipeline} has no recorded source to load it from.")
    return load_pipeline(recorded.source)


def _ref(pipeline: Any) -> str:
    from passline.pipelines.dsl import Pipeline

    if isinstance(pipeline, Pipeline):
        return f"{pipeline.project}/{pipeline.name}"
    if ":" in str(pipeline):
        raise InvalidInput(
            "Over HTTP, name a pipeline the server has recorded (project/name): the server "
            "loads its code from the source it recorded at its first run.",
        )
    return str(pipeline)
