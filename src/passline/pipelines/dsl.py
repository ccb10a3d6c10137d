"""Declaring a pipeline: steps are decorated functions, wired by their parameter names.

A parameter named after another step takes that step's output; one named in the
pipeline's ``inputs`` takes a dataset version from the platform; any other parameter is a
pipeline parameter (``params``, else the function's default). Annotations give the kinds
(``Dataset``, ``Model``, ``Metrics``, ``File``); the return annotation is checked at run time.

    @step
    def features(sales: Dataset) -> Dataset: ...

    @step(retries=2, timeout_s=600)
    def train(features: Dataset, n_estimators: int = 150) -> Model: ...

    retrain = Pipeline("retrain", project="retail-demand", steps=[features, train],
                       inputs={"sales": "retail-demand/sales"},
                       register={"train": "retail-demand/demand-forecast"})
"""

from __future__ import annotations

import graphlib
import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

from passline.errors import InvalidInput
from passline.pipelines.types import kind_of

__all__ = ["Pipeline", "Step", "step"]


@dataclass(frozen=True)
class Step:
    """One step: the function, how often to retry it and how long it may take."""

    fn: Callable[..., Any]
    name: str
    retries: int = 0
    timeout_s: float | None = None
    cache: bool = True

    @property
    def output_kind(self) -> str:
        kind = kind_of(inspect.signature(self.fn).return_annotation)
        if kind is None:
            raise InvalidInput(
                f"Step {self.name!r} must annotate what it returns: Dataset, Model, Metrics or "
                "File (from passline.pipelines).",
            )
        return kind

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(self.fn).parameters)

    @property
    def code_hash(self) -> str:
        """The function's source (its bytecode when the source cannot be read)."""
        try:
            code = textwrap.dedent(inspect.getsource(self.fn)).encode()
        except (OSError, TypeError):
            code = self.fn.__code__.co_code
        return hashlib.sha256(code).hexdigest()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@overload
def step(fn: Callable[..., Any]) -> Step: ...
@overload
def step(
    *, name: str | None = None, retries: int = 0, timeout_s: float | None = None, cache: bool = True
) -> Callable[[Callable[..., Any]], Step]: ...
def step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retries: int = 0,
    timeout_s: float | None = None,
    cache: bool = True,
) -> Any:
    """Make a function a pipeline step (``@step`` or ``@step(retries=2, timeout_s=60)``)."""
    if retries < 0:
        raise InvalidInput(f"A step's retries must be 0 or more. Got {retries} instead.")
    if timeout_s is not None and timeout_s <= 0:
        raise InvalidInput(f"A step's timeout_s must be positive. Got {timeout_s} instead.")

    def wrap(func: Callable[..., Any]) -> Step:
        return Step(func, name or func.__name__, retries, timeout_s, cache)

    return wrap(fn) if fn is not None else wrap


@dataclass
class Pipeline:
    """Steps and where their inputs come from; ``order()`` checks the graph."""

    name: str
    project: str
    steps: list[Step]
    inputs: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    register: dict[str, str] = field(default_factory=dict)
    release_to: list[str] = field(default_factory=list)
    description: str = ""
    source: str | None = None  # "module:attribute" or "path.py:attribute", set when loaded

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInput(f"Pipeline {self.name!r} has two steps named {twice[0]!r}.")
        for name in self.register:
            if name not in names:
                raise InvalidInput(
                    f"register names {name!r}, which is not a step of {self.name!r}."
                )

    @property
    def by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    def upstream(self, item: Step) -> list[str]:
        """The steps whose outputs ``item`` takes, in parameter order."""
        return [p for p in item.parameters if p in self.by_name]

    def edges(self) -> list[tuple[str, str]]:
        return [(up, s.name) for s in self.steps for up in self.upstream(s)]

    def order(self) -> list[str]:
        """The steps in an order that runs each after its inputs; a cycle is named."""
        graph = {s.name: set(self.upstream(s)) for s in self.steps}
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1]))
            raise InvalidInput(
                f"The steps of pipeline {self.name!r} form a cycle: {' -> '.join(cycle)}.",
                hint="A step cannot take, even indirectly, its own output; remove one link.",
            ) from None

    def check(self) -> list[str]:
        """The run order, after checking every parameter has a source and a kind."""
        order = self.order()
        for item in self.steps:
            item.output_kind  # noqa: B018 - raises when the annotation is missing
            for param in item.parameters.values():
                self._check_source(item, param)
        return order

    def _check_source(self, item: Step, param: inspect.Parameter) -> None:
        if param.name in self.by_name or param.name in self.inputs:
            return
        if param.name in self.params or param.default is not inspect.Parameter.empty:
            return
        raise InvalidInput(
            f"Parameter {param.name!r} of step {item.name!r} has no source: it is not a step, "
            f"an input ({', '.join(self.inputs) or 'none'}) or a parameter, and has no default.",
            hint="Add it to the pipeline's inputs or params, or give it a default.",
        )

    def step_params(self, item: Step, overrides: dict[str, Any]) -> dict[str, Any]:
        """The plain parameters ``item`` gets: overrides, then pipeline params, then defaults."""
        values: dict[str, Any] = {}
        for param in item.parameters.values():
            if param.name in self.by_name or param.name in self.inputs:
                continue
            if param.name in overrides:
                values[param.name] = overrides[param.name]
            elif param.name in self.params:
                values[param.name] = self.params[param.name]
            else:
                values[param.name] = param.default
        return values

    def definition(self) -> dict[str, Any]:
        """What is recorded of the pipeline: its steps, edges and platform links."""
        return {
            "steps": [
                {
                    "name": s.name,
                    "kind": s.output_kind,
                    "retries": s.retries,
                    "timeout_s": s.timeout_s,
                    "upstream": self.upstream(s),
                    "inputs": [p for p in s.parameters if p in self.inputs],
                }
                for s in self.steps
            ],
            "inputs": self.inputs,
            "register": self.register,
            "release_to": self.release_to,
            "params": jsonable(self.params),
            "source": self.source,
        }


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as JSON can hold them (anything else by its repr), keys sorted."""
    return json.loads(json.dumps(values, default=repr, sort_keys=True))  # type: ignore[no-any-return]
