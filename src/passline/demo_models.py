"""The registry part of ``passline demo``: real scikit-learn models on the ingested data.

Retail: Alice trains a demand model on sales v1, registers it; the project's policy asks for
an approval by someone else and a mean absolute error under a bound; Bob approves; Alice
promotes it to production. Fraud: model v1 trained on dataset A, v2 on dataset B, each with
its false-positive rate, so "which version produced which result" is one lineage query.
Needs scikit-learn (the ``sklearn`` extra, which ``make demo`` installs); skipped otherwise.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from passline.core.entities import ModelVersion
from passline.services.context import Actor, CallContext
from passline.services.workspace import Services, Workspace

__all__ = ["train_demo_models"]

MAE_BOUND = 40.0  # units per store, SKU and week; holdout weeks include the holiday peak


def _as(workspace: Workspace, name: str) -> Services:
    user = next(
        u
        for u in workspace.services(workspace.local_context()).identity.list_users()
        if u.name == name
    )
    return workspace.services(
        CallContext(Actor(user.id, user.name, user.is_admin, user.kind), "cli")
    )


def train_demo_models(workspace: Workspace) -> list[str]:
    """Train, register, approve and promote; return lines for the demo's summary."""
    try:
        import sklearn  # noqa: F401
    except ModuleNotFoundError:
        return ["models: skipped (install the sklearn extra: pip install 'passline[sklearn]')"]
    admin = workspace.services(workspace.local_context("cli"))
    alice, bob = _as(workspace, "alice"), _as(workspace, "bob")
    lines = _retail(admin, alice, bob)
    lines += _fraud(alice, bob)
    return lines


def _retail(admin: Services, alice: Services, bob: Services) -> list[str]:
    model = "retail-demand/demand-forecast"
    admin.registry.set_policy(
        "retail-demand",
        "production",
        require_approval=True,
        checks=[
            {"name": "metric_at_most", "metric": "mae", "max": MAE_BOUND},
            {"name": "has_training_data"},
        ],
    )
    existing = _existing(alice, model)
    if existing is None:
        existing = _train_demand(alice, model)
        alice.registry.update_model(
            model,
            description="Weekly units per store and SKU.",
            intended_use={
                "purpose": "replenishment orders for the next 8 weeks",
                "users": "store planners, through the ordering tool",
                "out_of_scope": "new stores and new SKUs without history",
                "limitations": "the holiday peak is learned from one year only",
            },
        )
    if "production" not in existing.aliases:
        if not any(a["approver"] == "bob" for a in existing.approvals):
            bob.registry.approve(
                model, existing.version, comment="MAE within bound on the holdout weeks"
            )
        alice.registry.promote(model, existing.version, reason="first forecast in production")
    version = alice.registry.version(model, "production")
    approvers = ", ".join(a["approver"] for a in version.approvals)
    return [
        f"model:     {model} v{version.version} in production, trained on "
        f"{', '.join(version.dataset_versions)}, approved by {approvers}"
    ]


def _existing(svc: Services, model: str) -> ModelVersion | None:
    try:
        return svc.registry.version(model, 1)
    except Exception:  # noqa: BLE001 - not registered yet
        return None


DEMAND_FEATURES = ["week", "store_id", "sku", "channel", "promo", "price"]
FRAUD_FEATURES = ["amount", "hour", "card_present", "country"]


def demand_pipeline() -> Any:
    """Raw columns in, units out: the gateway serves it on the dataset's own fields, and
    skl2onnx converts it (``passline models optimize``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    columns = ColumnTransformer([("codes", encode, ["sku", "channel"])], remainder="passthrough")
    return make_pipeline(
        columns, GradientBoostingRegressor(n_estimators=150, max_depth=4, random_state=0)
    )


def _train_demand(svc: Services, model: str) -> ModelVersion:
    from sklearn.metrics import mean_absolute_error

    frame = svc.datasets.read("retail-demand/sales@v1").to_pandas()
    train, test = frame["week"] <= 44, frame["week"] > 44
    estimator = demand_pipeline().fit(frame.loc[train, DEMAND_FEATURES], frame.loc[train, "units"])
    predicted = estimator.predict(frame.loc[test, DEMAND_FEATURES])
    mae = float(mean_absolute_error(frame.loc[test, "units"], predicted))
    run = _run(
        svc,
        "retail-demand",
        "forecast",
        "hgb-baseline",
        "retail-demand/sales@v1",
        {
            "model": "GradientBoostingRegressor",
            "n_estimators": 150,
            "max_depth": 4,
            "target": "units",
            "features": ",".join(DEMAND_FEATURES),
            "train_weeks": "1-44",
            "test_weeks": "45-52",
        },
        {"mae": mae},
        estimator,
    )
    return svc.registry.register(model, f"runs:/{run}/model")


def _run(
    svc: Services,
    project: str,
    experiment: str,
    name: str,
    dataset: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    estimator: Any,
) -> str:
    tracking = svc.tracking
    run = tracking.start_run(
        tracking.ensure_experiment(project, experiment).id, name=name, entry_point="passline demo"
    )
    tracking.log_input(run.id, dataset)
    tracking.log_params(run.id, params)
    tracking.log_metrics(run.id, [{"key": k, "value": v} for k, v in metrics.items()])
    tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(estimator)))
    tracking.end_run(run.id)
    return run.id


def _fraud(alice: Services, bob: Services) -> list[str]:
    model = "fraud-detection/fraud-scorer"
    lines, rates = [], []
    for number, (label, dataset) in enumerate((("A", "v1"), ("B", "v2")), start=1):
        version = _version_or_none(alice, model, number)
        if version is None:
            version = _train_fraud(alice, model, f"fraud-detection/transactions@{dataset}", label)
        rates.append(version.metrics.get("false_positive_rate"))
        lines.append(
            f"model:     {model} v{version.version} on dataset {label} "
            f"({', '.join(version.dataset_versions)}): false-positive rate {rates[-1]:.3f}"
        )
    if alice.registry.get_model(model).aliases.get("production") is None:
        _promote_then_roll_back(alice, bob, model, rates)
    history = alice.registry.history(model, "production")
    moves = ", ".join(
        f"{m.kind} v{m.from_version or '-'}->v{m.to_version}" for m in reversed(history)
    )
    lines.append(f"history:   {model} production: {moves}")
    return lines


def _promote_then_roll_back(alice: Services, bob: Services, model: str, rates: list[Any]) -> None:
    """The November model goes live, its false positives rise, and one command restores the
    October model: the story "how fast can we roll back?" asks about."""
    bob.registry.approve(model, 1, comment="dataset A baseline")
    alice.registry.promote(model, 1, reason="October baseline")
    bob.registry.approve(model, 2, comment="retrained on dataset B")
    alice.registry.promote(model, 2, reason="November retrain")
    reason = f"false-positive rate rose from {rates[0]:.3f} to {rates[1]:.3f}"
    alice.registry.rollback(model, reason=reason)


def _version_or_none(svc: Services, model: str, number: int) -> ModelVersion | None:
    try:
        return svc.registry.version(model, number)
    except Exception:  # noqa: BLE001 - not registered yet
        return None


def fraud_pipeline() -> Any:
    """Log amount, night hour, card present, country: a balanced logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    columns = ColumnTransformer(
        [
            ("log_amount", FunctionTransformer(np.log1p), ["amount"]),
            ("country", OneHotEncoder(handle_unknown="ignore"), ["country"]),
        ],
        remainder="passthrough",
    )
    return make_pipeline(columns, LogisticRegression(class_weight="balanced", max_iter=500))


def _train_fraud(svc: Services, model: str, dataset: str, label: str) -> ModelVersion:
    frame = svc.datasets.read(dataset).to_pandas()
    X, y = frame[FRAUD_FEATURES], frame["is_fraud"].astype(int).to_numpy()
    half = len(y) // 2
    estimator = fraud_pipeline().fit(X.iloc[:half], y[:half])
    predicted = estimator.predict(X.iloc[half:])
    negatives = y[half:] == 0
    fpr = float((predicted[negatives] == 1).mean())
    recall = float((predicted[~negatives] == 1).mean()) if (~negatives).any() else 0.0
    run = _run(
        svc,
        "fraud-detection",
        "scoring",
        f"logreg-dataset-{label}",
        dataset,
        {
            "model": "LogisticRegression",
            "class_weight": "balanced",
            "target": "is_fraud",
            "features": ",".join(FRAUD_FEATURES),
        },
        {"false_positive_rate": fpr, "recall": recall},
        estimator,
    )
    return svc.registry.register(model, f"runs:/{run}/model")
