"""Leaner models: a scikit-learn version converted to ONNX (and optionally quantized to
int8), measured against the original on a dataset version, registered as a new version.

The conversion is skl2onnx's and the runtime onnxruntime's: both are the reference tools,
and we only choose the input types (one ONNX input per named column, typed from the
version's signature, so a pipeline on raw columns converts whole). The measurement is what
the choice needs: size, single-row latency p50/p99, batch throughput, how often the two
agree, and the metric each reaches on the same rows. Everything lands in a run (params,
metrics, the ``.onnx`` file, the dataset as input) that the new version is registered
from, and an ``optimized_into`` lineage edge ties the original version to that run.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from passline.core.entities import ModelVersion
from passline.errors import InvalidInput, MissingExtra
from passline.services.base import BaseService

__all__ = ["ModelOptimizer"]

MAX_ROWS = 20_000
LATENCY_CALLS = 200


class ModelOptimizer(BaseService):
    def optimize(
        self,
        model: str,
        version: int | str,
        to: str = "onnx",
        quantize: str | None = None,
        dataset: str | None = None,
        target: str | None = None,
    ) -> dict[str, Any]:
        """Convert, measure on ``dataset`` (default: the version's training data), register."""
        if to != "onnx":
            raise InvalidInput(f"Only '--to onnx' is supported. Got {to!r}.")
        if quantize not in (None, "int8"):
            raise InvalidInput(f"Only '--quantize int8' is supported. Got {quantize!r}.")
        svc = self.ws.services(self.ctx)
        source = svc.registry.version(model, version)
        if source.format not in ("sklearn", "mlflow"):
            raise InvalidInput(
                f"{source.label} is a {source.format!r} model; only scikit-learn models convert."
            )
        original = svc.registry.load(model, source.version)
        table = self._evaluation_rows(svc, source, dataset)
        target = target or _target_of(source)
        onnx_bytes = _convert(original, source.signature, table)
        if quantize:
            onnx_bytes = _quantize(onnx_bytes)
        optimised = _session(onnx_bytes)
        report = _compare(original, optimised, table, source.signature, target)
        report.update(
            {
                "size_bytes": {"original": _pickled_size(original), "optimized": len(onnx_bytes)},
                "quantize": quantize,
                "rows": table.num_rows,
            }
        )
        new = self._register(svc, source, onnx_bytes, report, dataset or _training(source))
        return {
            "model": source.model,
            "from_version": source.version,
            "version": new.version,
            **report,
        }

    def _evaluation_rows(self, svc: Any, source: ModelVersion, dataset: str | None) -> Any:
        ref = dataset or _training(source)
        if ref is None:
            raise InvalidInput(
                f"{source.label} has no training dataset to measure on.",
                hint="Name one with --dataset PROJECT/NAME@vN.",
            )
        table = svc.datasets.read(ref)
        inputs = [c["name"] for c in source.signature.get("inputs", [])]
        missing = [c for c in inputs if c not in table.column_names]
        if missing:
            raise InvalidInput(f"Dataset {ref} lacks the model's input {missing[0]!r}.")
        if table.num_rows == 0:
            raise InvalidInput(f"Dataset {ref} has no rows to measure on.")
        return table.slice(0, MAX_ROWS)

    def _register(
        self,
        svc: Any,
        source: ModelVersion,
        onnx_bytes: bytes,
        report: dict[str, Any],
        dataset: str | None,
    ) -> ModelVersion:
        project = source.model.split("/")[0]
        tracking = svc.tracking
        run = tracking.start_run(
            tracking.ensure_experiment(project, "optimize").id,
            name=f"{source.model.split('/')[1]}-v{source.version}-onnx",
            entry_point="passline models optimize",
        )
        if dataset:
            tracking.log_input(run.id, dataset, "evaluation")
        tracking.log_params(
            run.id,
            {
                "source_version": source.version,
                "to": "onnx",
                "quantize": report["quantize"] or "none",
                "rows": report["rows"],
            },
        )
        tracking.log_metrics(
            run.id, [{"key": k, "value": float(v)} for k, v in _flat_metrics(report).items()]
        )
        tracking.log_artifact(run.id, "model/model.onnx", io.BytesIO(onnx_bytes))
        tracking.end_run(run.id)
        svc.lineage.link(
            source.ref,
            f"run:{run.id}",
            "optimized_into",
            {"quantize": report["quantize"] or "none"},
        )
        return svc.registry.register(
            source.model,
            f"runs:/{run.id}/model",
            format="onnx",
            description=f"ONNX of v{source.version}"
            + (" (int8)" if report["quantize"] else "")
            + f": {_summary(report)}",
            signature=source.signature,
        )


def _training(source: ModelVersion) -> str | None:
    return source.dataset_versions[0] if source.dataset_versions else None


def _target_of(source: ModelVersion) -> str | None:
    outputs = source.signature.get("outputs") or []
    return outputs[0]["name"] if outputs else None


def _imports() -> tuple[Any, Any]:
    try:
        import onnxruntime
        import skl2onnx
    except ModuleNotFoundError:
        raise MissingExtra.for_extra("onnx", "Converting models to ONNX") from None
    return skl2onnx, onnxruntime


def _initial_types(model: Any, signature: dict[str, Any], table: Any) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    inputs = [c["name"] for c in signature.get("inputs", [])]
    if not hasattr(model, "feature_names_in_"):
        return [("input", FloatTensorType([None, len(inputs)]))]
    types = []
    for name in model.feature_names_in_:
        kind = str(table.schema.field(name).type)
        if kind.startswith(("int", "uint")):
            types.append((name, Int64TensorType([None, 1])))
        elif kind in ("bool",):
            types.append((name, BooleanTensorType([None, 1])))
        elif kind in ("string", "large_string"):
            types.append((name, StringTensorType([None, 1])))
        else:
            types.append((name, FloatTensorType([None, 1])))
    return types


def _convert(model: Any, signature: dict[str, Any], table: Any) -> bytes:
    skl2onnx, _ = _imports()
    try:
        onnx_model = skl2onnx.convert_sklearn(
            model,
            initial_types=_initial_types(model, signature, table),
            target_opset={"": 17, "ai.onnx.ml": 3},
            options={id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None,
        )
    except Exception as exc:  # noqa: BLE001 - skl2onnx raises many kinds for unsupported parts
        raise InvalidInput(
            f"skl2onnx cannot convert this model: {type(exc).__name__}: {str(exc)[:300]}",
            hint="Every step of the pipeline needs an ONNX converter (see skl2onnx's list of "
            "supported models).",
        ) from None
    return onnx_model.SerializeToString()  # type: ignore[no-any-return]


def _quantize(onnx_bytes: bytes) -> bytes:
    """Dynamic int8 quantization of the weights (MatMul, Gemm); tree ensembles keep theirs."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="passline-onnx-") as folder:
        source, target = Path(folder) / "model.onnx", Path(folder) / "model.int8.onnx"
        source.write_bytes(onnx_bytes)
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
        return target.read_bytes()


def _session(onnx_bytes: bytes) -> Any:
    _, onnxruntime = _imports()
    from passline.services.model_loading import OnnxPredictor

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return OnnxPredictor(onnxruntime.InferenceSession(onnx_bytes, options))


def _pickled_size(model: Any) -> int:
    import pickle

    return len(pickle.dumps(model))


def _original_predict(model: Any, table: Any, inputs: list[str]) -> Any:
    from passline.services.model_loading import to_model_input

    return np.asarray(model.predict(to_model_input(table.select(inputs), model))).ravel()


def _compare(
    original: Any, optimised: Any, table: Any, signature: dict[str, Any], target: str | None
) -> dict[str, Any]:
    inputs = [c["name"] for c in signature.get("inputs", [])]
    features = table.select(inputs)
    ours = _original_predict(original, features, inputs)
    theirs = optimised.predict_table(features)
    report: dict[str, Any] = {"agreement": _agreement(ours, theirs)}
    if target and target in table.column_names:
        truth = np.asarray(table.column(target).to_numpy(zero_copy_only=False))
        report["metric"] = _metric(truth, ours, theirs)
    row = features.slice(0, 1)
    report["latency_ms"] = {
        "original": _latency(lambda: _original_predict(original, row, inputs)),
        "optimized": _latency(lambda: optimised.predict_table(row)),
    }
    report["rows_per_s"] = {
        "original": _throughput(lambda: _original_predict(original, features, inputs), len(ours)),
        "optimized": _throughput(lambda: optimised.predict_table(features), len(ours)),
    }
    return report


def _agreement(ours: Any, theirs: Any) -> dict[str, float]:
    if ours.dtype.kind in "fc":
        diff = np.abs(ours.astype(float) - theirs.astype(float))
        return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean())}
    return {"same_prediction": float(np.mean(ours.astype(str) == theirs.astype(str)))}


def _metric(truth: Any, ours: Any, theirs: Any) -> dict[str, Any]:
    if ours.dtype.kind == "f" and len(np.unique(truth)) > 2:
        name, a, b = "mae", np.mean(np.abs(truth - ours)), np.mean(np.abs(truth - theirs))
    else:
        name = "accuracy"
        a = np.mean(ours.astype(str) == truth.astype(int).astype(str))
        b = np.mean(theirs.astype(str) == truth.astype(int).astype(str))
    return {"name": name, "original": float(a), "optimized": float(b), "delta": float(b - a)}


def _latency(call: Any) -> dict[str, float]:
    call()
    samples = []
    for _ in range(LATENCY_CALLS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50": float(np.percentile(samples, 50)), "p99": float(np.percentile(samples, 99))}


def _throughput(call: Any, rows: int) -> float:
    started = time.perf_counter()
    call()
    return rows / max(time.perf_counter() - started, 1e-9)


def _flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    flat = {
        "size_bytes_original": report["size_bytes"]["original"],
        "size_bytes": report["size_bytes"]["optimized"],
        "latency_p50_ms_original": report["latency_ms"]["original"]["p50"],
        "latency_p99_ms_original": report["latency_ms"]["original"]["p99"],
        "latency_p50_ms": report["latency_ms"]["optimized"]["p50"],
        "latency_p99_ms": report["latency_ms"]["optimized"]["p99"],
        "rows_per_s": report["rows_per_s"]["optimized"],
        **{f"agreement_{k}": v for k, v in report["agreement"].items()},
    }
    if "metric" in report:
        metric = report["metric"]
        flat[metric["name"]] = metric["optimized"]
        flat[f"{metric['name']}_original"] = metric["original"]
        flat[f"{metric['name']}_delta"] = metric["delta"]
    return flat


def _summary(report: dict[str, Any]) -> str:
    lat = report["latency_ms"]
    parts = [
        f"p50 {lat['original']['p50']:.2f} -> {lat['optimized']['p50']:.2f} ms",
        f"size {report['size_bytes']['original']:,} -> {report['size_bytes']['optimized']:,} B",
    ]
    if "metric" in report:
        m = report["metric"]
        parts.append(f"{m['name']} {m['original']:.4g} -> {m['optimized']:.4g}")
    return ", ".join(parts)
