"""Who is asking and what they may do, at the HTTP edge: bearer-token authentication, the authorization
filter every request passes, and the two reviews (SelfSubjectAccessReview, SelfSubjectRulesReview) that
let a client ask. The rules themselves are evaluated by rbac."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .errors import ApiError, bad_request, status_details
from .protobuf import ProtobufError, decode_review
from .rbac import Attributes, Authorizer, UserInfo, forbidden_message
from .resources import ResourceType
from .transport import Exchange

ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version")


def authenticate(authorization: str, tokens: Mapping[str, UserInfo], path: str) -> UserInfo | None:
    """The user a bearer token names; None (anonymous) only without credentials on the public paths."""
    if authorization.lower().startswith("bearer "):
        user = tokens.get(authorization[7:].strip())
        if user is not None:
            return user
    elif not authorization and path in ANONYMOUS_PATHS:
        return None
    raise ApiError(401, "Unauthorized", "Unauthorized")


def authorize(authorizer: Authorizer, user: UserInfo | None, attrs: Attributes, qualified: str = "") -> None:
    if user is None:  # anonymous: only the public health and version endpoints reach here
        return
    allowed, _ = authorizer.authorize(user, attrs)
    if not allowed:
        details: dict[str, Any] = {}
        if attrs.resource_request:
            details = status_details(attrs.name, attrs.api_group, attrs.resource)
        raise ApiError(403, "Forbidden", forbidden_message(user, attrs, qualified), details)


def _decode_review(content_type_header: str, body: bytes, kind: str) -> dict[str, Any]:
    content_type = content_type_header.split(";")[0].strip()
    try:
        if content_type == "application/vnd.kubernetes.protobuf":
            return decode_review(body, kind)
        if content_type == "application/json":
            review: dict[str, Any] = orjson.loads(body or b"{}")
            return review
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - "
            "accepted media types include: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf",
        )
    except (orjson.JSONDecodeError, ProtobufError) as error:
        raise bad_request(f"the request body could not be decoded: {error}") from None


def _access_attributes(rtype: ResourceType, spec: dict[str, Any]) -> Attributes:
    """What a SelfSubjectAccessReview asks about: exactly one of resource or non-resource attributes."""
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if resource:
        return Attributes(
            verb=resource.get("verb", ""),
            resource_request=True,
            api_group=resource.get("group", ""),
            resource=resource.get("resource", ""),
            subresource=resource.get("subresource", ""),
            namespace=resource.get("namespace", ""),
            name=resource.get("name", ""),
        )
    if non_resource:
        return Attributes(
            verb=non_resource.get("verb", ""),
            resource_request=False,
            path=non_resource.get("path", ""),
        )
    raise ApiError(
        422,
        "Invalid",
        f'{rtype.qualified} "" is invalid: spec.resourceAttributes: '
        'Invalid value: "null": exactly one of nonResourceAttributes or '
        "resourceAttributes must be specified",
    )


def serve_review(exchange: Exchange, rtype: ResourceType, user: UserInfo, body: bytes) -> None:
    authorizer = exchange.api.authorizer
    review = _decode_review(exchange.headers.get("Content-Type") or "application/json", body, rtype.kind)
    spec = review.get("spec") or {}
    if rtype.plural == "selfsubjectaccessreviews":
        allowed, reason = authorizer.authorize(user, _access_attributes(rtype, spec))
        status: dict[str, Any] = {"allowed": allowed}
        if reason:
            status["reason"] = reason
    else:
        resource_rules, non_resource_rules = authorizer.rules_for(user, spec.get("namespace", ""))
        status = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": False,
        }
        spec = {}  # a real server answers a rules review without echoing its spec
    answer = {
        "kind": rtype.kind,
        "apiVersion": rtype.group_version,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
    exchange.send_json(answer, 201)
