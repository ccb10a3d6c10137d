"""The UI in a real browser: a uvicorn server on a socket, driven by headless Chromium.

Uses Debian's Chromium through Playwright (``playwright install`` cannot download browsers
on a closed network). Saves a full-page screenshot of each page under
``test-artifacts/screenshots/`` so that a person can look at what was tested.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn

from passline.demo import DemoSummary, run_demo
from passline.server.app import create_app
from passline.server.ui import BLOCKS
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from tests.test_ui_data import PROJECT, Shop, populate
from tests.test_ui_models import ModelWorld, populate_models
from tests.test_ui_serving import ENDPOINT, ServingWorld, populate_serving

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.serial]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@dataclass
class LiveServer:
    url: str
    demo: DemoSummary
    shop: Shop
    viewer_token: str  # a viewer of the shop without a grant on its restricted dataset
    models: ModelWorld
    serving: ServingWorld
    trace_id: str  # a question answered with a retrieval and a model call
    eval_run: str  # an evaluation run of three cases, one of them wrong


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(url: str, thread: threading.Thread, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("The uvicorn server thread stopped before it answered.")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"The server at {url} did not answer /api/v1/health within {timeout}s.")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A demo workspace, plus the shop's datasets, the fraud project's runs and models and
    the checkout project's endpoints with real traffic, served by uvicorn on a free local
    port, in a background thread. Built once for the module (the demo trains models:
    seconds); the tests only read it."""
    tmp_path = tmp_path_factory.mktemp("browser")
    workspace = Workspace.open(Settings(home=tmp_path / "home"))
    demo = run_demo(workspace, evaluations=False)
    admin = workspace.services(workspace.local_context("sdk"))
    shop = populate(admin, tmp_path)
    admin.identity.create_user("vera", "Vera Viewer")
    admin.projects.add_member(PROJECT, "vera", "viewer")
    viewer_token = admin.identity.create_token("vera-ui", user="vera").secret
    models = populate_models(workspace)
    serving = populate_serving(workspace)
    trace = admin.tracing.start(app="assistant", name="ask", project="retail-demand")
    trace.input_preview = "How many units did store 3 sell last week?"
    with trace.span("retrieve", kind="retrieval"), trace.span("embed"):
        pass
    with trace.span("chat", kind="chat", **{"gen_ai.usage.input_tokens": 42}):
        time.sleep(0.01)
    trace_id = admin.tracing.save(trace)
    eval_run = _evaluation_run(admin)
    port = _free_port()
    config = uvicorn.Config(
        create_app(workspace=workspace), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, thread)
        yield LiveServer(url, demo, shop, viewer_token, models, serving, trace_id, eval_run)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        workspace.close()


def _evaluation_run(admin: Services) -> str:
    from passline.evaluation.targets import FunctionTarget

    cases = [
        {"id": f"c{i}", "question": f"What is {i} + {i}?", "expected": str(2 * i)}
        for i in (1, 2, 3)
    ]
    admin.evaluation.create_suite("retail-demand/sums", cases, ["contains"])
    answers = {"c1": "2", "c2": "4", "c3": "7"}
    return admin.evaluation.run("retail-demand/sums", FunctionTarget(lambda c: answers[c.id])).id


@pytest.fixture
def chromium_path() -> str:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; install Debian's chromium (scripts/ensure-chromium.sh)."
        if os.environ.get("PASSLINE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return str(CHROMIUM)


@pytest.fixture
def page(chromium_path: str) -> Iterator[Page]:
    """A fresh page in headless Chromium (no network beyond the local server)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, server: LiveServer, token: str | None = None) -> None:
    page.goto(f"{server.url}/")
    assert "/login" in page.url  # no session yet: sent to the login form
    if token is None:
        screenshot(page, "login")
    page.fill("input[name=token]", token or server.demo.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def test_every_page_in_a_real_browser(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    server = live_server
    log_in(page, server)

    expect(page.locator("h1")).to_have_text("Projects")
    for name in ("retail-demand", "fraud-detection", "hr-assistant"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    expect(page.get_by_text(f"Signed in as {server.demo.admin}")).to_be_visible()
    screenshot(page, "projects")

    page.get_by_role("link", name="retail-demand").click()
    expect(page.locator("h1")).to_have_text("retail-demand")
    expect(page.get_by_role("cell", name="demand_features.csv")).to_be_visible()
    expect(page.get_by_role("cell", name="contributor")).to_be_visible()
    screenshot(page, "project")

    features = next(a for a in server.demo.artifacts if a.name == "demand_features.csv")
    page.goto(f"{server.url}/lineage?ref={features.ref}&direction=both&depth=5")
    svg = page.locator("svg.graph")
    expect(svg).to_be_visible()
    for label in ("demand_features.csv", "erp_sales_2026w1-8.csv", "ERP sales (PostgreSQL)"):
        expect(svg.get_by_text(label, exact=True)).to_be_visible()
    expect(svg.locator("path.edge")).to_have_count(4)
    screenshot(page, "lineage")

    # Clicking a box re-centres the graph on it.
    svg.get_by_text("Inventory CSV drop", exact=True).click()
    page.wait_for_url("**/lineage?ref=source%3Ainventory-sftp*")
    expect(page.locator("svg.graph").get_by_text("demand_features.csv", exact=True)).to_be_visible()

    page.goto(f"{server.url}/audit")
    page.fill("input[name=action]", "lineage.")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit?*action=lineage.*")
    rows = page.locator("table.audit tbody tr")
    expect(rows.first).to_contain_text("lineage.")
    actions = page.locator("table.audit tbody tr td:nth-child(4)").all_inner_texts()
    assert actions and all(a.startswith("lineage.") for a in actions), actions
    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator("#verification")).to_contain_text("Audit chain intact")
    screenshot(page, "audit-verify")
    page.goto(f"{server.url}/audit?action=lineage.")
    screenshot(page, "audit")

    for slug, (title, _purpose) in BLOCKS.items():
        page.get_by_role("navigation").get_by_role("link", name=title, exact=True).click()
        page.wait_for_url(f"{server.url}/{slug}")
        expect(page.locator("h1")).to_have_text(title)
        expect(page.get_by_text("This block is not built yet.")).to_be_visible()
        screenshot(page, f"block-{slug}")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")


def test_a_bad_token_is_refused_in_the_browser(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login")
    page.fill("input[name=token]", "tok_nope.not-a-secret")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("The API token is invalid.")


def test_an_unknown_lineage_ref_shows_the_error_page(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server)
    response = page.goto(f"{live_server.url}/lineage?ref=artifact:art_nope")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("No object 'artifact:art_nope'")
    screenshot(page, "error-404")


def test_data_pages_in_a_real_browser(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    server = live_server
    log_in(page, server)
    page.get_by_role("navigation").get_by_role("link", name="Data", exact=True).click()
    page.wait_for_url(f"{server.url}/data")
    expect(page.locator("h1")).to_have_text("Data")
    catalog = page.locator("table.catalog")
    for name in ("sales", "stores", "payroll"):
        expect(catalog.get_by_role("link", name=f"{PROJECT}/{name}")).to_be_visible()
    payroll = catalog.locator("tr", has=page.get_by_role("link", name=f"{PROJECT}/payroll"))
    expect(payroll.locator(".badge.restricted")).to_have_text("restricted")
    expect(page.locator("table.sources").get_by_text("stores-csv")).to_be_visible()
    screenshot(page, "data-catalog")

    page.select_option("select[name=sensitivity]", "restricted")
    page.select_option("select[name=project]", PROJECT)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/data?*sensitivity=restricted*")
    expect(catalog.locator("tbody tr")).to_have_count(1)
    expect(catalog).to_contain_text("payroll")

    page.goto(f"{server.url}/data")
    catalog.get_by_role("link", name=f"{PROJECT}/sales").click()
    page.wait_for_url(f"{server.url}/data/{PROJECT}/sales")
    expect(page.locator("h1")).to_have_text("sales")
    expect(page.locator("tr#v3 .badge.quarantined")).to_be_visible()
    expect(page.locator("tr#v2 .badge.latest")).to_be_visible()
    expect(page.locator("table.schema")).to_contain_text("email · 100%")
    expect(page.locator("pre.yaml")).to_contain_text("type: range, column: units")
    screenshot(page, "data-dataset")

    page.locator("tr#v3").get_by_role("link", name="v3").click()
    page.wait_for_url(f"{server.url}/data/{PROJECT}/sales/v/v3")
    expect(page.locator("h1")).to_have_text("sales v3")
    expect(page.locator("table.quality tbody tr").first).to_contain_text("values outside [0, 20]")
    units = page.locator("#col-units")
    expect(units.locator("svg.chart-histogram rect.bar")).to_have_count(20)
    expect(page.locator("#col-store svg.chart-top")).to_be_visible()
    screenshot(page, "data-version")

    page.locator("main").get_by_role("link", name="Lineage", exact=True).click()
    page.wait_for_url("**/lineage?ref=dataset_version%3A*")
    expect(page.locator("svg.graph")).to_be_visible()


def test_restricted_values_are_hidden_in_a_real_browser(
    live_server: LiveServer, page: Page
) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server, live_server.viewer_token)
    page.goto(f"{live_server.url}/data/{PROJECT}/payroll/v/v1")
    expect(page.locator("#hidden-note")).to_contain_text(
        "Values hidden: restricted dataset, ask the owner"
    )
    expect(page.locator("#col-salary")).to_contain_text("Values hidden (restricted).")
    expect(page.locator("svg.chart")).to_have_count(0)
    screenshot(page, "data-version-restricted")


def test_experiment_and_model_pages_in_a_real_browser(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    server, world = live_server, live_server.models
    baseline, tuned, sparse = world.runs
    log_in(page, server)
    page.get_by_role("navigation", name="Blocks").get_by_role(
        "link", name="Experiments", exact=True
    ).click()
    page.wait_for_url(f"{server.url}/experiments")
    expect(page.locator("h1")).to_have_text("Experiments")
    page.locator(f'nav.experiments a[href="/experiments?experiment={world.experiment.id}"]').click()
    page.wait_for_url("**/experiments?experiment=*")
    runs = page.locator("table.runs tbody tr")
    expect(runs).to_have_count(3)
    expect(page.locator(f"#run-{tuned.id}")).to_contain_text("0.86")
    screenshot(page, "experiments")

    page.fill("input[name=filter]", "metrics.auc >> 1")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#filter-error")).to_contain_text("metrics.auc")
    screenshot(page, "experiments-bad-filter")
    page.fill("input[name=filter]", "metrics.auc > 0.8")
    page.get_by_role("button", name="Search").click()
    expect(runs).to_have_count(2)

    page.locator(f"#run-{baseline.id} input[type=checkbox]").check()
    page.locator(f"#run-{tuned.id} input[type=checkbox]").check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/experiments/compare?run=*")
    expect(page.locator("h1")).to_have_text("Compare 2 runs")
    differs = page.locator("table.compare.params tr.differs")
    expect(differs).to_have_count(1)
    expect(differs).to_contain_text("C")
    auc = page.locator("section.metric").first
    expect(auc.locator("polyline.line")).to_have_count(2)
    expect(auc.locator("ul.legend li")).to_have_count(2)
    screenshot(page, "compare")

    page.goto(f"{server.url}/runs/{sparse.id}")
    expect(page.locator("h1")).to_have_text("sparse")
    expect(page.locator("svg.chart-line")).to_have_count(2)
    expect(page.locator("section.metric").first).to_contain_text("2 points not drawn")
    environment = page.locator("#environment pre")
    expect(environment).to_be_hidden()
    page.locator("#environment summary").click()
    expect(environment).to_contain_text("scikit-learn")
    screenshot(page, "run")
    page.locator("main").get_by_role("link", name="fraud/transactions@v1").click()
    page.wait_for_url(f"{server.url}/data/fraud/transactions/v/v1")
    expect(page.locator("h1")).to_have_text("transactions v1")

    page.get_by_role("navigation", name="Blocks").get_by_role(
        "link", name="Models", exact=True
    ).click()
    page.wait_for_url(f"{server.url}/models")
    scorer = page.locator("#model-fraud-scorer")
    expect(scorer.locator(".badge.alias.production")).to_have_text("production: v1")
    screenshot(page, "models")

    scorer.get_by_role("link", name="fraud/scorer").click()
    page.wait_for_url(f"{server.url}/models/fraud/scorer")
    expect(page.locator("#alias-production .error.missing")).to_contain_text(
        "v3 cannot move production yet"
    )
    expect(page.locator("table.history tr.kind-rollback")).to_contain_text("revenue dropped")
    expect(page.locator("table.versions tbody tr")).to_have_count(3)
    screenshot(page, "model")

    page.locator("table.versions tr#v1").get_by_role("link", name="v1", exact=True).click()
    page.wait_for_url(f"{server.url}/models/fraud/scorer/v/1")
    expect(page.locator("table.files")).to_contain_text(world.versions[0].files[0]["digest"])
    screenshot(page, "model-version")

    page.locator("main").get_by_role("link", name="Model card of v1").click()
    page.wait_for_url("**/models/fraud/scorer/card?version=1")
    expect(page.locator("article.model-card h1")).to_have_text("Model card: fraud/scorer version 1")
    expect(page.get_by_role("link", name="Download Markdown")).to_have_attribute(
        "href", "/models/fraud/scorer/card.md?version=1"
    )
    screenshot(page, "model-card")


def test_serving_and_monitoring_pages_in_a_real_browser(
    live_server: LiveServer, page: Page
) -> None:
    from playwright.sync_api import expect

    server = live_server
    log_in(page, server)
    blocks = page.get_by_role("navigation", name="Blocks")
    blocks.get_by_role("link", name="Serving", exact=True).click()
    page.wait_for_url(f"{server.url}/serving")
    expect(page.locator("h1")).to_have_text("Serving")
    scoring = page.locator("#endpoint-checkout-scoring")
    expect(scoring).to_contain_text("production → v1")
    expect(scoring).to_contain_text("v2 · 10%")
    expect(page.locator("#endpoint-checkout-quiet")).to_contain_text("No traffic in the last hour")
    screenshot(page, "serving")

    scoring.get_by_role("link", name=ENDPOINT).click()
    page.wait_for_url(f"{server.url}/serving/{ENDPOINT}")
    expect(page.locator("h1")).to_have_text("scoring")
    expect(page.locator("nav.windows a.active")).to_have_text("1h")
    for role in ("primary", "canary", "shadow"):
        expect(page.locator(f"#latency-{role} svg.chart-line")).to_be_visible()
    expect(page.locator("#throughput polyline.line")).to_have_count(3)

    page.locator("nav.windows").get_by_role("link", name="24h", exact=True).click()
    page.wait_for_url(f"{server.url}/serving/{ENDPOINT}?window=24h")
    expect(page.locator("nav.windows a.active")).to_have_text("24h")
    expect(page.get_by_text("Traffic over the last 24h")).to_be_visible()
    page.select_option("select[name=segment]", "channel")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/serving/checkout/scoring?window=24h&segment=channel")
    expect(page.locator("#segments-v1")).to_be_visible()
    expect(page.locator("table.disparity tr.flagged").first).to_contain_text("far from 1")
    expect(page.locator("#drift")).to_be_visible()
    screenshot(page, "endpoint")

    blocks.get_by_role("link", name="Monitoring", exact=True).click()
    page.wait_for_url(f"{server.url}/monitoring")
    expect(page.locator("h1")).to_have_text("Monitoring")
    # The demo may roll back its own canaries: only checkout's alerts are this world's.
    rollback = page.locator("table.alerts tr.rollback").filter(has_text="checkout/canary-errors")
    expect(rollback).to_have_count(1)
    expect(rollback).to_contain_text("Canary v3 taken out of the traffic in")
    expect(page.locator("#monitor-checkout-recall")).to_contain_text("never run")
    screenshot(page, "monitoring")


def test_drift_pages_in_a_real_browser(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    server = live_server
    log_in(page, server)
    # The demo's forecast endpoint got weeks past its training data, after the shock that
    # moved shoppers online: its drift section says so, column by column.
    page.goto(f"{server.url}/serving/retail-demand/forecast?window=24h#drift")
    drift = page.locator("#drift")
    expect(drift.locator("#drift-verdict")).to_contain_text("Drift detected")
    expect(drift.locator("#drift-verdict")).to_contain_text("retail-demand/sales@v1")
    expect(drift.locator("table.drift-columns tr.drifted").first).to_be_visible()
    channel = drift.locator('section.drift-col[data-column="channel"]')
    expect(channel.locator(".badge.error")).to_have_text("drifted")
    for side in ("reference", "current"):
        expect(channel.locator(f"svg.chart-paired g.{side} rect.bar").first).to_be_visible()
    price = drift.locator('section.drift-col[data-column="price"] svg.chart-paired-histogram')
    expect(price).to_be_visible()
    expect(drift.locator("#drift-prediction svg.chart-paired")).to_be_visible()
    drift.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    drift.screenshot(path=str(SCREENSHOTS / "drift-endpoint.png"))

    # With a canary, a switch shows the canary's report (here: it answered nothing yet).
    page.goto(f"{server.url}/serving/{ENDPOINT}")
    page.locator("nav.roles").get_by_role("link", name="canary v2").click()
    page.wait_for_url("**/serving/checkout/scoring?window=1h&role=canary#drift")
    expect(page.locator("nav.roles a.active")).to_have_text("canary v2")
    expect(page.locator("#no-drift-traffic")).to_contain_text("No canary traffic in the last 1h.")
    expect(page.locator("nav.windows a.active")).to_have_text("1h")

    # From a dataset version, "Compare with…" leads to /drift, which suggests the others.
    page.goto(f"{server.url}/data/fraud-detection/transactions/v/v2")
    page.get_by_role("link", name="Compare with…").click()
    page.wait_for_url("**/drift?current=fraud-detection/transactions%40v2")
    expect(page.locator("input[name=current]")).to_have_value("fraud-detection/transactions@v2")
    page.locator("#drift-pick").get_by_role("link", name="fraud-detection/transactions@v1").click()
    page.wait_for_url("**/drift?reference=*&current=*")
    expect(page.locator("#drift-verdict")).to_be_visible()
    expect(page.locator("table.drift-columns tbody tr").first).to_be_visible()
    expect(page.locator("svg.chart-paired").first).to_be_visible()
    screenshot(page, "drift-datasets")

    page.fill("input[name=reference]", "fraud-detection/transactions@v9")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#drift-error")).to_contain_text("has no version 'v9'")


def test_llm_pages_in_a_real_browser(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    server, trace_id = live_server, live_server.trace_id
    log_in(page, server)
    page.get_by_role("navigation", name="Blocks").get_by_role(
        "link", name="LLM", exact=True
    ).click()
    page.wait_for_url(f"{server.url}/llm")
    expect(page.locator("#guard-block")).to_be_visible()
    screenshot(page, "llm")

    page.locator(f"#trace-{trace_id}").get_by_role("link", name=f"{trace_id[:12]}…").click()
    page.wait_for_url(f"{server.url}/traces/{trace_id}")
    expect(page.locator("svg.waterfall g.span")).to_have_count(3)
    expect(page.locator("svg.waterfall g.kind-retrieval rect.bar")).to_be_visible()
    expect(page.locator('svg.waterfall g.span[data-depth="1"] text.name')).to_have_text("embed")
    page.get_by_label("▲ Thumbs up").check()
    page.fill("textarea[name=comment]", "Clear and right")
    page.get_by_role("button", name="Send feedback").click()
    page.wait_for_url(f"{server.url}/traces/{trace_id}#feedback")
    feedback = page.locator("table.feedback tbody tr")
    expect(feedback).to_have_count(1)
    expect(feedback).to_contain_text("Clear and right")
    expect(feedback.locator(".badge.up")).to_be_visible()
    screenshot(page, "trace")


def test_evaluation_pages_in_a_real_browser(live_server: LiveServer, page: Page) -> None:
    from playwright.sync_api import expect

    server, run_id = live_server, live_server.eval_run
    log_in(page, server)
    page.goto(f"{server.url}/llm")
    page.get_by_role("navigation", name="LLM pages").get_by_role("link", name="Evaluations").click()
    page.wait_for_url(f"{server.url}/evals")
    page.locator(f"#run-{run_id}").get_by_role("link", name=run_id).click()
    page.wait_for_url(f"{server.url}/evals/runs/{run_id}")
    expect(page.locator("table.cases tbody tr")).to_have_count(3)
    expect(page.locator("#case-c3")).to_contain_text("fail")
    expect(page.locator("#scorer-contains")).to_contain_text("0.67")
    screenshot(page, "eval-run")
