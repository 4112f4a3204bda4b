"""The paths outside every resource: the root listing, /version, the health checks, and API discovery
(/api, /apis, each group and each group version's resource list)."""

from __future__ import annotations

from typing import Any

from .errors import method_not_allowed, no_such_path
from .resources import ResourceRegistry
from .transport import Exchange

GIT_VERSION = "v1.30.0-kams-sandbox"
VERSION_INFO = {
    "major": "1",
    "minor": "30",
    "gitVersion": GIT_VERSION,
    "gitCommit": "kams-sandbox",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}
HEALTH_CHECKS = (["healthz"], ["livez"], ["readyz"])


def serve_non_resource(exchange: Exchange, parts: list[str]) -> None:
    if exchange.command not in ("GET", "HEAD"):
        raise method_not_allowed()
    if parts in HEALTH_CHECKS:
        exchange.send_bytes(200, b"ok", "text/plain; charset=utf-8")
        return
    exchange.send_json(non_resource_document(exchange.api.store.registry, parts, exchange.api.address))


def non_resource_document(registry: ResourceRegistry, parts: list[str], address: str) -> Any:
    """The JSON answer for a non-resource path other than a health check; `address` is host:port as
    clients reach this server."""
    if parts == []:
        paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
        paths += [f"/apis/{g}" for g in registry.group_versions()]
        paths += [f"/apis/{g}/{v}" for g, vs in registry.group_versions().items() for v in vs]
        return {"paths": sorted(paths)}
    if parts == ["version"]:
        return VERSION_INFO
    if parts == ["api"]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        }
    if parts == ["api", "v1"]:
        listing = resource_list(registry, "", "v1")
        del listing["apiVersion"]  # the legacy core group's list has none on a real server
        return listing
    if parts == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [group_entry(group, versions) for group, versions in registry.group_versions().items()],
        }
    if len(parts) == 2 and parts[0] == "apis":
        versions = registry.group_versions().get(parts[1])
        if versions:
            return {"kind": "APIGroup", "apiVersion": "v1", **group_entry(parts[1], versions)}
    if len(parts) == 3 and parts[0] == "apis" and parts[2] in registry.group_versions().get(parts[1], []):
        return resource_list(registry, parts[1], parts[2])
    raise no_such_path(served_group=parts[:1] == ["api"])


def group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def resource_list(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for rtype in registry.in_group_version(group, version):
        resources.extend(rtype.discovery_entries())
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
