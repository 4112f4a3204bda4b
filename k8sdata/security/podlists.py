"""Pods as the security scan reads them. A pod whose controller is scanned instead of it (a Deployment's
ReplicaSet's pods, a CronJob's Jobs' pods) is never a workload check's subject (engine.top_level): the
audits read only its names, labels, owners, hostNetwork and images. At 100,000 pods the whole objects
would take gigabytes and most of the scan's time, so such pods are decoded straight from the page's bytes
into just those fields, and only the others are parsed whole."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from typing import Any, TypedDict

import msgspec
import orjson

from k8sdata.pods.podshape import ListMetadata
from k8sdata.sources.kube import trim_object


class _OwnerReference(TypedDict, total=False):
    apiVersion: str | None
    kind: str | None
    name: str | None
    uid: str | None
    controller: bool | None


class _Metadata(TypedDict, total=False):
    name: str | None
    namespace: str | None
    uid: str | None
    labels: dict[str, str] | None
    ownerReferences: list[_OwnerReference] | None


class _Container(TypedDict, total=False):
    name: str | None
    image: str | None


class _Spec(TypedDict, total=False):
    hostNetwork: bool | None
    containers: list[_Container] | None


class _ContainerStatus(TypedDict, total=False):
    name: str | None
    image: str | None
    imageID: str | None


class _Status(TypedDict, total=False):
    phase: str | None
    containerStatuses: list[_ContainerStatus] | None


class _AuditedPod(TypedDict, total=False):
    apiVersion: str | None
    kind: str | None
    metadata: _Metadata | None
    spec: _Spec | None
    status: _Status | None


class _PodPage(msgspec.Struct):
    items: list[msgspec.Raw] | None = None
    metadata: ListMetadata | None = None


_PAGE = msgspec.json.Decoder(_PodPage)
_AUDITED = msgspec.json.Decoder(_AuditedPod)


def audited_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What the audits read of a pod whose controller is scanned instead of it: its names, labels and
    owners (network selection, the owner dedupe), hostNetwork, and its containers' images (the image
    list): _AuditedPod's fields, as the page decoder keeps them. A tenth of a pod at most: at 100,000
    pods the full objects would take gigabytes."""
    return {**msgspec.convert(pod, _AuditedPod), "kind": "Pod"}


def controlled_by(obj: Mapping[str, Any], uids: Set[str]) -> bool:
    """Whether `obj`'s controller is one of `uids` (the engine then scans the controller, not it)."""
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(owner, Mapping) and owner.get("controller") and owner.get("uid") in uids
               for owner in owners)


class AuditedPods:
    """The `slim` of the scan's pods list (k8sdata.sources.kube.ListShape): each page decoded from bytes,
    pods `controller_uids` control into audited fields only (msgspec skips the rest unparsed), the others
    whole; an already parsed pod (a watch event's) is reduced the same way."""

    def __init__(self, controller_uids: Set[str]) -> None:
        self.controller_uids = controller_uids

    def __call__(self, pod: dict[str, Any]) -> dict[str, Any]:
        if controlled_by(pod, self.controller_uids):
            return audited_pod(pod)
        pod["kind"] = "Pod"  # a fresh object from the page just decoded: no copy needed to name its kind
        return pod

    def page_decoder(self) -> Callable[[bytes], tuple[list[Any], str, str]]:
        def decode(raw: bytes) -> tuple[list[Any], str, str]:
            page = _PAGE.decode(raw)
            pods: list[Any] = []
            for item in page.items or []:
                audited: dict[str, Any] = dict(_AUDITED.decode(item))
                if controlled_by(audited, self.controller_uids):
                    audited["kind"] = "Pod"
                    pods.append(audited)
                else:
                    whole = trim_object(orjson.loads(memoryview(item)))
                    whole["kind"] = "Pod"
                    pods.append(whole)
            metadata = page.metadata or ListMetadata()
            return pods, metadata.resourceVersion, metadata.continue_

        return decode
