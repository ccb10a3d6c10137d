"""The LLM pages of the web UI, in-process, on the demo's HR assistant.

``llm_template`` builds one workspace for the module with the real services: the HR
collection (policies for employees, salaries for the HR group) indexed with the local
embeddings, its guard policy, a prompt with two versions, and questions answered by a
small fake model (the embedded model is tested in tests/llm and tests/rag). Each test works
on its own copy of that workspace.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from passline.core.clock import utcnow
from passline.demo_llm import COLLECTION, PROJECT, prepare_hr_assistant
from passline.llm.types import ChatParams, ChatResult, Message, Usage
from passline.services.llm import LlmModel, LlmService
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from passline.store.models import GuardEventRow
from tests.conftest import services_as
from tests.test_ui import login, text_of

pytest.importorskip("sqlite_vec")
pytest.importorskip("sentence_transformers")

PROMPT = f"{PROJECT}/leave-answer"
OTHER = "finance"  # a project the HR assistant's users are not in
HOSTILE = "<script>alert('trace')</script>"
BAND = "64,000 EUR to 78,500 EUR"  # in the salary bands document: HR only
LEAK = "Jane Martin earns 81,200 EUR a year [1]."


class FakeModel:
    """Answers from the facts it is given; a question about payroll makes it leak a salary
    (as a model trained on payroll would): the output guard must stop that."""

    name = "fake"
    provider = "test"
    context_tokens = 8192

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def chat(
        self, messages: list[Message], params: ChatParams, json_schema: Any = None
    ) -> ChatResult:
        facts = " ".join(m.content for m in messages if m.role == "system")
        question = messages[-1].content
        if "78,500" in facts:
            text = f"The G4 band is {BAND} [1]."
        elif "payroll" in question:
            text = LEAK
        else:
            text = "Every employee gets 25 days of paid annual leave [1]."
        return ChatResult(text, self.name, self.provider, Usage(120, 12))


@dataclass
class LlmWorld:
    """What ``llm_template`` made: tokens by user, trace ids by what they show."""

    home: Path
    tokens: dict[str, str]
    traces: dict[str, str]


def _build(home: Path, folder: Path) -> LlmWorld:
    ws = Workspace.open(Settings(home=home))
    admin = ws.services(ws.local_context("sdk"))
    admin.projects.create(PROJECT)
    admin.projects.create(OTHER)
    for user, role in (
        ("alice", "contributor"),  # an employee, not in HR
        ("bob", "approver"),
        ("vera", "viewer"),  # a plain viewer, an employee
        ("nora", "viewer"),  # in no group: may read no document
        ("paula", "admin"),  # a project admin who is no workspace admin
    ):
        admin.identity.create_user(user)
        admin.projects.add_member(PROJECT, user, role)
    prepare_hr_assistant(admin, folder)  # hana (HR), the groups, the documents, the policy
    admin.groups.add_member("employees", "vera")
    admin.rag.create_collection(OTHER, "ledger", "Accounts")
    traces = _ask(ws) | _prompted(ws)
    tokens = {"root": admin.identity.create_token("ui").secret} | {
        u: admin.identity.create_token(f"{u}-ui", user=u).secret
        for u in ("alice", "vera", "hana", "nora", "paula")
    }
    ws.close()
    return LlmWorld(home, tokens, traces)


def _ask(ws: Workspace) -> dict[str, str]:
    alice, hana, nora = (services_as(ws, u) for u in ("alice", "hana", "nora"))
    leave = alice.rag.ask(COLLECTION, "How many days of annual leave do I get?")
    salary = hana.rag.ask(COLLECTION, "What is the salary band for grade G4?")
    leak = alice.rag.ask(COLLECTION, "Which leave policy covers payroll questions?")
    refused = nora.rag.ask(COLLECTION, "What is the salary band for grade G4?")
    assert not leave.blocked and salary.sources and leak.blocked and refused.refused
    answers = {"leave": leave, "salary": salary, "leak": leak, "refused": refused}
    return {name: answer.trace_id for name, answer in answers.items()}


def _prompted(ws: Workspace) -> dict[str, str]:
    """Two versions of a prompt, each used twice and scored: v1 once up, once down with a
    correction; v2 twice up."""
    alice = services_as(ws, "alice")
    system = "Answer questions about leave in one sentence."
    alice.prompts.create(
        PROMPT,
        [{"role": "system", "content": system}, {"role": "user", "content": "{{ question }}"}],
        {"question": "string"},
        description="Answers leave questions",
    )
    alice.prompts.create(
        PROMPT,
        [
            {"role": "system", "content": system + " Cite the policy."},
            {"role": "user", "content": "Question: {{ question }}"},
        ],
        {"question": "string"},
        params={"temperature": 0.1},
    )
    scored = [
        ("1", "How long is parental leave?", 1, None),
        ("1", "Can I carry leave over?", -1, "Up to 5 days, until 31 March."),
        ("2", "Is sick leave paid?", 1, None),
        ("2", "When do I ask for leave?", 1, None),
    ]
    for version, question, score, correction in scored:
        answer = alice.llm.chat(
            prompt=f"{PROMPT}@v{version}",
            variables={"question": question},
            app="leave-bot",
            project=PROJECT,
            user="alice",
        )
        alice.tracing.add_feedback(answer.trace_id, score, "", correction)
    hostile = alice.llm.chat(
        [{"role": "user", "content": HOSTILE}], app="leave-bot", project=PROJECT, user="alice"
    )
    return {"prompted": answer.trace_id, "hostile": hostile.trace_id}


@pytest.fixture(scope="module")
def llm_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlmWorld]:
    root = tmp_path_factory.mktemp("llm-ui")
    with pytest.MonkeyPatch.context() as patch:
        info = LlmModel(name="fake", provider="test", config={})
        patch.setattr(LlmService, "provider", lambda self, name: (FakeModel(), info))
        yield _build(root / "home", root / "docs")


@pytest.fixture
def settings(tmp_path: Path, llm_template: LlmWorld) -> Settings:
    """Each test gets its own copy of the workspace."""
    home = tmp_path / "home"
    shutil.copytree(llm_template.home, home)
    return Settings(home=home)


@pytest.fixture
def world(llm_template: LlmWorld) -> LlmWorld:
    return llm_template


def as_user(client: TestClient, world: LlmWorld, user: str) -> TestClient:
    login(client, world.tokens[user])
    return client


def page_of(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, text_of(response.text))
    return response.text


def row(page: str, row_id: str) -> str:
    """The HTML of the table row with ``id``, tables nested in it included."""
    start = page.find(f'<tr id="{row_id}"')
    assert start >= 0, f"no row {row_id!r}"
    depth = 0
    for tag in re.finditer(r"<(/?)tr\b", page[start:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return page[start : start + tag.start()]
    raise AssertionError(f"row {row_id!r} is not closed")


def stat(page: str, stat_id: str) -> int:
    found = re.search(rf'id="{stat_id}".*?<div class="value">([\d,]+)</div>', page, re.S)
    assert found, f"no counter {stat_id!r}"
    return int(found.group(1).replace(",", ""))


# --- every page -----------------------------------------------------------------------------


def pages(world: LlmWorld) -> list[tuple[str, str]]:
    """(path, the h1 it shows)."""
    return [
        ("/llm", "LLM"),
        ("/prompts", "Prompts"),
        (f"/prompts/{PROMPT}", "leave-answer"),
        (f"/prompts/{PROMPT}?diff=1..2", "leave-answer"),
        ("/traces", "Traces"),
        (f"/traces?project={PROJECT}&user=alice", "Traces"),
        ("/guard", "Guard events"),
        ("/collections", "Collections"),
        (f"/collections/{COLLECTION}", "handbook"),
    ] + [(f"/traces/{trace_id}", "") for trace_id in world.traces.values()]


@pytest.mark.parametrize("user", ["root", "vera"])
def test_every_llm_page_renders_for_an_admin_and_a_plain_viewer(
    app_client: TestClient, world: LlmWorld, user: str
) -> None:
    as_user(app_client, world, user)
    for path, title in pages(world):
        page = page_of(app_client, path)
        heading = re.search(r"<h1>(.*?)</h1>", page, re.S)
        assert heading and title in heading.group(1), path
        assert 'aria-current="page">LLM</a>' in page, path  # the LLM block is the active one


def test_the_collections_tab_leads_to_the_collections(
    app_client: TestClient, world: LlmWorld
) -> None:
    page = page_of(as_user(app_client, world, "vera"), "/llm")
    assert '<a href="/collections">Collections</a>' in page
    collections = page_of(app_client, "/collections")
    assert 'href="/collections" class="active" aria-current="page">Collections</a>' in collections


# --- overview -------------------------------------------------------------------------------


def test_overview_counts_the_last_days_guard_events_and_refusals(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    events = admin.guards.events(PROJECT)
    blocks = sum(1 for e in events if e.action == "block")
    assert blocks and any(e.trace_id == world.traces["leak"] for e in events)
    for user in ("root", "vera"):  # a project viewer sees the project's counts too
        page = page_of(as_user(app_client, world, user), "/llm")
        assert stat(page, "guard-block") == blocks
        assert stat(page, "guard-redact") == sum(1 for e in events if e.action == "redact")
        assert stat(page, "refusals") == 1  # nora's question: she may read no document
        assert stat(page, "collections-count") == (2 if user == "root" else 1)


def test_overview_leaves_out_events_older_than_a_day(
    app_client: TestClient, world: LlmWorld, workspace: Workspace, admin: Services
) -> None:
    blocked = [e for e in admin.guards.events(PROJECT) if e.action == "block"]
    with workspace.db.write() as session:
        session.execute(
            update(GuardEventRow)
            .where(GuardEventRow.id == blocked[0].id)
            .values(at=utcnow() - timedelta(hours=25))
        )
    page = page_of(as_user(app_client, world, "root"), "/llm")
    assert stat(page, "guard-block") == len(blocked) - 1


def test_overview_lists_models_with_their_target_in_a_wide_cell(
    app_client: TestClient, world: LlmWorld
) -> None:
    page = page_of(as_user(app_client, world, "root"), "/llm")
    model = row(page, "model-smollm2-135m-instruct")
    assert '<td class="target"><code>llama.cpp · SmolLM2-135M-Instruct.Q4_1.gguf</code>' in model


def test_a_user_in_no_project_sees_empty_llm_pages(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    admin.identity.create_user("olga")
    login(app_client, admin.identity.create_token("olga-ui", user="olga").secret)
    page = page_of(app_client, "/llm")
    assert stat(page, "guard-block") == 0 and stat(page, "refusals") == 0
    assert "No collections yet" in text_of(page_of(app_client, "/collections"))
    assert "No traces yet" in text_of(page_of(app_client, "/traces"))


# --- collections ----------------------------------------------------------------------------


def test_collections_list_what_each_user_may_read(app_client: TestClient, world: LlmWorld) -> None:
    page = page_of(as_user(app_client, world, "root"), "/collections")
    handbook = row(page, f"collection-{PROJECT}-handbook")
    assert f'href="/collections/{COLLECTION}"' in handbook
    assert re.search(r'class="num documents">6</td>', handbook)
    assert f"collection-{OTHER}-ledger" in page
    last = re.search(r'class="mono nowrap">(\d{4}-\d\d-\d\d [\d:]+)</td>', handbook)
    assert last  # when a document was last indexed

    page = page_of(as_user(app_client, world, "vera"), "/collections")
    handbook = row(page, f"collection-{PROJECT}-handbook")
    assert "4 <span" in handbook and "of 6" in handbook  # the four policies, not the salaries
    assert f"collection-{OTHER}-ledger" not in page
    assert OTHER not in text_of(page)


def test_a_non_hr_viewer_never_sees_the_salary_documents(
    app_client: TestClient, world: LlmWorld
) -> None:
    page = page_of(as_user(app_client, world, "vera"), f"/collections/{COLLECTION}")
    text = text_of(page)
    assert "policies/leave-policy.md" in text and "Annual leave" in text
    assert "salaries/" not in text and "Salary bands" not in text and "Payroll" not in text
    assert "4 of 6" in text
    assert "Who saw it" not in text and "who-saw-note" in page  # for project admins only
    page_of(app_client, f"/collections/{OTHER}/ledger", 403)  # not a member of finance


def test_hr_reads_the_salary_documents_with_their_acl(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    page = page_of(as_user(app_client, world, "hana"), f"/collections/{COLLECTION}")
    bands = next(d for d in admin.rag.documents(COLLECTION) if "bands" in d.path)
    acl = row(page, f"doc-{bands.id}")
    assert '<span class="kind">groups</span>' in acl and ">hr</span>" in acl
    assert 'title="hana"' in acl  # the group's members, on hover
    assert "Who saw it" not in text_of(page)  # hana is a viewer, not a project admin


def test_project_admins_see_who_saw_each_document(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    documents = {d.path: d for d in admin.rag.documents(COLLECTION)}
    bands = documents["salaries/salary-bands-2026.md"]
    for user in ("root", "paula"):
        page = page_of(as_user(app_client, world, user), f"/collections/{COLLECTION}")
        seen = row(page, f"doc-{bands.id}")
        assert f"/traces?project={PROJECT}&amp;user=hana" in seen
        assert f'href="/traces/{world.traces["salary"]}"' in seen
        assert "alice" not in seen and "nora" not in seen
        assert "Who saw it" in text_of(page)


def test_an_unknown_collection_is_a_clear_404(app_client: TestClient, world: LlmWorld) -> None:
    as_user(app_client, world, "root")
    page = page_of(app_client, f"/collections/{PROJECT}/nope", 404)
    assert f"Project '{PROJECT}' has no collection named 'nope'." in text_of(page)
    assert "No project named 'nope'." in text_of(page_of(app_client, "/collections/nope/x", 404))


# --- traces ---------------------------------------------------------------------------------


def test_a_trace_shows_question_answer_spans_guard_events_and_documents(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    trace_id = world.traces["leak"]
    found = admin.tracing.get(trace_id)
    page = page_of(as_user(app_client, world, "root"), f"/traces/{trace_id}")
    text = text_of(page)
    assert "Which leave policy covers payroll questions?" in text
    assert "81,200" not in text  # the leak was blocked: not in the answer, not in a span
    assert "[blocked by an output guard]" in text  # the service kept only this
    assert re.search(r'<pre class="text" id="output-preview">[^<]+</pre>', page)
    waterfall = re.search(r'<svg class="waterfall".*?</svg>', page, re.S)
    assert waterfall and waterfall.group(0).count('<g class="span') == len(found["spans"])
    assert 'class="span kind-retrieval' in waterfall.group(0)
    assert 'class="span kind-guard' in waterfall.group(0)
    guard = re.search(r'id="guard-events".*?</table>', page, re.S)
    assert guard and 'class="action-block"' in guard.group(0)
    assert "restricted value" in text_of(guard.group(0))
    retrieved = re.search(r'<table class="compact retrieved">.*?</table>', page, re.S)
    assert retrieved and f'href="/collections/{COLLECTION}#doc-' in retrieved.group(0)
    assert "policies/" in retrieved.group(0)
    form = re.search(r'<form class="feedback" method="post" action="([^"]+)"', page)
    assert form and form.group(1) == f"/traces/{trace_id}/feedback"


def test_the_asker_never_sees_the_answer_a_guard_blocked(
    app_client: TestClient, world: LlmWorld
) -> None:
    page = page_of(as_user(app_client, world, "alice"), f"/traces/{world.traces['leak']}")
    assert "81,200" not in page and "policies/leave-policy.md" in text_of(page)


def test_hr_sees_the_salary_answer_and_its_sources(app_client: TestClient, world: LlmWorld) -> None:
    page = page_of(as_user(app_client, world, "hana"), f"/traces/{world.traces['salary']}")
    assert BAND in text_of(page)
    assert "salaries/salary-bands-2026.md" in text_of(page)


def test_a_non_hr_user_gets_the_salary_trace_without_its_answer(
    app_client: TestClient, world: LlmWorld
) -> None:
    page = page_of(as_user(app_client, world, "alice"), f"/traces/{world.traces['salary']}")
    text = text_of(page)
    assert "What is the salary band for grade G4?" in text  # the question stays
    assert "64,000" not in text and "78,500" not in text
    assert "salaries/" not in text and "Salary bands" not in text
    assert "a document you may not read" in text
    assert "Withheld: the answer drew on documents you may not read" in text


def test_a_refused_question_says_so(app_client: TestClient, world: LlmWorld) -> None:
    page = page_of(as_user(app_client, world, "root"), f"/traces/{world.traces['refused']}")
    assert "Refused: no passage the asker may read answered the question" in text_of(page)


def test_a_trace_escapes_what_was_asked(app_client: TestClient, world: LlmWorld) -> None:
    page = page_of(as_user(app_client, world, "vera"), f"/traces/{world.traces['hostile']}")
    assert HOSTILE not in page and "&lt;script&gt;" in page


def test_an_unknown_trace_is_a_clear_404(app_client: TestClient, world: LlmWorld) -> None:
    as_user(app_client, world, "vera")
    assert "No trace 'nope'." in text_of(page_of(app_client, "/traces/nope", 404))
    response = app_client.post("/traces/nope/feedback", data={"score": "up"})
    assert response.status_code == 404 and "No trace 'nope'." in text_of(response.text)


# --- feedback -------------------------------------------------------------------------------


def test_the_feedback_form_stores_feedback(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    trace_id = world.traces["leave"]
    as_user(app_client, world, "vera")
    response = app_client.post(
        f"/traces/{trace_id}/feedback",
        data={"score": "down", "comment": "Mail me at vera@example.com", "correction": "25 days"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/traces/{trace_id}#feedback"
    stored = admin.tracing.get(trace_id)["feedback"]
    assert [(f["user"], f["score"], f["correction"]) for f in stored] == [("vera", -1, "25 days")]
    assert "vera@example.com" not in stored[0]["comment"]  # redacted before it is stored
    page = page_of(app_client, f"/traces/{trace_id}")
    assert row(page, f"feedback-{stored[0]['id']}").count("▼ down") == 1


def test_an_empty_feedback_form_is_refused_and_keeps_what_was_typed(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    trace_id = world.traces["leave"]
    as_user(app_client, world, "vera")
    response = app_client.post(
        f"/traces/{trace_id}/feedback", data={"score": "", "comment": "  ", "correction": ""}
    )
    assert response.status_code == 422
    assert 'id="feedback-error">Give a score, a comment or a correction.' in response.text
    sideways = app_client.post(f"/traces/{trace_id}/feedback", data={"score": "sideways"})
    assert sideways.status_code == 422 and "Got &#39;sideways&#39; instead." in sideways.text
    assert admin.tracing.get(trace_id)["feedback"] == []


def test_feedback_without_a_session_is_not_stored(
    app_client: TestClient, world: LlmWorld, admin: Services
) -> None:
    trace_id = world.traces["leave"]
    response = app_client.post(
        f"/traces/{trace_id}/feedback", data={"score": "up"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert admin.tracing.get(trace_id)["feedback"] == []


def test_feedback_is_summed_per_prompt_version_on_the_prompt_page(
    app_client: TestClient, world: LlmWorld
) -> None:
    as_user(app_client, world, "vera")
    app_client.post(f"/traces/{world.traces['prompted']}/feedback", data={"score": "down"})
    page = page_of(app_client, f"/prompts/{PROMPT}")
    v1, v2 = text_of(row(page, "v1")), text_of(row(page, "v2"))
    assert "▲ 1 ▼ 1 50%" in v1 and "2 given, 1 correction" in v1
    assert "▲ 2 ▼ 1 66.7%" in v2 and "3 given" in v2


# --- prompts --------------------------------------------------------------------------------


def test_a_prompts_diff_between_versions_is_shown(app_client: TestClient, world: LlmWorld) -> None:
    as_user(app_client, world, "vera")
    for path in (f"/prompts/{PROMPT}?diff=1..2", f"/prompts/{PROMPT}?old=1&new=2"):
        page = page_of(app_client, path)
        view = re.search(r'<section class="card" id="diff-view">.*?</section>', page, re.S)
        assert view, path
        assert "v1 → v2" in view.group(0)
        assert '<span class="line del">-{{ question }}</span>' in view.group(0)
        assert '<span class="line add">+Question: {{ question }}</span>' in view.group(0)
        assert 'id="changed-params"' in view.group(0) and "temperature" in view.group(0)


def test_a_bad_diff_is_said_above_it(app_client: TestClient, world: LlmWorld) -> None:
    as_user(app_client, world, "vera")
    page = page_of(app_client, f"/prompts/{PROMPT}?diff=1", 422)
    assert 'id="diff-error">Name the two versions to compare as OLD..NEW' in page
    page = page_of(app_client, f"/prompts/{PROMPT}?diff=1..9", 404)
    assert "has no version or label &#39;9&#39;." in page
    assert 'id="v1"' in page  # the rest of the page still stands


def test_an_unknown_prompt_is_a_clear_404(app_client: TestClient, world: LlmWorld) -> None:
    as_user(app_client, world, "vera")
    page = page_of(app_client, f"/prompts/{PROJECT}/nope", 404)
    assert f"Project '{PROJECT}' has no prompt named 'nope'." in text_of(page)
    assert "No project named 'nope'." in text_of(page_of(app_client, "/prompts/nope/x", 404))
