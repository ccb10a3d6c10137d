"""The experiment and model pages, in-process: runs search, a run, compare, the registry.

``populate_models`` trains a small scikit-learn model in three runs, registers a version
from each, promotes two under a release policy and rolls one back; the browser test
(``test_browser.py``) reuses it for its screenshots. It is built once for this module:
every test here only reads it.
"""

from __future__ import annotations

import html
import io
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from passline.core.entities import Experiment, ModelVersion, Run
from passline.data.connectors.memory import TableConnector
from passline.server.app import create_app
from passline.server.ui import (
    BLOCKS,
    check_text,
    dataset_label_url,
    duration,
    metric_text,
    model_url,
    ms_when,
    object_url,
)
from passline.services.workspace import Workspace
from passline.settings import Settings
from tests.conftest import services_as
from tests.test_ui import login, text_of

PROJECT = "fraud"
MODEL = f"{PROJECT}/scorer"
AUTHOR, APPROVER, OUTSIDER = "mira", "theo", "nina"
XSS = "<script>alert('run')</script>"
START = 1_780_000_000_000  # 2026-05-28 20:26:40 UTC, in epoch milliseconds
COMMIT = "3f2a9c1d5be04e7a9f1c2b3d4e5f60718293a4b5"
#: name, C, the auc of each step (NaN and infinity are what a diverging run logs)
RUNS = [
    ("baseline", 1.0, [0.62, 0.74, 0.78, 0.81]),
    ("tuned", 0.5, [0.66, 0.79, 0.84, 0.86]),
    ("sparse", 0.1, [0.55, "NaN", 0.7, "Infinity", 0.79]),
]


@dataclass
class ModelWorld:
    """What ``populate_models`` made."""

    token: str  # the workspace admin's
    experiment: Experiment
    runs: list[Run]  # baseline, tuned, sparse
    versions: list[ModelVersion]  # v1, v2, v3 of fraud/scorer, one per run
    xss_run: Run
    outsider_token: str  # a user in no project


def populate_models(workspace: Workspace) -> ModelWorld:
    """A project with three runs of one experiment (one logs NaN and inf), a model version
    from each; a production policy (approval + auc >= 0.8 + training data); v1 and v2
    approved, promoted in turn, then production rolled back to v1; staging on v3 (no
    policy); a model without versions; a run whose name is HTML."""
    from sklearn.linear_model import LogisticRegression

    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create(PROJECT, "Card fraud scoring.")
    existing = {u.name for u in admin.identity.list_users()}
    for user in (AUTHOR, APPROVER, OUTSIDER):
        if user not in existing:
            admin.identity.create_user(user)
    admin.projects.add_member(PROJECT, AUTHOR, "contributor")
    admin.projects.add_member(PROJECT, APPROVER, "approver")
    author = services_as(workspace, AUTHOR)

    rows = [{"amount": float(i), "hour": i % 24, "is_fraud": int(i % 7 == 0)} for i in range(60)]
    author.ingest.ingest(f"{PROJECT}/transactions", TableConnector(rows))
    model = LogisticRegression().fit(
        [[r["amount"], r["hour"]] for r in rows], [r["is_fraud"] for r in rows]
    )
    blob = pickle.dumps(model)
    experiment = author.tracking.ensure_experiment(PROJECT, "scoring")
    runs, versions = [], []
    for i, (name, c, aucs) in enumerate(RUNS):
        start = START + i * 3_600_000
        run = author.tracking.start_run(
            experiment.id,
            name=name,
            tags={"team": "risk", "stage": "tuning" if i else "baseline"},
            code={"git_commit": COMMIT, "branch": "main", "dirty": i == 2},
            environment={"python": "3.12.3", "packages": {"scikit-learn": "1.5.2"}},
            start_time=start,
        )
        author.tracking.log_input(run.id, f"{PROJECT}/transactions")
        author.tracking.log_params(
            run.id, {"target": "is_fraud", "C": c, "solver": "lbfgs", "model": "logreg"}
        )
        author.tracking.log_metrics(
            run.id,
            [
                {"key": "auc", "value": v, "step": s, "timestamp": start + s * 1000}
                for s, v in enumerate(aucs)
            ]
            + [
                {"key": "loss", "value": 0.7 / (s + 1) + c / 10, "step": s}
                for s in range(len(aucs))
            ],
        )
        author.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(blob))
        runs.append(author.tracking.end_run(run.id, end_time=start + 95_000 + i * 61_000))
        versions.append(author.registry.register(MODEL, f"runs:/{run.id}/model"))

    admin.registry.update_model(
        MODEL,
        description="Scores card transactions for fraud.",
        intended_use={"purpose": "Rank transactions for manual review."},
    )
    admin.registry.set_policy(
        PROJECT,
        "production",
        require_approval=True,
        checks=[
            {"name": "metric_at_least", "metric": "auc", "min": 0.8},
            {"name": "has_training_data"},
        ],
    )
    approver = services_as(workspace, APPROVER)
    approver.registry.approve(MODEL, 1, comment="checked the FPR on last month's data")
    approver.registry.approve(MODEL, 2, comment="better recall", alias="production")
    author.registry.promote(MODEL, 1, reason="first release")
    author.registry.promote(MODEL, 2, reason="better auc")
    author.registry.rollback(MODEL, reason="revenue dropped")
    author.registry.set_alias(MODEL, "staging", 3, reason="try the sparse one")
    author.registry.create_model(PROJECT, "ranker", "Orders the review queue.")

    probes = author.tracking.ensure_experiment(PROJECT, "probes")
    xss = author.tracking.start_run(probes.id, name=XSS, start_time=START - 3_600_000)
    author.tracking.log_params(xss.id, {"note": "<b>bold</b>"})
    author.tracking.log_metrics(xss.id, [{"key": "auc", "value": 0.5}])
    author.tracking.end_run(xss.id, end_time=START - 3_500_000)

    return ModelWorld(
        token=admin.identity.create_token("ui-models").secret,
        experiment=experiment,
        runs=runs,
        versions=[author.registry.version(MODEL, n) for n in (1, 2, 3)],
        xss_run=author.tracking.get_run(xss.id),
        outsider_token=admin.identity.create_token("nina-ui", user=OUTSIDER).secret,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, ModelWorld]]:
    """The world, built once for the module (training and ingesting take a second)."""
    pytest.importorskip("sklearn")
    workspace = Workspace.open(Settings(home=tmp_path_factory.mktemp("models") / "home"))
    world = populate_models(workspace)
    yield create_app(workspace=workspace), world
    workspace.close()


@pytest.fixture
def world(built: tuple[FastAPI, ModelWorld]) -> ModelWorld:
    return built[1]


@pytest.fixture
def anonymous(built: tuple[FastAPI, ModelWorld]) -> Iterator[TestClient]:
    with TestClient(built[0]) as client:
        yield client


@pytest.fixture
def ui(anonymous: TestClient, world: ModelWorld) -> TestClient:
    """Logged in as the workspace admin."""
    login(anonymous, world.token)
    return anonymous


def run_rows(page: str) -> list[str]:
    """The run names in the runs table, in order."""
    table = page.split('<table class="runs">', 1)[1].split("</table>", 1)[0]
    return [
        html.unescape(n) for n in re.findall(r'<td class="name"><a href="[^"]+">([^<]+)</a>', table)
    ]


def section(page: str, start: str, end: str = "</table>") -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/experiments",
        "/experiments?filter=metrics.auc+%3E+0.8",
        "/experiments/compare?run=a&run=b",
        "/runs/run_x",
        "/models",
        "/models/fraud/scorer",
        "/models/fraud/scorer/v/1",
        "/models/fraud/scorer/card",
        "/models/fraud/scorer/card.md",
    ],
)
def test_pages_redirect_to_login_without_a_session(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?" + urlencode({"next": path})


def test_experiments_and_models_are_built_blocks(ui: TestClient) -> None:
    assert "experiments" not in BLOCKS and "models" not in BLOCKS
    body = ui.get("/").text
    assert '<a href="/experiments">Experiments</a>' in body
    assert '<a href="/models">Models</a>' in body
    for path in ("/experiments", "/models"):
        assert "This block is not built yet." not in ui.get(path).text


def test_a_user_outside_the_project_sees_none_of_it(
    anonymous: TestClient, world: ModelWorld
) -> None:
    login(anonymous, world.outsider_token)
    experiments = anonymous.get("/experiments")
    assert experiments.status_code == 200
    assert "scoring" not in text_of(experiments.text) and run_rows(experiments.text) == []
    assert "No runs here yet." in experiments.text
    assert "scorer" not in text_of(anonymous.get("/models").text)
    assert anonymous.get("/models/fraud/scorer").status_code == 404
    denied = anonymous.get(f"/runs/{world.runs[0].id}")
    assert denied.status_code == 403 and "baseline" not in denied.text


# --- experiments ----------------------------------------------------------------------------


def test_experiments_are_listed_by_project_with_their_run_counts(
    ui: TestClient, world: ModelWorld
) -> None:
    response = ui.get("/experiments")
    assert response.status_code == 200
    nav = text_of(section(response.text, '<nav class="experiments', "</nav>"))
    assert "fraud All of fraud" in nav
    assert "fraud All of fraud probes 1 scoring 3" in nav  # by project, then name
    assert f'href="/experiments?experiment={world.experiment.id}"' in response.text
    # No scope: every run the caller can see, newest first.
    assert run_rows(response.text) == ["sparse", "tuned", "baseline", XSS]


def test_the_runs_of_an_experiment_with_metric_and_param_columns(
    ui: TestClient, world: ModelWorld
) -> None:
    response = ui.get("/experiments", params={"experiment": world.experiment.id})
    assert response.status_code == 200
    assert run_rows(response.text) == ["sparse", "tuned", "baseline"]
    table = section(response.text, '<table class="runs">')
    headers = text_of(section(table, "<thead>", "</thead>"))
    assert "auc" in headers and "loss" in headers and "C" in headers and "solver" in headers
    tuned = text_of(section(table, f'<tr id="run-{world.runs[1].id}">', "</tr>"))
    assert "tuned FINISHED mira 2026-05-28 21:26:40 2 min 36 s 0.86" in tuned
    for run in world.runs:  # ticked boxes go to the compare page
        assert f'<input type="checkbox" name="run" value="{run.id}"' in table
    assert '<form method="get" action="/experiments/compare" id="compare"' in response.text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filter": "metrics.auc > 0.8"}, ["tuned", "baseline"]),
        ({"filter": "params.C = '0.1'"}, ["sparse"]),
        ({"filter": "tags.stage = 'baseline' and status = 'FINISHED'"}, ["baseline"]),
        ({"filter": "metrics.auc > 0.99"}, []),
        ({"order": "metrics.auc DESC"}, ["tuned", "baseline", "sparse"]),
        ({"order": "attributes.run_name ASC"}, ["baseline", "sparse", "tuned"]),
    ],
)
def test_runs_are_filtered_and_ordered(
    ui: TestClient, world: ModelWorld, params: dict[str, str], expected: list[str]
) -> None:
    response = ui.get("/experiments", params={"experiment": world.experiment.id, **params})
    assert response.status_code == 200
    assert run_rows(response.text) == expected
    for value in params.values():
        assert f'value="{escape(value)}"' in response.text  # the form keeps what was asked
    if not expected:
        assert "No run matches this filter." in response.text


def test_a_bad_filter_is_explained_next_to_the_form(ui: TestClient, world: ModelWorld) -> None:
    response = ui.get(
        "/experiments", params={"experiment": world.experiment.id, "filter": "metrics.auc >> 1"}
    )
    assert response.status_code == 422
    error = re.search(r'<p class="error" role="alert" id="filter-error">(.*?)</p>', response.text)
    assert error is not None
    assert "metrics.auc" in html.unescape(error.group(1))
    assert 'value="metrics.auc &gt;&gt; 1"' in response.text
    assert "Fix the search above to see runs." in response.text
    assert "scoring" in text_of(response.text)  # the experiments stay listed
    bad_order = ui.get("/experiments", params={"order": "sideways"})
    assert bad_order.status_code == 422
    assert "Cannot order runs by" in text_of(bad_order.text)


def test_column_headers_order_the_runs(ui: TestClient, world: ModelWorld) -> None:
    first = ui.get("/experiments", params={"experiment": world.experiment.id})
    link = re.search(r'<a href="([^"]+)" title="Order by metrics.auc">', first.text)
    assert link is not None
    ordered = ui.get(html.unescape(link.group(1)))
    assert run_rows(ordered.text) == ["tuned", "baseline", "sparse"]
    assert 'aria-sort="descending"' in ordered.text and "auc ▼" in ordered.text
    again = re.search(r'<a href="([^"]+)" title="Order by metrics.auc">', ordered.text)
    assert again is not None
    assert run_rows(ui.get(html.unescape(again.group(1))).text) == ["sparse", "baseline", "tuned"]


def test_runs_are_paged(ui: TestClient, world: ModelWorld) -> None:
    params = {"project": PROJECT, "per_page": 2}
    first = ui.get("/experiments", params=params)
    assert run_rows(first.text) == ["sparse", "tuned"]
    assert 'rel="prev"' not in first.text
    older = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert older is not None
    second = ui.get(html.unescape(older.group(1)))
    assert run_rows(second.text) == ["baseline", XSS]
    assert 'rel="next"' not in second.text
    newer = re.search(r'<a href="([^"]+)" rel="prev">', second.text)
    assert newer is not None
    assert run_rows(ui.get(html.unescape(newer.group(1))).text) == ["sparse", "tuned"]
    bad = ui.get("/experiments", params={"page_token": "nope"})
    assert bad.status_code == 422 and "is not one this server issued" in text_of(bad.text)


def test_an_unknown_experiment_or_project_is_a_404_page(ui: TestClient) -> None:
    response = ui.get("/experiments", params={"experiment": "exp_nope"})
    assert response.status_code == 404
    page = text_of(response.text)
    assert "No experiment with id 'exp_nope'." in page and "Back to experiments" in page
    assert ui.get("/experiments", params={"project": "nope"}).status_code == 404


# --- a run ----------------------------------------------------------------------------------


def test_run_page_shows_what_the_run_recorded(ui: TestClient, world: ModelWorld) -> None:
    run = world.runs[1]
    response = ui.get(f"/runs/{run.id}")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "tuned FINISHED" in page
    assert "User mira" in page
    assert "Started 2026-05-28 21:26:40 UTC" in page
    assert "Ended 2026-05-28 21:29:16 UTC, after 2 min 36 s" in page
    assert f"git_commit {COMMIT} · branch main · dirty False" in page
    params = text_of(section(response.text, '<table class="kv params">'))
    assert "C 0.5" in params and "solver lbfgs" in params and "target is_fraud" in params
    metrics = text_of(section(response.text, '<table class="kv metrics">'))
    assert "auc 0.86" in metrics and "loss" in metrics
    assert "stage tuning team risk" in text_of(
        section(response.text, '<table class="kv run-tags">')
    )
    inputs = section(response.text, '<table class="inputs">')
    assert '<a href="/data/fraud/transactions/v/v1">fraud/transactions@v1</a>' in inputs
    assert "training" in inputs
    artifacts = section(response.text, '<table class="artifacts">')
    assert "model/model.pkl" in artifacts
    assert world.versions[1].files[0]["digest"][:16] in artifacts
    # Where it came from and what was made of it, and the version registered from it.
    for direction in ("both", "up", "down"):
        assert f"/lineage?ref=run%3A{run.id}&amp;direction={direction}" in response.text
    assert '<a href="/models/fraud/scorer/v/2">fraud/scorer/v2</a>' in response.text
    # The environment is there, folded away.
    assert re.search(r'<details class="env card" id="environment">', response.text)
    assert "scikit-learn" in section(response.text, '<details class="env', "</details>")


def test_run_page_draws_each_metric_history(ui: TestClient, world: ModelWorld) -> None:
    response = ui.get(f"/runs/{world.runs[1].id}")
    svgs = re.findall(r'<svg class="chart chart-line".*?</svg>', response.text, re.S)
    assert len(svgs) == 2  # auc and loss
    auc = svgs[0]
    assert 'aria-label="History of auc"' in auc
    points = re.search(r'<polyline class="line" points="([^"]+)"', auc)
    assert points is not None and len(points.group(1).split()) == 4
    assert auc.count('<circle class="point"') == 4
    assert "tuned" not in auc and "auc · step 3: 0.86" in auc


def test_nan_and_infinite_points_are_skipped_and_counted(ui: TestClient, world: ModelWorld) -> None:
    response = ui.get(f"/runs/{world.runs[2].id}")
    auc = re.findall(r'<section class="card metric".*?</section>', response.text, re.S)[0]
    points = re.search(r'<polyline class="line" points="([^"]+)"', auc)
    assert points is not None and len(points.group(1).split()) == 3  # 5 logged, 2 not finite
    assert "2 points not drawn (NaN or infinite)" in text_of(auc)


def test_the_lineage_of_a_run_and_a_version_link_back_to_their_pages(
    ui: TestClient, world: ModelWorld
) -> None:
    run, version = world.runs[0], world.versions[0]
    response = ui.get("/lineage", params={"ref": run.ref, "direction": "both"})
    assert f'<a href="/runs/{run.id}" title="Open its page">scoring/baseline</a>' in response.text
    drawn = text_of(section(response.text, '<svg class="graph"', "</svg>"))
    assert "fraud/transactions@v1" in drawn and "fraud/scorer/v1" in drawn
    response = ui.get("/lineage", params={"ref": version.ref, "direction": "up"})
    assert '<a href="/models/fraud/scorer/v/1" title="Open its page">' in response.text


def test_an_unknown_run_is_a_404_page(ui: TestClient) -> None:
    response = ui.get("/runs/run_nope")
    assert response.status_code == 404
    assert "No run with id 'run_nope'." in text_of(response.text)
    assert "Traceback" not in response.text


# --- compare --------------------------------------------------------------------------------


def compare_url(runs: list[Run], **extra: str) -> str:
    return "/experiments/compare?" + urlencode([("run", r.id) for r in runs] + list(extra.items()))


def test_compare_marks_the_params_that_differ(ui: TestClient, world: ModelWorld) -> None:
    response = ui.get(compare_url(world.runs))
    assert response.status_code == 200
    params = section(response.text, '<table class="compare params">')
    rows = {
        key: cls
        for cls, key in re.findall(
            r'<tr class="(differs|same)">\s*<td class="key mono">([^<]+)</td>', params
        )
    }
    assert rows == {"C": "differs", "model": "same", "solver": "same", "target": "same"}
    c_row = text_of(section(params, '<tr class="differs">', "</tr>"))
    assert c_row == " C 1.0 0.5 0.1 "
    assert "differ between the runs: 1 parameter, 2 metrics." in text_of(response.text)
    headers = text_of(section(params, "<thead>", "</thead>"))
    assert "baseline" in headers and "tuned" in headers and "sparse" in headers
    metrics = text_of(section(response.text, '<table class="compare metrics">'))
    assert "auc 0.81 0.86 0.79" in metrics


def test_compare_overlays_one_line_per_run_for_shared_metrics(
    ui: TestClient, world: ModelWorld
) -> None:
    response = ui.get(compare_url(world.runs))
    charts = re.findall(r'<section class="card metric".*?</section>', response.text, re.S)
    assert len(charts) == 2  # auc and loss, logged by all three
    auc = charts[0]
    assert auc.count('<polyline class="line"') == 3
    colours = re.findall(r'<polyline class="line" points="[^"]+" stroke="([^"]+)"', auc)
    assert len(set(colours)) == 3
    legend = text_of(section(auc, '<ul class="legend">', "</ul>"))
    assert "baseline" in legend and "tuned" in legend and "sparse (2 not drawn)" in legend


def test_compare_can_show_only_the_differences(ui: TestClient, world: ModelWorld) -> None:
    response = ui.get(compare_url(world.runs[:2], only_differences="true"))
    params = text_of(section(response.text, '<table class="compare params">'))
    assert "C 1.0 0.5" in params and "solver" not in params
    assert "Show every row" in response.text


def test_compare_needs_two_runs(ui: TestClient, world: ModelWorld) -> None:
    response = ui.get(compare_url(world.runs[:1]))
    assert response.status_code == 422
    assert "Tick at least two runs to compare; got 1." in text_of(response.text)
    assert ui.get(compare_url(world.runs[:1]) + "&run=run_nope").status_code == 404


# --- models ---------------------------------------------------------------------------------


def test_models_page_lists_models_with_their_aliases(ui: TestClient) -> None:
    response = ui.get("/models")
    assert response.status_code == 200
    row = section(response.text, '<tr id="model-fraud-scorer">', "</tr>")
    assert '<a class="badge alias production" href="/models/fraud/scorer/v/1"' in row
    assert "production: v1" in row and "staging: v3" in row
    cells = text_of(row)
    assert "fraud/ scorer Scores card transactions for fraud." in cells
    assert "production: v1 staging: v3 v3 mira" in cells
    ranker = text_of(section(response.text, '<tr id="model-fraud-ranker">', "</tr>"))
    assert "Orders the review queue. none no version mira" in ranker
    other = ui.get("/models", params={"project": "retail"})
    assert other.status_code == 404


def test_model_page_lists_versions_with_their_run_data_and_approvals(
    ui: TestClient, world: ModelWorld
) -> None:
    response = ui.get("/models/fraud/scorer")
    assert response.status_code == 200
    versions = section(response.text, '<table class="versions">')
    assert re.findall(r'<tr id="v(\d)">', versions) == ["3", "2", "1"]
    v1 = text_of(section(versions, '<tr id="v1">', "</tr>"))
    assert "v1" in v1 and "mira sklearn" in v1 and "auc 0.81" in v1
    assert "fraud/transactions@v1" in v1 and "production" in v1 and v1.rstrip().endswith("1")
    assert text_of(section(versions, '<tr id="v3">', "</tr>")).rstrip().endswith("staging 0")
    assert f'<a href="/runs/{world.runs[0].id}" title="{world.runs[0].id}">baseline</a>' in versions
    assert 'href="/data/fraud/transactions/v/v1"' in versions
    assert 'href="/models/fraud/scorer/card"' in response.text


def test_model_page_shows_the_policy_and_what_the_candidate_misses(ui: TestClient) -> None:
    response = ui.get("/models/fraud/scorer")
    production = section(
        response.text, '<section class="card alias-state" id="alias-production">', "</section>"
    )
    page = text_of(production)
    assert "production → v1" in page and "rollback by mira: “revenue dropped”" in page
    assert "an approval by an approver other than the version's author" in page
    assert "metric_at_least(metric=auc, min=0.8)" in page and "has_training_data" in page
    assert "Candidate: v3 (the latest version)" in page
    missing = text_of(section(production, '<div class="error missing"', "</div>"))
    assert "v3 cannot move production yet." in missing
    assert "an approval by an approver other than the author (mira)" in missing
    assert "check metric_at_least: auc = 0.79 (needs >= 0.8)" in missing
    staging = text_of(section(response.text, 'id="alias-staging">', "</section>"))
    assert "staging → v3" in staging and "No release policy for this alias" in staging


def test_alias_history_marks_rollbacks(ui: TestClient) -> None:
    response = ui.get("/models/fraud/scorer")
    history = section(response.text, '<table class="history">')
    rows = re.findall(r'<tr class="kind-(\w+)">(.*?)</tr>', history, re.S)
    moves = [(kind, text_of(cells).split()) for kind, cells in rows]
    assert [kind for kind, _ in moves] == ["set", "rollback", "promote", "promote"]
    rollback = text_of(rows[1][1])
    assert "production ↩ rollback v2 v1 mira revenue dropped" in rollback
    assert "production promote — v1 mira first release" in text_of(rows[3][1])
    assert '<span class="badge kind-rollback">↩ rollback</span>' in history


def test_version_page_shows_files_signature_data_run_and_approvals(
    ui: TestClient, world: ModelWorld
) -> None:
    version = world.versions[0]
    response = ui.get("/models/fraud/scorer/v/1")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "scorer v1 production sklearn" in page
    files = section(response.text, '<table class="files">')
    assert "model/model.pkl" in files and version.files[0]["digest"] in files
    assert "amount" in text_of(section(response.text, '<table class="signature-inputs">'))
    assert "is_fraud" in text_of(section(response.text, '<table class="signature-outputs">'))
    assert "auc 0.81" in text_of(section(response.text, '<table class="metrics">'))
    assert '<a href="/data/fraud/transactions/v/v1">fraud/transactions@v1</a>' in response.text
    assert f'<a href="/runs/{world.runs[0].id}">baseline</a>' in response.text
    approvals = text_of(section(response.text, '<table class="approvals">'))
    assert "theo any" in approvals and "checked the FPR on last month's data" in approvals
    assert f"/lineage?ref=model_version%3A{version.id}&amp;direction=both" in response.text
    assert 'href="/models/fraud/scorer/card?version=1"' in response.text


def test_a_version_can_be_opened_by_alias(ui: TestClient) -> None:
    response = ui.get("/models/fraud/scorer/v/staging")
    assert response.status_code == 200
    assert "scorer v3" in text_of(response.text)
    assert "Not approved yet." in text_of(response.text)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/models/fraud/nope", "No model named 'fraud/nope'."),
        ("/models/nope/scorer", "No model named 'nope/scorer'."),
        ("/models/fraud/scorer/v/9", "Model 'scorer' has no version or alias '9'."),
        ("/models/fraud/scorer/v/canary", "has no version or alias 'canary'."),
        ("/models/fraud/ranker/card", "has no version yet"),
        ("/models/fraud/ranker/card.md", "has no version yet"),
    ],
)
def test_unknown_models_and_versions_are_404_pages(ui: TestClient, path: str, message: str) -> None:
    response = ui.get(path)
    assert response.status_code == 404
    page = text_of(response.text)
    assert message in page and "Back to models" in page


# --- model card -----------------------------------------------------------------------------


def test_card_page_renders_the_card_of_production(ui: TestClient) -> None:
    response = ui.get("/models/fraud/scorer/card")
    assert response.status_code == 200
    card = section(response.text, '<article class="model-card">', "</article>")
    assert "<h1>Model card: fraud/scorer version 1</h1>" in card
    assert "Scores card transactions for fraud." in card
    assert "<strong>purpose</strong>: Rank transactions for manual review." in card
    assert "fraud/transactions@v1" in card and "approved by theo" in card
    assert 'href="/models/fraud/scorer/card.md?version=1" download' in response.text
    other = ui.get("/models/fraud/scorer/card", params={"version": 3})
    assert "<h1>Model card: fraud/scorer version 3</h1>" in other.text
    assert "missing before promotion" in other.text


def test_card_markdown_downloads(ui: TestClient) -> None:
    response = ui.get("/models/fraud/scorer/card.md", params={"version": 2})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert 'filename="fraud-scorer-v2-card.md"' in response.headers["content-disposition"]
    assert response.text.startswith("# Model card: fraud/scorer version 2\n")
    assert "- **purpose**: Rank transactions for manual review." in response.text
    default = ui.get("/models/fraud/scorer/card.md")
    assert default.text.startswith("# Model card: fraud/scorer version 1\n")  # production's


# --- escaping and helpers -------------------------------------------------------------------


def test_html_in_a_run_name_and_a_param_is_escaped(ui: TestClient, world: ModelWorld) -> None:
    run = world.xss_run
    escaped = "&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt;"
    pages = [
        ui.get("/experiments").text,
        ui.get(f"/runs/{run.id}").text,
        ui.get(compare_url([run, world.runs[0]])).text,
    ]
    for body in pages:
        assert "<script>alert" not in body
        assert escaped in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in pages[1] and "<b>bold</b>" not in pages[1]


def test_formatting_helpers() -> None:
    assert ms_when(START) == "2026-05-28 20:26:40"
    assert ms_when(None) == ""
    assert duration(0, 850) == "850 ms"
    assert duration(0, 12_300) == "12.3 s"
    assert duration(0, 252_000) == "4 min 12 s"
    assert duration(0, 3 * 3_600_000 + 60_000) == "3 h 1 min"
    assert duration(0, None) == ""
    assert metric_text(0.861234) == "0.8612" and metric_text("NaN") == "NaN"
    assert metric_text("-Infinity") == "-Infinity"
    assert model_url("fraud/scorer") == "/models/fraud/scorer"
    assert model_url("fraud/scorer", "production") == "/models/fraud/scorer/v/production"
    assert dataset_label_url("fraud/transactions@v3") == "/data/fraud/transactions/v/v3"
    assert object_url("run:run_1") == "/runs/run_1"
    assert object_url("model:fraud/scorer") == "/models/fraud/scorer"
    assert object_url("model_version:mv_1", "fraud/scorer/v2") == "/models/fraud/scorer/v/2"
    assert object_url("dataset_version:dsv_1", "fraud/tx@v4") == "/data/fraud/tx/v/v4"
    assert object_url("model_version:mv_1", "odd label") is None
    assert object_url("artifact:art_1") is None
    assert check_text({"name": "has_signature"}) == "has_signature"
    assert check_text({"name": "metric_at_most", "metric": "loss", "max": 0.3}) == (
        "metric_at_most(max=0.3, metric=loss)"
    )
