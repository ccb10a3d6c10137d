"""passline models optimize: scikit-learn to ONNX (and int8), measured, registered, served."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from passline.errors import InvalidInput
from passline.services.model_loading import OnnxPredictor
from passline.services.workspace import Services
from tests.serving.conftest import FEATURES, MODEL, records, register, transactions

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


def test_a_pipeline_becomes_an_onnx_version_with_its_trade_off(
    served: Services, gateway: TestClient, token: str
) -> None:
    report = served.optimizer.optimize(MODEL, 1)
    assert report["version"] == 4 and report["from_version"] == 1
    assert report["agreement"]["same_prediction"] > 0.99
    assert report["metric"]["name"] == "accuracy"
    assert abs(report["metric"]["delta"]) < 0.01
    assert report["latency_ms"]["optimized"]["p50"] > 0
    version = served.registry.version(MODEL, 4)
    assert (
        version.format == "onnx"
        and version.signature == served.registry.version(MODEL, 1).signature
    )
    assert "latency_p99_ms" in version.metrics and "accuracy_delta" in version.metrics
    assert version.dataset_versions == ["shop/transactions@v1"]
    upstream = served.lineage.graph(version.ref, "up")
    assert any(e.type == "optimized_into" for e in upstream.edges)
    loaded = served.registry.load(MODEL, 4)
    assert isinstance(loaded, OnnxPredictor)
    # The gateway serves the ONNX version on the same JSON as the original.
    rows = records(20, seed=3)
    auth = {"Authorization": f"Bearer {token}"}
    onnx = gateway.post(f"/v1/models/{MODEL}@4/predict", json=rows, headers=auth).json()
    original = gateway.post(f"/v1/models/{MODEL}@1/predict", json=rows, headers=auth).json()
    assert onnx["predictions"] == original["predictions"]


def test_int8_quantization_shrinks_a_network(served: Services) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = transactions().to_pandas()
    columns = ColumnTransformer(
        [("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"])], remainder="passthrough"
    )
    network = make_pipeline(
        columns, MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=30, tol=1e9, random_state=0)
    )
    number = register(served, network.fit(frame[FEATURES], frame["amount"] / 100))
    plain = served.optimizer.optimize(MODEL, number)
    quantized = served.optimizer.optimize(MODEL, number, quantize="int8")
    assert quantized["quantize"] == "int8"
    assert quantized["size_bytes"]["optimized"] < 0.5 * plain["size_bytes"]["optimized"]
    assert np.isfinite(quantized["agreement"]["max_abs_diff"])


def _numeric_columns(frame: object) -> object:
    return frame[["amount", "hour"]]  # type: ignore[index]


def test_what_cannot_be_optimized_is_refused(served: Services) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    with pytest.raises(InvalidInput, match="Only '--to onnx'"):
        served.optimizer.optimize(MODEL, 1, to="tensorrt")
    with pytest.raises(InvalidInput, match="Only '--quantize int8'"):
        served.optimizer.optimize(MODEL, 1, quantize="int4")
    with pytest.raises(InvalidInput, match="skl2onnx cannot convert"):
        served.optimizer.optimize(MODEL, 3)  # not a scikit-learn estimator
    frame = transactions().to_pandas()
    from sklearn.linear_model import LogisticRegression

    custom = make_pipeline(FunctionTransformer(_numeric_columns), LogisticRegression()).fit(
        frame[FEATURES], frame["is_fraud"]
    )
    with pytest.raises(InvalidInput, match="FunctionTransformer"):
        served.optimizer.optimize(MODEL, register(served, custom))
    onnx = served.optimizer.optimize(MODEL, 1)["version"]
    with pytest.raises(InvalidInput, match="only scikit-learn models convert"):
        served.optimizer.optimize(MODEL, onnx)
    from passline.data.connectors.memory import TableConnector

    served.ingest.ingest("shop/other", TableConnector([{"amount": 1.0}]))
    with pytest.raises(InvalidInput, match="lacks the model's input 'hour'"):
        served.optimizer.optimize(MODEL, 1, dataset="shop/other@v1")
