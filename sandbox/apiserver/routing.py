"""Reading a request URL as the real server does: resource or not, group, version, verb, and which
served resource it names."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import no_such_path
from .rbac import Attributes
from .resources import ResourceRegistry, ResourceType

#: What Go's strconv.ParseBool accepts as true (the Python client sends "True").
TRUE_VALUES = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def is_true(value: str | None) -> bool:
    return value in TRUE_VALUES


@dataclass
class Route:
    rtype: ResourceType
    namespace: str
    name: str
    subresource: str


def is_resource_path(parts: list[str]) -> bool:
    return (parts[:2] == ["api", "v1"] and len(parts) > 2) or (parts[:1] == ["apis"] and len(parts) > 3)


def group_version_rest(parts: list[str]) -> tuple[str, str, list[str]]:
    """A resource path's group, version and the segments after them; the core group is "" at /api/v1."""
    if parts[0] == "api":
        return "", "v1", parts[2:]
    return parts[1], parts[2], parts[3:]


def request_info(rest: list[str]) -> tuple[str, str, str, str]:
    """(namespace, resource, name, subresource) of a resource URL's tail after the group version, as
    upstream's RequestInfoFactory reads it, whether or not this server serves that resource."""
    namespace = ""
    if len(rest) > 1 and rest[0] == "namespaces":
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    return namespace, resource, name, subresource


def requested_attributes(
    method: str, path: str, group: str, rest: list[str], query: dict[str, str]
) -> Attributes:
    """What a resource request asks to do, for the authorizer."""
    namespace, resource, name, subresource = request_info(rest)
    return Attributes(
        verb=request_verb(method, name, query),
        resource_request=True,
        api_group=group,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        path=path,
    )


def request_verb(method: str, name: str, query: dict[str, str]) -> str:
    if method in ("GET", "HEAD"):
        if is_true(query.get("watch")):
            return "watch"
        return "get" if name else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method]


def resolve(registry: ResourceRegistry, group: str, version: str, rest: list[str]) -> Route:
    """The served resource the path names; a 404 (Status or plain text, as upstream) when there is none."""
    if (group or version != "v1") and version not in registry.group_versions().get(group, []):
        raise no_such_path(served_group=False)
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in ("status", "finalize"):
        namespace = rest[1]
        rest = rest[2:]
    elif rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]  # the namespace object itself: RBAC sees its own namespace
    if not rest or len(rest) > 3:
        raise no_such_path()
    rtype = registry.lookup(group, version, rest[0])
    if rtype is None:
        raise no_such_path()
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and subresource not in rtype.subresources:
        raise no_such_path()
    if rtype.namespaced and name and not namespace:
        raise no_such_path()
    if not rtype.namespaced and rtype.plural != "namespaces" and namespace:
        raise no_such_path()
    return Route(rtype, namespace, name, subresource)
