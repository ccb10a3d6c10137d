"""Finding a pipeline by its source: ``package.module:name`` or ``path/to/file.py:name``.

The source is recorded with each pipeline, so a schedule or a trigger can load it again
in ``passline up``'s scheduler. A module loaded from a file is not importable by name in
a worker process, so cloudpickle is told to send its functions by value.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from passline.errors import InvalidInput, NotFound
from passline.pipelines.dsl import Pipeline

__all__ = ["load_pipeline"]


def load_pipeline(source: str) -> Pipeline:
    """The :class:`Pipeline` object ``source`` names (its ``source`` field set)."""
    location, _, attribute = source.rpartition(":")
    if not location or not attribute:
        raise InvalidInput(
            f"Name a pipeline as 'path/to/file.py:variable' or 'package.module:variable'. "
            f"Got {source!r} instead."
        )
    if location.endswith(".py"):
        path = Path(location).resolve()
        module = _from_file(path)
        source = f"{path}:{attribute}"
    else:
        try:
            module = importlib.import_module(location)
        except ModuleNotFoundError as exc:
            raise NotFound(f"Cannot import module {location!r}: {exc}.") from None
    found = getattr(module, attribute, None)
    if not isinstance(found, Pipeline):
        raise InvalidInput(
            f"{attribute!r} in {location} is not a passline Pipeline "
            f"(it is {type(found).__name__}).",
            hint="Point at the variable that holds Pipeline(...).",
        )
    found.source = source
    return found


def _from_file(path: Path):  # type: ignore[no-untyped-def]
    if not path.is_file():
        raise NotFound(f"No pipeline file at {path}.", hint="Check the path.")
    name = "passline_pipeline_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise InvalidInput(f"Loading {path} failed: {type(exc).__name__}: {exc}") from exc
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module
