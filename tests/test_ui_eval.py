"""The evaluation and red-team pages of the web UI, in-process.

``eval_template`` builds one workspace for the module with the real services and fake
models: a suite of facts run twice (a right target labelled production, then a worse one
whose release check fails on the regression), a judged suite (a judge asked twice per
case, one answer it cannot parse), production traces of two prompt versions scored online,
and two red-team runs (a model that obeys every attack, one that refuses all). Each test
works on its own copy of that workspace.
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passline.evaluation.cases import Case
from passline.evaluation.targets import FunctionTarget
from passline.llm.types import Message
from passline.services.llm import LlmModel, LlmService
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from tests.conftest import services_as
from tests.evaluation.conftest import FakeModel
from tests.redteam.conftest import ObeyingModel, RefusingModel, use_model
from tests.test_ui import login, text_of
from tests.test_ui_llm import page_of, row

pytest.importorskip("sentence_transformers")  # online groundedness reads embeddings

PROJECT = "qa"
OTHER = "ops"  # olga's project: she is no member of qa
SUITE = f"{PROJECT}/facts"
FINDINGS = f"{PROJECT}/redteam-findings"  # the first finding is in it already
PROMPT = f"{PROJECT}/answer"
FACTS = {f"q{i}": f"The answer to question {i} is {10 + i}." for i in range(12)}
CHECK = "contains >= 0.5 and no significant regression against production"
LEAVE = "Every employee gets 25 days of paid annual leave."


@dataclass
class EvalWorld:
    home: Path
    tokens: dict[str, str]
    runs: dict[str, str]  # baseline, candidate, judged; obeying, refusing (red team)


def right(case: Case) -> str:
    return FACTS[case.id]


def worse(case: Case) -> str:
    if case.id == "q11":
        raise TimeoutError("the model endpoint timed out")
    return "I don't know." if int(case.id[1:]) % 3 else right(case)


_GRADES = itertools.cycle((4, 5))  # q1 is judged twice: once 4, once 5 of 5


def judge(messages: list[Message]) -> str:
    """Two different grades of the same answer (a variance), nothing usable for q2."""
    if "Question 2?" in " ".join(m.content for m in messages):
        return "What a lovely answer!"
    return f'{{"score": {next(_GRADES)}, "reason": "mostly right"}}'


def assistant(messages: list[Message]) -> str:
    """Grounded in the facts of version 1's system message; version 2 has none, and
    invents."""
    system = " ".join(m.content for m in messages if m.role == "system")
    return LEAVE if "25 days" in system else "You get 40 days of leave and a company car."


def _build(home: Path, patch: pytest.MonkeyPatch) -> EvalWorld:
    ws = Workspace.open(Settings(home=home))
    admin = ws.services(ws.local_context("sdk"))
    admin.projects.create(PROJECT)
    admin.projects.create(OTHER)
    for user, project, role in (
        ("carl", PROJECT, "contributor"),
        ("vera", PROJECT, "viewer"),
        ("olga", OTHER, "admin"),
    ):
        admin.identity.create_user(user)
        admin.projects.add_member(project, user, role)
    model = FakeModel()
    info = LlmModel(
        name="fake", provider="test", config={}, input_price_per_mtok=1, output_price_per_mtok=2
    )
    patch.setattr(LlmService, "provider", lambda self, name: (model, info))
    runs = _evaluate(admin, model)
    model.reply = assistant
    _production(services_as(ws, "carl"), admin)
    use_model(patch, ObeyingModel("obeying"))
    runs["obeying"] = _attack(admin, "weak model")
    first = admin.redteam.get_run(runs["obeying"]).successful()[0]
    admin.redteam.to_case(first.id, FINDINGS)
    use_model(patch, RefusingModel("refusing"))
    runs["refusing"] = _attack(admin, "refusing model")
    tokens = {"root": admin.identity.create_token("ui").secret} | {
        u: admin.identity.create_token(f"{u}-ui", user=u).secret for u in ("carl", "vera", "olga")
    }
    ws.close()
    return EvalWorld(home, tokens, runs)


def _evaluate(admin: Services, model: FakeModel) -> dict[str, str]:
    ev = admin.evaluation
    cases = [
        {"id": k, "question": f"Question {k[1:]}?", "expected": str(10 + int(k[1:]))} for k in FACTS
    ]
    ev.create_suite(SUITE, cases, ["contains", "refusal"], "Questions with known answers")
    baseline = ev.run(SUITE, FunctionTarget(right), name="right", check="contains >= 0.9")
    ev.label_run(baseline.id, "production")
    candidate = ev.run(SUITE, FunctionTarget(worse), name="worse", check=CHECK)
    model.reply = judge
    ev.create_suite(
        f"{PROJECT}/judged",
        [{"id": "q1", "question": "Question 1?"}, {"id": "q2", "question": "Question 2?"}],
        [
            {
                "type": "llm_judge",
                "rubric": "Is it right?",
                "model": "fake",
                "repeats": 2,
                "retries": 0,
            }
        ],
    )
    judged = ev.run(f"{PROJECT}/judged", FunctionTarget(lambda c: "11"), name="judged")
    return {"baseline": baseline.id, "candidate": candidate.id, "judged": judged.id}


def _production(carl: Services, admin: Services) -> None:
    """Two prompt versions answer in production; the traces are scored online."""
    messages = [{"role": "user", "content": "{{ question }}"}]
    for system in (f"Answer from the facts: {LEAVE}", "Answer confidently."):
        carl.prompts.create(
            PROMPT, [{"role": "system", "content": system}, *messages], {"question": "string"}
        )
    for version in (1, 2):
        for _ in range(2):
            carl.llm.chat(
                prompt=f"{PROMPT}@v{version}",
                variables={"question": "How many days of leave do I get?"},
                app="assistant",
                project=PROJECT,
                user="carl",
            )
    report = admin.evaluation.online_evaluate(PROJECT, sample=50, seed=0)
    assert report.scored == 4 and report.hallucination_rate == 0.5


def _attack(admin: Services, name: str) -> str:
    categories = ["prompt_injection", "system_prompt_leak"]
    run = admin.redteam.run(
        "model:default", categories, project=PROJECT, limit=1, seed=4, name=name
    )
    return run.id


@pytest.fixture(scope="module")
def eval_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvalWorld]:
    root = tmp_path_factory.mktemp("eval-ui")
    with pytest.MonkeyPatch.context() as patch:
        yield _build(root / "home", patch)


@pytest.fixture
def settings(tmp_path: Path, eval_template: EvalWorld) -> Settings:
    """Each test gets its own copy of the workspace."""
    home = tmp_path / "home"
    shutil.copytree(eval_template.home, home)
    return Settings(home=home)


@pytest.fixture
def world(eval_template: EvalWorld) -> EvalWorld:
    return eval_template


def as_user(client: TestClient, world: EvalWorld, user: str) -> TestClient:
    login(client, world.tokens[user])
    return client


def compare_path(world: EvalWorld) -> str:
    return f"/evals/compare?a={world.runs['baseline']}&b={world.runs['candidate']}"


def finding(admin: Services, world: EvalWorld) -> Any:
    """A successful attack that is no case yet."""
    return admin.redteam.get_run(world.runs["obeying"]).successful()[1]


# --- every page -----------------------------------------------------------------------------


def pages(world: EvalWorld) -> list[tuple[str, str, str]]:
    """(path, the h1 it shows, its tab)."""
    runs = world.runs
    return [
        ("/evals", "Evaluations", "Evaluations"),
        (f"/evals?project={PROJECT}&bucket=hour", "Evaluations", "Evaluations"),
        (f"/evals/runs/{runs['baseline']}", "right", "Evaluations"),
        (f"/evals/runs/{runs['candidate']}", "worse", "Evaluations"),
        (f"/evals/runs/{runs['judged']}", "judged", "Evaluations"),
        (compare_path(world), "Compare runs", "Evaluations"),
        ("/redteam", "Red team", "Red team"),
        (f"/redteam?project={PROJECT}", "Red team", "Red team"),
        (f"/redteam/runs/{runs['obeying']}", "weak model", "Red team"),
        (f"/redteam/runs/{runs['refusing']}", "refusing model", "Red team"),
    ]


@pytest.mark.parametrize("user", ["root", "vera"])
def test_every_page_renders_for_an_admin_and_a_project_viewer(
    app_client: TestClient, world: EvalWorld, user: str
) -> None:
    as_user(app_client, world, user)
    for path, title, tab in pages(world):
        page = page_of(app_client, path)
        heading = re.search(r"<h1>(.*?)</h1>", page, re.S)
        assert heading and title in heading.group(1), path
        assert 'aria-current="page">LLM</a>' in page, path  # the LLM block is the active one
        assert f'class="active" aria-current="page">{tab}</a>' in page, path


# --- evaluations ----------------------------------------------------------------------------


def test_evals_lists_suites_runs_and_the_online_rate(
    app_client: TestClient, world: EvalWorld
) -> None:
    page = page_of(as_user(app_client, world, "vera"), "/evals")
    suite = text_of(row(page, "suite-qa-facts"))
    assert "Questions with known answers" in suite and "v1 · 12" in suite
    baseline = row(page, f"run-{world.runs['baseline']}")
    assert "qa/facts@v1" in baseline and "<code>function</code>" in baseline
    assert "contains 1.00" in text_of(baseline) and ">production</span>" in baseline
    assert 'class="badge passed"' in baseline
    candidate = row(page, f"run-{world.runs['candidate']}")
    assert 'class="badge failed"' in candidate and "contains 0.36" in text_of(candidate)
    online = re.search(r'<section class="card online" id="online-qa">.*?</section>', page, re.S)
    assert online, "no online chart for qa"
    assert online.group(0).count('<g class="series">') == 2  # a line per prompt version
    assert f"{PROMPT}@v1" in online.group(0) and f"{PROMPT}@v2" in online.group(0)
    assert re.search(r"qa/answer@v2</a></td>.*?>100%</td>", online.group(0), re.S)


def test_a_run_shows_its_cases_errors_and_failed_release_check(
    app_client: TestClient, world: EvalWorld
) -> None:
    page = page_of(as_user(app_client, world, "vera"), f"/evals/runs/{world.runs['candidate']}")
    errored = row(page, "case-q11")
    assert 'class="errored"' in errored
    assert "TimeoutError: the model endpoint timed out" in text_of(errored)
    failing = text_of(row(page, "case-q1"))
    assert "Question 1?" in failing and "I don't know." in failing and "11" in failing
    assert "contains 0.00 fail" in failing
    check = re.search(r'<h2 id="check">.*?</section>', page, re.S)
    assert check and 'class="badge failed"' in check.group(0)
    assert f'href="/evals/compare?a={world.runs["baseline"]}&amp;b={world.runs["candidate"]}"' in (
        check.group(0)
    )
    assert "contains -0.636 [-0.909, -0.364]" in text_of(check.group(0))
    form = re.search(r'<form[^>]*id="compare-form">.*?</form>', page, re.S)
    assert form and re.search(rf'<option value="{world.runs["baseline"]}">right', form.group(0))
    assert f'name="b" value="{world.runs["candidate"]}"' in form.group(0)


def test_a_judged_run_shows_the_judge_cost_variance_and_unscored_cases(
    app_client: TestClient, world: EvalWorld, admin: Services
) -> None:
    run = admin.evaluation.get_run(world.runs["judged"])
    page = page_of(as_user(app_client, world, "vera"), f"/evals/runs/{run.id}")
    judge_card = text_of(re.search(r'<h2 id="judge">.*?</section>', page, re.S).group(0))
    assert f"Judge cost ${run.judge_cost_usd:.2g}" in judge_card
    assert "llm_judge variance 0.0156" in judge_card  # scores 4 and 5 of 5: 0.75 and 1.0
    unscored = text_of(row(page, "case-q2"))
    assert "unscored" in unscored and "unparseable judge answer" in unscored


def test_a_comparison_shows_the_regression_and_its_interval(
    app_client: TestClient, world: EvalWorld, admin: Services
) -> None:
    comparison = admin.evaluation.compare(world.runs["baseline"], world.runs["candidate"])
    contains = next(d for d in comparison.scorers if d.scorer == "contains")
    page = page_of(as_user(app_client, world, "vera"), compare_path(world))
    assert "regressions: contains" in text_of(page)
    diff = row(page, "diff-contains")
    assert 'class="regression"' in diff and ">regression</span>" in diff
    assert f"[{contains.ci_low:+.3f}, {contains.ci_high:+.3f}]" in text_of(diff)
    svg = re.search(r'<svg class="interval regression".*?</svg>', diff, re.S)
    assert svg, "no interval drawn"
    x = {
        k: float(re.search(rf'class="{k}" x1="([\d.]+)"', svg.group(0)).group(1))
        for k in ("zero", "ci")
    }
    high = float(
        re.search(r'class="ci" x1="[\d.]+" y1="[\d.]+" x2="([\d.]+)"', svg.group(0)).group(1)
    )
    assert x["ci"] < high < x["zero"]  # the whole interval lies left of 0
    q1 = row(page, "change-q1")
    assert "newly failing" in text_of(q1) and "contains 1.00 → 0.00 (-1.000)" in text_of(q1)
    assert 'id="change-q0"' not in page  # q0 is right in both runs


def test_bad_comparison_parameters_are_a_clear_422(
    app_client: TestClient, world: EvalWorld
) -> None:
    as_user(app_client, world, "vera")
    baseline = world.runs["baseline"]
    page = page_of(app_client, f"/evals/compare?a={baseline}", 422)
    assert "Name the two runs to compare as ?a=BASELINE&b=CANDIDATE" in text_of(page)
    page = page_of(app_client, f"/evals/compare?a={baseline}&b={baseline}", 422)
    assert "Compare two different runs" in text_of(page)
    page = page_of(app_client, f"/evals/compare?a={baseline}&b=evr_nope", 404)
    assert "No evaluation run 'evr_nope'." in text_of(page)
    assert "'bucket' must be" in text_of(page_of(app_client, "/evals?bucket=week", 422))


# --- red teaming ----------------------------------------------------------------------------


def test_a_redteam_run_shows_its_asr_bars_and_transcripts(
    app_client: TestClient, world: EvalWorld, admin: Services
) -> None:
    run = admin.redteam.get_run(world.runs["obeying"])
    listing = page_of(as_user(app_client, world, "vera"), "/redteam")
    assert run.target_label in text_of(row(listing, f"run-{run.id}"))
    page = page_of(app_client, f"/redteam/runs/{run.id}")
    for section, groups in (("by-category", "by_category"), ("by-owasp", "by_owasp")):
        chart = re.search(rf'id="{section}">.*?</svg>', page, re.S)
        assert chart and chart.group(0).count('<rect class="bar"') == len(run.summary[groups])
    assert "LLM01" in text_of(page) and "LLM07" in text_of(page)
    found = run.successful()[0]
    card = re.search(
        rf'<section class="card finding" id="attempt-{found.id}">.*?</section>', page, re.S
    )
    assert card and found.prompt[:40] in text_of(card.group(0))
    assert 'class="assistant"' in card.group(0)
    assert "Contributors of qa can make this attack an evaluation case." in text_of(card.group(0))
    made = re.search(rf'<p id="made-{found.id}">.*?</p>', card.group(0), re.S)
    assert made and f"already a case of {FINDINGS}@v1" in text_of(made.group(0))
    refusing = page_of(app_client, f"/redteam/runs/{world.runs['refusing']}")
    assert 'id="no-success">No attack succeeded.' in refusing


def test_the_to_case_form_adds_a_case_to_a_new_suite_version(
    app_client: TestClient, world: EvalWorld, admin: Services
) -> None:
    found = finding(admin, world)
    page = page_of(as_user(app_client, world, "carl"), f"/redteam/runs/{found.run_id}")
    action = f'action="/redteam/attempts/{found.id}/case"'
    assert action in page and f'name="suite" value="{FINDINGS}"' in page
    response = app_client.post(
        f"/redteam/attempts/{found.id}/case",
        data={"suite": FINDINGS, "case_id": "leak-1"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"/redteam/runs/{found.run_id}?")
    assert location.endswith(f"#attempt-{found.id}")
    version = admin.evaluation.suite(FINDINGS)
    assert version.version == 2 and version.case_count == 2
    made = next(c for c in version.cases if c["id"] == "leak-1")
    assert made["metadata"]["source"] == found.ref
    done = text_of(page_of(app_client, location))
    assert f"Attempt {found.id} is now case leak-1 of {FINDINGS}@v2" in done


def test_the_to_case_form_says_what_the_service_refuses(
    app_client: TestClient, world: EvalWorld, admin: Services
) -> None:
    refused = admin.redteam.get_run(world.runs["refusing"]).results[0]
    as_user(app_client, world, "carl")
    response = app_client.post(f"/redteam/attempts/{refused.id}/case", data={"suite": FINDINGS})
    assert response.status_code == 409
    assert re.search(rf'id="case-error">Attempt {refused.id} did not succeed', response.text)
    found = finding(admin, world)
    response = app_client.post(f"/redteam/attempts/{found.id}/case", data={"suite": "facts"})
    assert response.status_code == 422
    assert re.search(r'id="case-error">Name a suite as project/name', response.text)
    assert 'name="suite" value="facts"' in response.text  # what was typed stays
    as_user(app_client, world, "vera")  # a viewer may not add cases
    response = app_client.post(f"/redteam/attempts/{found.id}/case", data={"suite": FINDINGS})
    assert response.status_code == 403 and "needs the 'contributor' role" in text_of(response.text)
    assert admin.evaluation.suite(FINDINGS).version == 1


def test_the_to_case_form_needs_a_session(
    app_client: TestClient, world: EvalWorld, admin: Services
) -> None:
    found = finding(admin, world)
    response = app_client.post(
        f"/redteam/attempts/{found.id}/case", data={"suite": FINDINGS}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert admin.evaluation.suite(FINDINGS).version == 1


# --- refusals -------------------------------------------------------------------------------


def test_unknown_ids_are_a_clear_404(app_client: TestClient, world: EvalWorld) -> None:
    as_user(app_client, world, "vera")
    assert "No evaluation run 'evr_nope'." in text_of(
        page_of(app_client, "/evals/runs/evr_nope", 404)
    )
    assert "No red-team run 'rtr_nope'." in text_of(
        page_of(app_client, "/redteam/runs/rtr_nope", 404)
    )
    response = app_client.post("/redteam/attempts/rta_nope/case", data={"suite": SUITE})
    assert response.status_code == 404 and "No red-team attempt 'rta_nope'." in text_of(
        response.text
    )


def test_a_non_member_is_refused(app_client: TestClient, world: EvalWorld) -> None:
    as_user(app_client, world, "olga")
    for path in (
        f"/evals/runs/{world.runs['baseline']}",
        compare_path(world),
        f"/redteam/runs/{world.runs['obeying']}",
        f"/evals?project={PROJECT}",
        f"/redteam?project={PROJECT}",
    ):
        assert "is not a member" in text_of(page_of(app_client, path, 403)), path
    evals = text_of(page_of(app_client, "/evals"))
    assert "No suites yet" in evals and "No runs yet" in evals and "qa/" not in evals
    assert "No red-team runs yet" in text_of(page_of(app_client, "/redteam"))
