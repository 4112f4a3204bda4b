"""The access policy: who gets which role and namespaces, and sentences naming the file and line for a
policy that cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sdata.access import (
    Access,
    Identity,
    PolicyError,
    groups_from_claims,
    groups_from_header,
    load_policy,
    parse_policy,
)

POLICY = """\
# Founders see the health page; the platform team everything; payments only its namespaces.
rules:
  - emails: [Ada@Example.com]
    role: engineer
  - groups: [payments-team]
    role: engineer
    namespaces: [payments, shop]
  - domains: ["@example.com", partner.org]
    role: viewer
"""


@pytest.mark.parametrize("identity, expected", [
    (Identity("ada@example.com"), Access("engineer")),  # case does not matter in emails
    (Identity("bob@elsewhere.org", ("payments-team",)), Access("engineer", frozenset({"payments", "shop"}))),
    (Identity("carol@EXAMPLE.com"), Access("viewer")),
    (Identity("dan@partner.org", ("payments-team",)), Access("engineer", frozenset({"payments", "shop"}))),
    (Identity("eve@evil.example.com.attacker.net"), None),  # a domain is the whole part after @
    (Identity("mallory@example.com.evil"), None),
    (Identity("x@elsewhere.org", ("Payments-Team",)), None),  # groups are exact
    (Identity(""), None),
    (Identity("", ("payments-team",)), Access("engineer", frozenset({"payments", "shop"}))),
])
def test_first_matching_rule_decides(identity: Identity, expected: Access | None) -> None:
    assert parse_policy(POLICY).decide(identity) == expected


@pytest.mark.parametrize("text, line, words", [
    ("rules:\n  - emails: [a@b.c]\n    role: admin\n", 3, "unknown role 'admin'"),
    ("rules:\n  - emails: [a@b.c]\n", 2, "has no role"),
    ("rules:\n  - emails: [a@b.c]\n    role: viewer\n    namespace: [x]\n", 4, "unknown key 'namespace'"),
    ("rules:\n  - role: viewer\n", 2, "matches nobody"),
    ("rules:\n  - emails: a@b.c\n    role: viewer\n", 2, "must be a list"),
    ("rules:\n  - emails: [a@b.c]\n    role: viewer\n    namespaces: []\n", 4, "empty namespaces"),
    ("rules:\n  - emails: [a@b.c\n    role: viewer\n", 3, ""),  # YAML broken: the parser's line
    ("rule:\n  - emails: [a@b.c]\n", 1, "unknown key 'rule'"),
    ("rules: {}\n", 1, "needs a `rules:` list"),
])
def test_bad_policies_name_the_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "/etc/kams/policy.yaml")
    sentence = str(caught.value)
    assert sentence.startswith(f"/etc/kams/policy.yaml, line {line}"), sentence
    assert words in sentence


def test_policy_files(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    assert load_policy(path).decide(Identity("ada@example.com")) == Access("engineer")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    path.write_text("", encoding="utf-8")
    with pytest.raises(PolicyError, match="empty"):
        load_policy(path)


def test_groups_from_headers_and_claims() -> None:
    assert groups_from_header(" a, b ,,c ") == ("a", "b", "c") and groups_from_header(None) == ()
    assert groups_from_claims({"groups": ["x", "y"]}) == ("x", "y")
    assert groups_from_claims({"groups": "x,y"}) == ("x", "y") and groups_from_claims({}) == ()


def test_command_checks_the_policy_and_answers_for_a_person(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from k8sdata.__main__ import main

    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    out = io.StringIO()
    assert main(["access", "--email", "dan@partner.org", "--groups", "payments-team"], out=out,
                environ={"KAMS_ACCESS_POLICY": str(path)}) == 0
    assert out.getvalue().splitlines() == [f"{path}: 3 rules, valid.", "engineer: payments, shop"]
    out = io.StringIO()
    assert main(["access", "--policy", str(path), "--email", "x@nowhere.org"], out=out, environ={}) == 0
    assert out.getvalue().endswith("refused: no rule matches\n")
    path.write_text("rules:\n  - emails: [a@b.c]\n    role: root\n", encoding="utf-8")
    assert main(["access", "--policy", str(path)], out=io.StringIO(), environ={}) == 1
    assert f"{path}, line 3: unknown role 'root'" in capsys.readouterr().err
    assert main(["access"], out=io.StringIO(), environ={"KAMS_AUTH": "proxy"}) == 1
    assert "names no access policy" in capsys.readouterr().err
