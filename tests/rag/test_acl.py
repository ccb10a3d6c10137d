"""ACL rules files and the check itself."""

from __future__ import annotations

import pytest

from passline.core.rag import Acl
from passline.core.roles import Role
from passline.errors import InvalidInput
from passline.rag import AclRules, Reader, check_acl, parse_acl

RULES = """
salaries/*.pdf: {groups: [hr-team]}
salaries/*:     {groups: [hr-team], users: [dana]}
policies/*:     {groups: [employees, hr-team]}
"""


def test_first_matching_glob_wins_and_star_crosses_folders() -> None:
    rules = AclRules.from_yaml(RULES)
    assert rules.acl_for("salaries/2026.pdf") == Acl(groups=["hr-team"])
    assert rules.acl_for("salaries/old/2019.txt") == Acl(groups=["hr-team"], users=["dana"])
    assert rules.acl_for("policies/leave.md") == Acl(groups=["employees", "hr-team"])
    assert rules.acl_for("other.md") is None


def test_a_file_without_a_rule_is_refused_unless_a_default_is_given() -> None:
    rules = AclRules.from_yaml(RULES)
    with pytest.raises(InvalidInput, match=r"2 file\(s\) match no ACL rule: a.md, b/c.md"):
        rules.assign(["a.md", "b/c.md", "policies/x.md"])
    fallback = AclRules.from_yaml(RULES, default={"roles": ["viewer"]})
    assert fallback.assign(["a.md"]) == {"a.md": Acl(roles=["viewer"])}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x/*: {group: [hr]}", "rule 'x/\\*': unknown key 'group'"),
        ("x/*: {groups: []}", "rule 'x/\\*' grants nobody"),
        ("x/*: {roles: [boss]}", "rule 'x/\\*' names unknown role 'boss'; the project roles are"),
        ("x/*: {users: [1]}", "must be a list of names"),
        ("- a\n- b", "must map path globs to ACLs"),
        ("x: [unclosed", "is not valid YAML"),
    ],
)
def test_malformed_rules_are_refused_naming_the_rule(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        AclRules.from_yaml(text)


def test_check_acl_by_user_group_and_minimum_role() -> None:
    acl = parse_acl({"users": ["dana"], "groups": ["hr-team"], "roles": ["approver"]})
    assert check_acl(acl, Reader("dana"))
    assert check_acl(acl, Reader("alice", frozenset({"hr-team"})))
    assert check_acl(acl, Reader("erin", role=Role.ADMIN))  # a higher role counts
    assert not check_acl(acl, Reader("bob", frozenset({"employees"}), Role.CONTRIBUTOR))
    assert not check_acl(acl, Reader("mallory"))


def test_names_lists_where_each_acl_comes_from() -> None:
    rules = AclRules.from_yaml("a/*: {groups: [g1]}", default={"users": ["u1"]})
    assert rules.named() == [
        ("rule 'a/*'", Acl(groups=["g1"])),
        ("the default ACL", Acl(users=["u1"])),
    ]
