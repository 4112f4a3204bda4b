"""Failures as the real API server words them: a Status object, or Go's plain-text 404 outside the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resources import ResourceType


class ApiError(Exception):
    """Ends a request with a Status object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        plain_text: bool = False,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = dict(headers or {})
        self.metadata = metadata or {}
        #: Answered as Go's http.NotFound does, not as a Status: what a real server says for a path
        #: outside every API group it serves.
        self.plain_text = plain_text

    def status_object(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def status_details(name: str, group: str, kind: str) -> dict[str, Any]:
    """Status.details as Go serializes it: empty name and group are left out (omitempty)."""
    details = {"name": name, "group": group, "kind": kind}
    return {key: value for key, value in details.items() if value}


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rtype.qualified} "{name}" not found',
                    status_details(name, rtype.group, rtype.plural))


def no_such_path(served_group: bool = True) -> ApiError:
    """Inside a served group version a real server answers a Status; elsewhere Go's plain-text 404."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {},
                    plain_text=not served_group)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
