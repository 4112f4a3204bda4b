"""Slim pods decoded straight from the API server's JSON with msgspec: only the fields KAMS reads.

Why: a pod is ~7 KB of JSON (managedFields, env, probes, volumes...). Parsing it all into dicts and
then throwing most away cost 7.5 s and 2.5 GB at 100,000 pods (bench/PROFILE.md). msgspec decodes a
page against the types below and skips every other field without building it, and Structs with
`gc=False` cost a fraction of dicts (no per-object hash table, not tracked by the garbage collector).

The shape is the API's: the same camelCase keys, nesting and values as the JSON, reduced to the fields
that k8sdata.pods.frames (pods table, pod detail), k8sdata.pods.resources, k8sdata.pods.workloads and
ui/pod_detail.py read. Every part answers the read-only dict calls they use (`part.get("status") or {}`,
`part["reason"]`, `"key" in part`, iteration over set keys), so those consumers take slim and full
pods alike. `as_dict(pod)` gives plain dicts (e.g. for JSON output). A field that the API omits, or
that is null, reads as absent, as it does in the parsed JSON.

A field a consumer starts reading must be added here, or it will silently read as absent: the test
tests/k8sdata/test_podshape.py compares every pod frame built from slim pods with the same frame built
from the full JSON, for the demo cluster and synthetic pods.

Repeated strings (namespaces, node names, phases, condition types, images, label values, timestamps
shared by a pod's conditions...) are interned per list, and equal label sets, owner lists, container
specs, container status lists and container states are shared between pods (Interner): a 100,000-pod
list takes ~150 MB instead of ~600 MB. Treat every part as read-only: parts are shared.

Fields no reader of slim pods uses are not declared (a container's startedAt, the pod's hostIP,
startTime, restartPolicy, serviceAccountName, generateName...): each costs memory in every pod, and a
unique timestamp would stop equal states from being shared. (The security scans read full objects.)
A list's pods leave out podIPs where it only repeats podIP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import msgspec

# ------------------------------------------------------------------------------------------ the types


#: The names a part answers as methods: never fields (no Kubernetes pod field has these names).
_METHODS = frozenset({"get", "keys", "items", "values"})


class _Part(msgspec.Struct, gc=False, omit_defaults=True):
    """A read-only, dict-like view of one object of the API's JSON (set fields only): `get`, `[]`, `in`,
    `keys`, `items`, `values` and iteration, as on the parsed JSON.

    Unlike a dict, a part is always truthy, even with no field set, and has no len(): `part or {}`
    then stays as fast as on a dict (a Python __bool__ would cost 10x, on every `.get(...) or {}` of
    the pods table). Consumers test fields for None or read them with get, where both agree.
    gc=False: parts never form reference cycles, so the collector need not track millions of them."""

    def get(self, key: str, default: Any = None) -> Any:
        # The hottest call of the pods table (~40 per pod): one getattr, and the method names guarded
        # only when something was found.
        value = getattr(self, key, None)
        if value is None or key in _METHODS:
            return default
        return value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def keys(self) -> list[str]:
        return [name for name in self.__struct_fields__ if getattr(self, name) is not None]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def items(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in self.keys()]

    def values(self) -> list[Any]:
        return [getattr(self, name) for name in self.keys()]


Quantities = dict[str, str]


class OwnerReference(_Part, gc=False, omit_defaults=True):
    apiVersion: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None


class ObjectMeta(_Part, gc=False, omit_defaults=True):
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resourceVersion: str | None = None
    creationTimestamp: str | None = None
    deletionTimestamp: str | None = None
    labels: dict[str, str] | None = None
    ownerReferences: tuple[OwnerReference, ...] | None = None


class ResourceRequirements(_Part, gc=False, omit_defaults=True):
    requests: Quantities | None = None
    limits: Quantities | None = None


class Container(_Part, gc=False, omit_defaults=True):
    name: str | None = None
    image: str | None = None
    resources: ResourceRequirements | None = None
    restartPolicy: str | None = None  # "Always" on an init container: a sidecar


class PodSpec(_Part, gc=False, omit_defaults=True):
    nodeName: str | None = None
    containers: tuple[Container, ...] | None = None
    initContainers: tuple[Container, ...] | None = None
    resources: ResourceRequirements | None = None  # pod-level resources (PodLevelResources)
    overhead: Quantities | None = None  # RuntimeClass overhead, part of the effective request


class PodCondition(_Part, gc=False, omit_defaults=True):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    message: str | None = None
    lastTransitionTime: str | None = None


class ContainerStateRunning(_Part, gc=False, omit_defaults=True):
    """No fields: being running is all a reader asks (its startedAt, unique to each container, is not
    read), so every running state of a list is one shared object."""


class ContainerStateWaiting(_Part, gc=False, omit_defaults=True):
    reason: str | None = None
    message: str | None = None


class ContainerStateTerminated(_Part, gc=False, omit_defaults=True):
    exitCode: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    finishedAt: str | None = None


class ContainerState(_Part, gc=False, omit_defaults=True):
    running: ContainerStateRunning | None = None
    waiting: ContainerStateWaiting | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(_Part, gc=False, omit_defaults=True):
    name: str | None = None
    ready: bool | None = None
    started: bool | None = None
    restartCount: int | None = None
    image: str | None = None
    imageID: str | None = None
    state: ContainerState | None = None
    lastState: ContainerState | None = None


class PodIP(_Part, gc=False, omit_defaults=True):
    ip: str | None = None


class PodStatus(_Part, gc=False, omit_defaults=True):
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    podIP: str | None = None
    podIPs: tuple[PodIP, ...] | None = None  # left out of a list's pods when it only repeats podIP
    qosClass: str | None = None
    conditions: tuple[PodCondition, ...] | None = None
    initContainerStatuses: tuple[ContainerStatus, ...] | None = None
    containerStatuses: tuple[ContainerStatus, ...] | None = None


class Pod(_Part, gc=False, omit_defaults=True):
    apiVersion: str | None = None
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None


class ListMetadata(msgspec.Struct):
    """A list page's metadata: the list's resourceVersion and the token of the next page."""

    resourceVersion: str = ""
    # `continue` is a Python keyword: decode it under another attribute name.
    continue_: str = msgspec.field(default="", name="continue")


class _PodList(msgspec.Struct):
    metadata: ListMetadata = msgspec.field(default_factory=ListMetadata)
    items: list[Pod] = msgspec.field(default_factory=list)


_PAGE_DECODER = msgspec.json.Decoder(_PodList)
_encode = msgspec.json.Encoder().encode  # a stable key for equal parts (Interner)
_POD_DECODER = msgspec.json.Decoder(Pod)


# ------------------------------------------------------------------------------------------ interning


class Interner:
    """Shares equal strings and equal parts between the pods of one list: label sets, owner lists,
    container specs, container status lists and container states.

    One instance per list, or per watch event (PodShape.watched); its tables are freed with it. Pods of
    one workload repeat everything but a few names, addresses and times, so most of a big list is one
    object per workload, not per pod: ~1.2 KB a pod at 100,000 synthetic pods, ~5 KB unshared
    (bench/PROFILE.md, round 3).

    How equal parts are found, cheapest first: a list comes in name order, so a workload's pods mostly
    follow one another, and a part is first compared (in C, no allocation) with the same kind of part
    of the pod before; else it is looked up by its msgspec JSON encoding (one C call) in one table per
    kind of part, so that two kinds with equal JSON (an owner list and a container list that both hold
    only a name) are never taken for one another. (`==` ignores the order of a dict's keys, the JSON
    key does not: the API server writes map keys sorted, so equal label sets come in one order.)"""

    def __init__(self) -> None:
        self._strings: dict[str | None, str | None] = {}
        self._labels: dict[bytes, dict[str, str]] = {}
        self._owners: dict[bytes, tuple[OwnerReference, ...]] = {}
        self._containers: dict[bytes, tuple[Container, ...]] = {}
        self._statuses: dict[bytes, tuple[ContainerStatus, ...]] = {}
        self._states: dict[bytes, ContainerState] = {}
        # The shared parts of the pod before (see above).
        self._last_labels: dict[str, str] | None = None
        self._last_owners: tuple[OwnerReference, ...] | None = None
        self._last_containers: tuple[Container, ...] | None = None
        self._last_statuses: tuple[ContainerStatus, ...] | None = None

    def pod(self, pod: Pod) -> Pod:
        # Bound C methods and inline code, not Python helpers, for what every pod has: this runs for
        # each pod of a 100,000-pod list. (text(None, None) is harmless: None is simply kept as None.)
        text = self._strings.setdefault
        pod.kind = text(pod.kind, pod.kind)
        pod.apiVersion = text(pod.apiVersion, pod.apiVersion)
        metadata = pod.metadata
        created = None
        if metadata is not None:
            metadata.namespace = text(metadata.namespace, metadata.namespace)
            created = text(metadata.creationTimestamp, metadata.creationTimestamp)
            metadata.creationTimestamp = created
            labels = metadata.labels
            if labels:
                if labels == self._last_labels:
                    metadata.labels = self._last_labels
                else:
                    key = _encode(labels)
                    shared_labels = self._labels.get(key)
                    if shared_labels is None:  # a new label set: its keys and values are mostly not new
                        # The string table gives a str back for a str (None only for None).
                        shared_labels = cast("dict[str, str]", {text(name, name): text(value, value)
                                                                for name, value in labels.items()})
                        self._labels[key] = shared_labels
                    metadata.labels = self._last_labels = shared_labels
            owners = metadata.ownerReferences
            if owners:
                if owners == self._last_owners:
                    metadata.ownerReferences = self._last_owners
                else:
                    owners = self._owners.setdefault(_encode(owners), owners)
                    metadata.ownerReferences = self._last_owners = owners
        spec = pod.spec
        if spec is not None:
            spec.nodeName = text(spec.nodeName, spec.nodeName)
            containers = spec.containers
            if containers:
                if containers == self._last_containers:
                    spec.containers = self._last_containers
                else:
                    containers = self._containers.setdefault(_encode(containers), containers)
                    spec.containers = self._last_containers = containers
            containers = spec.initContainers
            if containers:
                spec.initContainers = self._containers.setdefault(_encode(containers), containers)
        status = pod.status
        if status is not None:
            status.phase = text(status.phase, status.phase)
            status.qosClass = text(status.qosClass, status.qosClass)
            if status.reason is not None:  # Evicted, NodeLost...: repeated across pods
                status.reason = text(status.reason, status.reason)
            ips = status.podIPs
            if ips is not None and len(ips) == 1 and ips[0].ip == status.podIP:
                # Single-stack: podIPs only repeats podIP. Its readers (the IP column) take podIPs[0]
                # when there is one and podIP otherwise, so both read the same address without it;
                # dual-stack pods (two addresses) keep it. Saves a tuple and a struct a pod (~70 B).
                status.podIPs = None
            # A condition's time is mostly the pod's creation time or the one of the condition before
            # (Ready and ContainersReady): compared here, not looked up in the table of strings, where
            # these nearly unique timestamps would only make every lookup slower.
            previous = created
            for condition in status.conditions or ():
                condition.type = text(condition.type, condition.type)
                condition.status = text(condition.status, condition.status)
                if condition.reason is not None:
                    condition.reason = text(condition.reason, condition.reason)
                    condition.message = text(condition.message, condition.message)
                moment = condition.lastTransitionTime
                if moment == created:
                    condition.lastTransitionTime = created
                elif moment == previous:
                    condition.lastTransitionTime = previous
                else:
                    previous = moment
            statuses = status.containerStatuses
            if statuses:
                if statuses == self._last_statuses:
                    status.containerStatuses = self._last_statuses
                else:
                    status.containerStatuses = self._last_statuses = self._container_statuses(statuses)
            statuses = status.initContainerStatuses
            if statuses:
                status.initContainerStatuses = self._container_statuses(statuses)
        return pod

    def learn(self, pod: Pod) -> None:
        """Make `pod`'s strings and parts the shared ones for the pods interned after it, without changing
        `pod`: it may be in use (a watch cache's current version of a pod, which readers hold)."""
        text = self._strings.setdefault
        metadata, spec, status = pod.metadata, pod.spec, pod.status
        strings = [pod.kind, pod.apiVersion]
        if metadata is not None:
            strings += (metadata.namespace, metadata.creationTimestamp)
            if metadata.labels:
                self._last_labels = self._labels.setdefault(_encode(metadata.labels), metadata.labels)
                strings += (*metadata.labels.keys(), *metadata.labels.values())
            if metadata.ownerReferences:
                owners = metadata.ownerReferences
                self._last_owners = self._owners.setdefault(_encode(owners), owners)
        if spec is not None:
            strings.append(spec.nodeName)
            if spec.containers:
                containers = spec.containers
                self._last_containers = self._containers.setdefault(_encode(containers), containers)
            if spec.initContainers:
                self._containers.setdefault(_encode(spec.initContainers), spec.initContainers)
        if status is not None:
            strings += (status.phase, status.qosClass, status.reason)
            for condition in status.conditions or ():
                strings += (condition.type, condition.status, condition.reason, condition.message)
            for statuses in (status.containerStatuses, status.initContainerStatuses):
                if not statuses:
                    continue
                self._statuses.setdefault(_encode(statuses), statuses)
                for container in statuses:
                    strings += (container.name, container.image, container.imageID)
                    for state in (container.state, container.lastState):
                        if state is not None:
                            self._states.setdefault(_encode(state), state)
            if status.containerStatuses:
                self._last_statuses = status.containerStatuses
        for string in strings:
            text(string, string)

    def _container_statuses(self, statuses: tuple[ContainerStatus, ...]) -> tuple[ContainerStatus, ...]:
        """The shared list equal to `statuses`. The containers of a running workload's ready pods report
        the same name, image, digest, restart count and state (a running state has no field KAMS reads),
        so their whole list is one object; the others share their strings and states."""
        key = _encode(statuses)
        shared = self._statuses.get(key)
        if shared is None:
            text, state_of = self._strings.setdefault, self._state
            for container in statuses:
                container.name = text(container.name, container.name)
                container.image = text(container.image, container.image)
                container.imageID = text(container.imageID, container.imageID)
                container.state = state_of(container.state)
                container.lastState = state_of(container.lastState)
            shared = self._statuses[key] = statuses
        return shared

    def _state(self, state: ContainerState | None) -> ContainerState | None:
        """The shared state equal to `state` (running, an empty lastState, waiting for the same reason)."""
        if state is None:
            return None
        key = _encode(state)
        shared = self._states.get(key)
        if shared is None:
            text = self._strings.setdefault
            for detail in (state.waiting, state.terminated):
                if detail is not None and detail.reason is not None:
                    detail.reason = text(detail.reason, detail.reason)
            shared = self._states[key] = state
        return shared


# ------------------------------------------------------------------------------------------ decoding


@dataclass(frozen=True)
class PodPage:
    """One page of a pod list: its slim pods, the list's resourceVersion and the continue token."""

    items: list[Pod]
    resource_version: str
    continue_token: str


def decode_pod_page(raw: bytes, interner: Interner | None = None) -> PodPage:
    """Decode one PodList page (`GET /api/v1/pods?limit=500`) into slim pods.

    Raises msgspec.DecodeError (a subclass of ValueError) for JSON that is not a PodList."""
    page = _PAGE_DECODER.decode(raw)
    items = page.items
    if interner is not None:
        intern = interner.pod
        for pod in items:
            intern(pod)
    return PodPage(items, page.metadata.resourceVersion, page.metadata.continue_)


def decode_pod(raw: bytes) -> Pod:
    """One pod's JSON (a GET or a watch event's object) as a slim pod."""
    return _POD_DECODER.decode(raw)


def slim_pod(pod: Mapping[str, Any]) -> Pod:
    """An already parsed pod (a dict, e.g. from a watch event) as a slim pod. Slim pods pass through."""
    if isinstance(pod, Pod):
        return pod
    return msgspec.convert(pod, Pod)


class PodShape:
    """What KubeClient.list_with_version and WatchedList take as `slim` for pods
    (k8sdata.sources.kube.ListShape):
    called with a parsed pod it returns the slim pod; `page_decoder()` decodes the pages of one list from
    bytes, sharing equal parts between that list's pods; `watched(pod, like)` slims a watch event's pod
    sharing equal parts with a cached one (WatchedList uses it when given this shape)."""

    def __call__(self, pod: Mapping[str, Any]) -> Pod:
        return slim_pod(pod)

    def watched(self, pod: Mapping[str, Any], like: Any = None) -> Pod:
        """A watch event's pod as a slim pod sharing its equal parts with `like`: the cached version it
        replaces, or for a new pod the one a watch event brought last (a rollout's new pods come one after
        another). Without it every pod a watch event brings would keep its own copy of everything: ~4.9 KB
        instead of ~1.2 KB a pod, and a long-running watch cache would drift towards that as pods change.
        `like` is not changed (readers may hold it); anything but a slim pod is ignored."""
        slim = slim_pod(pod)
        if isinstance(like, Pod) and like is not slim:
            interner = Interner()  # bounded: it knows one pod, and is dropped with this event
            interner.learn(like)
            interner.pod(slim)
        return slim

    def page_decoder(self) -> Callable[[bytes], tuple[list[Pod], str, str]]:
        """decode(page bytes) -> (slim pods, the list's resourceVersion, the continue token or "")."""
        interner = Interner()

        def decode(raw: bytes) -> tuple[list[Pod], str, str]:
            page = decode_pod_page(raw, interner)
            return page.items, page.resource_version, page.continue_token

        return decode

    def __repr__(self) -> str:
        return "POD_SHAPE"


#: The one PodShape (stateless; each list gets its own Interner from page_decoder()).
POD_SHAPE = PodShape()


def as_dict(part: Any) -> Any:
    """Plain dicts and lists with the API's keys (absent fields left out), e.g. for JSON output."""
    return msgspec.json.decode(_encode(part))  # (to_builtins would keep the tuples)
