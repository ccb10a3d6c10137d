"""The prompt registry: immutable versions, typed variables refused by name, diffs, labels
under the same release policies as model aliases, rollback, references."""

from __future__ import annotations

import pytest

from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as

TEMPLATE = [
    {"role": "system", "content": "You answer HR questions in {{ sentences }} sentences."},
    {"role": "user", "content": "{{ question }}"},
]
VARIABLES = {"question": "string", "sentences": "integer"}


@pytest.fixture
def svc(any_workspace: Workspace) -> Services:
    services = any_workspace.services(any_workspace.local_context("sdk"))
    services.projects.create("hr")
    for user, role in (("alice", "contributor"), ("bob", "approver")):
        services.identity.create_user(user)
        services.projects.add_member("hr", user, role)
    return services


def test_versions_are_immutable_and_deduplicated(svc: Services) -> None:
    first = svc.prompts.create("hr/answer", TEMPLATE, VARIABLES, params={"max_tokens": 80})
    again = svc.prompts.create("hr/answer", TEMPLATE, VARIABLES, params={"max_tokens": 80})
    assert first.id == again.id and first.version == 1
    second = svc.prompts.create("hr/answer", TEMPLATE, VARIABLES, params={"max_tokens": 120})
    assert second.version == 2
    assert [v.version for v in svc.prompts.versions("hr/answer")] == [2, 1]
    assert svc.prompts.get("hr/answer").latest_version == 2
    assert svc.prompts.version("prompts:/hr/answer@v1").params == {"max_tokens": 80}


def test_rendering_checks_every_variable(svc: Services) -> None:
    svc.prompts.create("hr/answer", TEMPLATE, VARIABLES)
    rendered = svc.prompts.render("hr/answer@1", {"question": "Leave?", "sentences": 2})
    assert rendered.messages[0]["content"] == "You answer HR questions in 2 sentences."
    assert rendered.messages[1] == {"role": "user", "content": "Leave?"}
    with pytest.raises(InvalidInput, match="needs the variable sentences"):
        svc.prompts.render("hr/answer@1", {"question": "Leave?"})
    with pytest.raises(InvalidInput, match="takes no variable 'tone'"):
        svc.prompts.render("hr/answer@1", {"question": "x", "sentences": 1, "tone": "dry"})
    with pytest.raises(InvalidInput, match="'sentences' of hr/answer@v1 must be a integer"):
        svc.prompts.render("hr/answer@1", {"question": "x", "sentences": "two"})


def test_bad_templates_are_refused_when_saved(svc: Services) -> None:
    with pytest.raises(InvalidInput, match="uses tone but does not declare it"):
        svc.prompts.create(
            "hr/a", "Answer in a {{ tone }} way: {{ question }}", {"question": "string"}
        )
    with pytest.raises(InvalidInput, match="'extra' is declared but the template never uses it"):
        svc.prompts.create("hr/a", "{{ question }}", {"question": "string", "extra": "string"})
    with pytest.raises(InvalidInput, match="unknown type 'text'"):
        svc.prompts.create("hr/a", "{{ question }}", {"question": "text"})
    with pytest.raises(InvalidInput, match="Message 0 of the template"):
        svc.prompts.create("hr/a", "{{ question ", {"question": "string"})
    with pytest.raises(InvalidInput, match="role"):
        svc.prompts.create("hr/a", [{"role": "wizard", "content": "x"}])
    with pytest.raises(InvalidInput, match="project/name"):
        svc.prompts.create("answer", "hi")
    assert svc.prompts.list("hr") == []  # nothing half-created


def test_the_sandbox_refuses_template_tricks(svc: Services) -> None:
    from jinja2.exceptions import SecurityError

    svc.prompts.create("hr/trick", "{{ question.__class__.__mro__ }}", {"question": "string"})
    with pytest.raises(SecurityError):
        svc.prompts.render("hr/trick@1", {"question": "x"})


def test_diff_shows_template_and_field_changes(svc: Services) -> None:
    svc.prompts.create("hr/answer", TEMPLATE, VARIABLES)
    changed = [
        TEMPLATE[0] | {"content": "Answer briefly, in {{ sentences }} sentences."},
        TEMPLATE[1],
    ]
    svc.prompts.create("hr/answer", changed, VARIABLES, model="big")
    change = svc.prompts.diff("hr/answer", 1, 2)
    assert "-You answer HR questions in {{ sentences }} sentences." in change["template"]
    assert "+Answer briefly, in {{ sentences }} sentences." in change["template"]
    assert change["changed"] == {"model": {"from": None, "to": "big"}}


def test_labels_obey_the_release_policy_of_model_aliases(
    any_workspace: Workspace, svc: Services
) -> None:
    svc.registry.set_policy("hr", "production", require_approval=True, checks=[])
    alice, bob = services_as(any_workspace, "alice"), services_as(any_workspace, "bob")
    alice.prompts.create("hr/answer", TEMPLATE, VARIABLES)
    with pytest.raises(PermissionDenied, match="an approval by an approver other than the author"):
        alice.prompts.set_label("hr/answer@1", "production")
    with pytest.raises(PermissionDenied, match="needs the 'approver' role"):
        alice.prompts.approve("hr/answer@1")
    bob.prompts.create("hr/own", "{{ question }}", {"question": "string"})
    with pytest.raises(PermissionDenied, match="cannot approve it"):
        bob.prompts.approve("hr/own@1")  # never your own version
    bob.prompts.approve("hr/answer@1", comment="fine", label="production")
    move = alice.prompts.set_label("hr/answer@1", "production", reason="first release")
    assert (move.from_version, move.to_version, move.kind) == (None, 1, "set")
    alice.prompts.create("hr/answer", TEMPLATE, {**VARIABLES}, params={"max_tokens": 10})
    bob.prompts.approve("hr/answer@2")
    alice.prompts.set_label("hr/answer@2", "production")
    assert svc.prompts.version("hr/answer@production").version == 2
    back = alice.prompts.rollback("hr/answer", "production", reason="answers too short")
    assert (back.from_version, back.to_version, back.kind) == (2, 1, "rollback")
    assert [m.kind for m in svc.prompts.history("hr/answer")] == ["rollback", "set", "set"]
    alice.prompts.set_label("hr/answer@2", "staging")  # no policy for staging
    assert svc.prompts.get("hr/answer").labels == {"production": 1, "staging": 2}


def test_unknown_prompts_labels_and_rights(any_workspace: Workspace, svc: Services) -> None:
    svc.prompts.create("hr/answer", "{{ question }}", {"question": "string"})
    with pytest.raises(NotFound, match="no prompt named 'nope'"):
        svc.prompts.version("hr/nope@1")
    with pytest.raises(NotFound, match="no version or label 'production'"):
        svc.prompts.version("hr/answer@production")
    with pytest.raises(Conflict, match="no earlier version"):
        svc.prompts.rollback("hr/answer", "production")
    svc.identity.create_user("eve")
    with pytest.raises(PermissionDenied):
        services_as(any_workspace, "eve").prompts.version("hr/answer@1")
