"""Turning a registered version's files back into a model object.

The registry only gets here after every file's bytes hashed to the digest recorded at
registration (``RegistryService.download``): a scikit-learn pickle, which executes code when
loaded, is never unpickled from bytes the registry did not see.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from typing import Any

from passline.core.entities import ModelVersion
from passline.errors import InvalidInput, MissingExtra

__all__ = ["OnnxPredictor", "load_model", "to_model_input"]


def load_model(version: ModelVersion, folder: Path) -> Any:
    loader = {"sklearn": _sklearn, "onnx": _onnx, "python": _python, "mlflow": _mlflow}[
        version.format
    ]
    return loader(folder)


def _first(folder: Path, suffixes: tuple[str, ...]) -> Path:
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in suffixes:
            return path
    raise InvalidInput(f"The version's files hold no {' or '.join(suffixes)} file.")


def _sklearn(folder: Path) -> Any:
    path = _first(folder, (".pkl", ".pickle", ".joblib"))
    try:
        import joblib

        return joblib.load(path)
    except ModuleNotFoundError:
        with path.open("rb") as stream:
            return pickle.load(stream)  # noqa: S301 - digest checked by the registry first


def _onnx(folder: Path) -> Any:
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise MissingExtra.for_extra("onnx", "Loading ONNX models") from None
    return OnnxPredictor(onnxruntime.InferenceSession(str(_first(folder, (".onnx",)))))


class OnnxPredictor:
    """An ONNX session with scikit-learn's ``predict``: one ONNX input per column (how
    ``passline models optimize`` converts pipelines on named columns) or one matrix."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = session.get_inputs()
        self.output = session.get_outputs()[0].name

    def predict_table(self, table: Any) -> Any:
        """Predictions for an Arrow table whose columns are named like the inputs."""
        import numpy as np

        if len(self.inputs) == 1 and self.inputs[0].name not in table.column_names:
            matrix = np.column_stack(
                [_as_onnx(table.column(c), "tensor(float)") for c in table.column_names]
            )
            feed = {self.inputs[0].name: matrix}
        else:
            feed = {
                i.name: _as_onnx(table.column(i.name), i.type).reshape(-1, 1) for i in self.inputs
            }
        return np.asarray(self.session.run([self.output], feed)[0]).ravel()

    def predict(self, frame: Any) -> Any:
        import pyarrow as pa

        table = (
            frame
            if isinstance(frame, pa.Table)
            else pa.Table.from_pandas(frame, preserve_index=False)
        )
        return self.predict_table(table)


_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
}


def _as_onnx(column: Any, onnx_type: str) -> Any:
    import numpy as np

    values = column.to_numpy(zero_copy_only=False)
    if onnx_type == "tensor(string)":
        return values.astype(str).astype(object)
    return np.asarray(values, dtype=_ONNX_TYPES.get(onnx_type, "float32"))


def _python(folder: Path) -> Any:
    """A module with a ``predict(records)`` function, or a ``Model`` class with ``predict``."""
    path = _first(folder, (".py",))
    spec = importlib.util.spec_from_file_location(f"passline_model_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"Cannot import {path.name}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "Model"):
        return module.Model()
    if hasattr(module, "predict"):
        return module
    raise InvalidInput(f"{path.name} defines neither predict() nor a Model class.")


def _mlflow(folder: Path) -> Any:
    """An MLflow model folder: its scikit-learn flavour's pickle (mlflow itself not needed)."""
    for name in ("model.pkl", "model.joblib"):
        if (folder / name).exists():
            return _sklearn_file(folder / name)
    raise InvalidInput(
        "Only the scikit-learn flavour of MLflow models loads without mlflow installed."
    )


def _sklearn_file(path: Path) -> Any:
    try:
        import joblib

        return joblib.load(path)
    except ModuleNotFoundError:
        with path.open("rb") as stream:
            return pickle.load(stream)  # noqa: S301 - digest checked by the registry first


def to_model_input(table: Any, model: Any) -> Any:
    """A pandas frame when the model was fitted on named columns, else a 2-D array."""
    if hasattr(model, "predict_table"):
        return table
    if hasattr(model, "feature_names_in_") and set(model.feature_names_in_) <= set(
        table.column_names
    ):
        return table.select(list(model.feature_names_in_)).to_pandas()
    import numpy as np

    return np.column_stack(
        [table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names]
    )
