"""Just enough of Kubernetes' protobuf encoding to read the two review requests kubectl POSTs.

`kubectl auth can-i` sends SelfSubjectAccessReview / SelfSubjectRulesReview bodies as
application/vnd.kubernetes.protobuf and does not fall back to JSON, so the stand-in reads them: the
"k8s\\x00" envelope (runtime.Unknown), then the few string fields the reviews carry. Field numbers come
from k8s.io/api/authorization/v1/generated.proto.
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"

_RESOURCE_ATTRIBUTES = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}
_NON_RESOURCE_ATTRIBUTES = {1: "path", 2: "verb"}


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def fields(data: bytes) -> dict[int, list[bytes | int]]:
    """Field number -> values (bytes for length-delimited fields, int for varints)."""
    found: dict[int, list[bytes | int]] = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        value: bytes | int
        if wire_type == 0:
            value, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            value = data[position : position + length]
            position += length
        elif wire_type == 1:
            value, position = int.from_bytes(data[position : position + 8], "little"), position + 8
        elif wire_type == 5:
            value, position = int.from_bytes(data[position : position + 4], "little"), position + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire_type}")
        found.setdefault(number, []).append(value)
    return found


def _message(data: bytes, number: int) -> bytes | None:
    value = fields(data).get(number, [None])[-1]
    return value if isinstance(value, bytes) else None


def _strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    decoded = fields(data)
    return {
        name: decoded[number][-1].decode()
        for number, name in names.items()  # type: ignore[union-attr]
        if number in decoded and isinstance(decoded[number][-1], bytes)
    }


def decode_review(body: bytes, kind: str) -> dict[str, Any]:
    """The JSON-shaped review ({"spec": ...}) from a protobuf request body."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope")
    raw = _message(body[len(MAGIC) :], 2) or b""
    spec_bytes = _message(raw, 2) or b""
    spec: dict[str, Any] = {}
    if kind == "SelfSubjectAccessReview":
        resource = _message(spec_bytes, 1)
        non_resource = _message(spec_bytes, 2)
        if resource is not None:
            spec["resourceAttributes"] = _strings(resource, _RESOURCE_ATTRIBUTES)
        if non_resource is not None:
            spec["nonResourceAttributes"] = _strings(non_resource, _NON_RESOURCE_ATTRIBUTES)
    else:
        spec = _strings(spec_bytes, {1: "namespace"})
    return {"kind": kind, "apiVersion": "authorization.k8s.io/v1", "spec": spec}
