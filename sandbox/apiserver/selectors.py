"""labelSelector and fieldSelector parsing and matching, with the API server's syntax and errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Predicate = Callable[[Mapping[str, str]], bool]


class SelectorError(ValueError):
    """A selector the real API server would reject with 400 BadRequest; str() is its message."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" also match objects without the label, as upstream does.
        return not present or labels[self.key] not in self.values


_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SET_REQUIREMENT = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside the parentheses of an `in (a,b)` set."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _check_key(key: str, raw: str) -> str:
    if not _LABEL_KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise SelectorError(f"unable to parse requirement: {raw!r}: invalid label key {key!r}")
    return key


def _check_value(value: str, raw: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise SelectorError(f"unable to parse requirement: {raw!r}: invalid label value {value!r}")
    return value


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text or not text.strip():
        return []
    requirements: list[Requirement] = []
    for raw in _split_top_level(text):
        part = raw.strip()
        if not part:
            raise SelectorError(f"unable to parse requirement: found '', expected: identifier in {text!r}")
        set_match = _SET_REQUIREMENT.match(part)
        if set_match:
            key, operator, listed = set_match.groups()
            values = frozenset(_check_value(v.strip(), part) for v in listed.split(",") if v.strip())
            requirements.append(Requirement(_check_key(key, part), operator, values))
            continue
        for token, operator in (("!=", "!="), ("==", "="), ("=", "=")):
            if token in part:
                key, value = part.split(token, 1)
                requirements.append(
                    Requirement(
                        _check_key(key.strip(), part),
                        operator,
                        frozenset({_check_value(value.strip(), part)}),
                    )
                )
                break
        else:
            if part.startswith("!"):
                requirements.append(Requirement(_check_key(part[1:].strip(), part), "!"))
            else:
                requirements.append(Requirement(_check_key(part, part), "exists"))
    return requirements


def label_predicate(text: str | None) -> Predicate | None:
    requirements = parse_label_selector(text)
    if not requirements:
        return None
    return lambda labels: all(requirement.matches(labels) for requirement in requirements)


def parse_field_selector(
    text: str | None, supported: set[str] | frozenset[str]
) -> list[tuple[str, bool, str]]:
    """(field, wanted_equal, value) triples; unknown fields fail like the real server does."""
    if not text or not text.strip():
        return []
    terms: list[tuple[str, bool, str]] = []
    for raw in text.split(","):
        part = raw.strip()
        for token, equal in (("!=", False), ("==", True), ("=", True)):
            if token in part:
                field_name, value = part.split(token, 1)
                field_name = field_name.strip()
                if field_name not in supported:
                    raise SelectorError(f"field label not supported: {field_name}")
                terms.append((field_name, equal, value.strip()))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
    return terms


def field_predicate(text: str | None, supported: set[str] | frozenset[str]) -> Predicate | None:
    terms = parse_field_selector(text, supported)
    if not terms:
        return None
    return lambda fields: all((fields.get(name, "") == value) == equal for name, equal, value in terms)
