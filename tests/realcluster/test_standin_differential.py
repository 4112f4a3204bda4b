"""The stand-in API server (sandbox/apiserver) held to the real kube-apiserver: the same objects go into both,
the same requests go to both, and what a client reads from the answers must agree: discovery, list pages and
continue tokens, 410 Expired after a compaction, watch events and bookmarks, Table output, RBAC decisions and
the Status bodies of errors. resourceVersions, uids and timestamps differ by nature, so structure and meaning
are compared, not those values. Every difference that stays is in docs/standin-differences.md, with why.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox import demo_names
from sandbox.apiserver import ApiServer
from sandbox.realcluster import ACCESS_KINDS, ApiClient, RealCluster, demo_definitions
from tests.plugins.kube_api import fixture_cluster_objects

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
REVIEWS = "/apis/authorization.k8s.io/v1"
#: Groups the stand-in serves that a bare kube-apiserver does not: metrics-server is an add-on.
ADD_ON_GROUPS = {"metrics.k8s.io"}
HUMAN_DURATION = re.compile(r"^(\d+[smhdy])+$")


@dataclass(frozen=True)
class Servers:
    """The same clients on both sides: admin (system:masters) and the KAMS reader."""

    real: RealCluster
    standin: ApiServer
    namespace: str
    #: Where the real side writes what only advances etcd's revision, away from the compared objects.
    scratch: str

    def admin(self, side: str) -> ApiClient:
        return self.real.admin if side == "real" else _standin_client(self.standin, demo_names.ADMIN_TOKEN)

    def reader(self, side: str) -> ApiClient:
        return self.real.reader if side == "real" else _standin_client(self.standin, demo_names.READER_TOKEN)

    def both(self, method: str, path: str, *, reader: bool = False, **options: Any) -> dict[str, Any]:
        """{"real": (status, body), "standin": (status, body)} of one request."""
        client = self.reader if reader else self.admin
        return {side: client(side).raw(method, path.format(ns=self.namespace), **options)
                for side in ("real", "standin")}


def _standin_client(server: ApiServer, token: str) -> ApiClient:
    return ApiClient(server.url, token, ssl.create_default_context())


def shared_objects(namespace: str) -> list[dict[str, Any]]:
    """The small fixture cluster's application namespace, moved into `namespace`, and its nodes under names
    of their own (nodes are shared by the whole session). Left out: what the real server cannot be given as
    is (a pod being deleted) and what needs a CRD."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"},
         "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "default", "namespace": namespace}},
    ]
    # Two days back: every "(5m ago)" becomes "(2d)" and cannot tick over between the two servers' answers.
    for obj in fixture_cluster_objects(datetime.now(UTC) - timedelta(days=2)):
        metadata = obj["metadata"]
        if obj["kind"] == "Node":
            objects.append({**obj, "metadata": {**metadata, "name": f"{namespace}-{metadata['name']}"}})
        elif metadata.get("namespace") == "shop" and obj["kind"] != "VulnerabilityReport" \
                and "deletionTimestamp" not in metadata:
            objects.append(json.loads(json.dumps(obj).replace('"shop"', json.dumps(namespace))))
    return objects


@pytest.fixture(scope="module")
def servers(real_cluster: RealCluster, real_namespace: Callable[..., str]) -> Iterator[Servers]:
    namespace, scratch = real_namespace("diff"), real_namespace("diff-scratch")
    objects = shared_objects(namespace)
    real_cluster.load([*demo_definitions(), *objects])
    # The reader's permissions on both sides are deploy/k8s's, as the real cluster applied them.
    access = [obj for obj in real_cluster.deployed_objects() if obj["kind"] in ACCESS_KINDS]
    standin = ApiServer([*access, *objects]).start()
    try:
        yield Servers(real_cluster, standin, namespace, scratch)
    finally:
        standin.stop()


def decoded(answer: tuple[int, bytes]) -> Any:
    return json.loads(answer[1])


# -- discovery ---------------------------------------------------------------------------------------

#: What kubectl and KAMS read from an APIResource: how a name, short name or category maps to a resource.
RESOURCE_FIELDS = ("kind", "namespaced", "singularName", "shortNames", "categories")
READ_VERBS = {"get", "list", "watch"}


def resource_lists(servers: Servers) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, real list, stand-in list) for every group version the stand-in serves."""
    groups = decoded(servers.admin("standin").raw("GET", "/apis"))["groups"]
    paths = ["/api/v1"] + [f"/apis/{v['groupVersion']}" for g in groups if g["name"] not in ADD_ON_GROUPS
                           for v in g["versions"]]
    for path in paths:
        yield path, servers.admin("real").get(path), servers.admin("standin").get(path)


def test_group_lists_agree(servers: Servers) -> None:
    answers = servers.both("GET", "/apis")
    real = {g["name"]: g for g in decoded(answers["real"])["groups"]}
    standin = {g["name"]: g for g in decoded(answers["standin"])["groups"]}
    assert set(standin) - set(real) == ADD_ON_GROUPS
    for name in set(standin) - ADD_ON_GROUPS:
        assert standin[name] == real[name], name
    core = servers.both("GET", "/api")
    real_core, standin_core = decoded(core["real"]), decoded(core["standin"])
    for body in (real_core, standin_core):
        del body["serverAddressByClientCIDRs"]  # each server's own address
    assert standin_core == real_core


def test_resources_agree_on_what_clients_read(servers: Servers) -> None:
    for path, real, standin in resource_lists(servers):
        assert real.keys() == standin.keys(), path  # the core list has no apiVersion on either
        served = {entry["name"]: entry for entry in real["resources"]}
        for entry in standin["resources"]:
            name = f"{path} {entry['name']}"
            assert entry["name"] in served, name
            truth = served[entry["name"]]
            assert [entry.get(f) for f in RESOURCE_FIELDS] == [truth.get(f) for f in RESOURCE_FIELDS], name
            # The stand-in serves reads only: it never claims a verb the real one lacks, and reads match.
            assert set(entry["verbs"]) <= set(truth["verbs"]), name
            assert set(entry["verbs"]) & READ_VERBS == set(truth["verbs"]) & READ_VERBS, name


# -- lists and continue tokens -----------------------------------------------------------------------

#: The test's own events. kube-apiserver's repair controllers record events of their own about Services
#: now and then (seen once in a few runs: a Warning on the Service `web`, from "...-repair-controller"),
#: which the stand-in, without those controllers, never has; every test of event lists leaves them out.
OWN_EVENTS = "fieldSelector=involvedObject.kind%21%3DService"
#: (path, query): paging with and without selectors, a page boundary at the very end, a last page that
#: the selector leaves empty.
LIST_QUERIES = [
    ("/api/v1/namespaces/{ns}/pods", "limit=3"),
    ("/api/v1/namespaces/{ns}/pods", "limit=4"),
    ("/api/v1/namespaces/{ns}/pods", "limit=3&labelSelector=app%21%3Dcrash"),
    ("/api/v1/namespaces/{ns}/pods", "limit=2&labelSelector=app+in+%28api%2Ccrash%29"),
    ("/api/v1/namespaces/{ns}/pods", "limit=2&fieldSelector=status.phase%3DRunning"),
    ("/api/v1/namespaces/{ns}/pods", "limit=500"),
    ("/api/v1/namespaces/{ns}/events", f"limit=1&{OWN_EVENTS}"),
    ("/apis/apps/v1/namespaces/{ns}/deployments", ""),
    ("/api/v1/namespaces/{ns}/configmaps", "limit=1&fieldSelector=metadata.name%3Dweb-config"),
]


def pages(client: ApiClient, path: str, query: str, token: str = "") -> list[dict[str, Any]]:
    """Every page of a list, from `token` on, followed to its end, as what a client reads from it."""
    answers: list[dict[str, Any]] = []
    while True:
        page = client.get(f"{path}?{query}" + (f"&continue={token}" if token else ""))
        metadata = page["metadata"]
        answers.append({"kind": page["kind"], "apiVersion": page.get("apiVersion"),
                        "names": [item["metadata"]["name"] for item in page["items"]],
                        "remainingItemCount": metadata.get("remainingItemCount"),
                        "continues": bool(metadata.get("continue")),
                        "resourceVersion": metadata["resourceVersion"]})
        token = metadata.get("continue", "")
        if not token or len(answers) > 20:
            return answers


@pytest.mark.parametrize(("path", "query"), LIST_QUERIES)
def test_list_pages_agree(servers: Servers, path: str, query: str) -> None:
    path = path.format(ns=servers.namespace)
    real, standin = pages(servers.admin("real"), path, query), pages(servers.admin("standin"), path, query)
    # Every page of one list is read at the first page's resourceVersion.
    for side in (real, standin):
        assert len({page.pop("resourceVersion") for page in side}) == 1
    assert standin == real


# -- 410 Expired after a compaction --------------------------------------------------------------------

def status_body(answer: tuple[int, bytes]) -> dict[str, Any]:
    body = decoded(answer)
    assert body["kind"] == "Status", body
    return {**body, "http": answer[0]}


def expire(servers: Servers, side: str) -> None:
    """Make every resourceVersion handed out so far older than the store's history. Two writes first: a
    compaction at revision R keeps R, so a watch from R-1 would still be served."""
    admin = servers.admin("real")
    if side == "real":
        for _ in range(2):
            admin.create({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": f"bump-{servers.real.etcd.revision()}",
                                       "namespace": servers.scratch}})
        servers.real.etcd.compact()
    else:
        servers.standin.store.compact()


# Events: kube-apiserver keeps no watch cache for them, so its lists and watches reach etcd and see the
# compaction at once (cached resources are served from the cache's own window; see the differences doc).
EVENTS = "/api/v1/namespaces/{ns}/events"


def test_an_expired_continue_token_is_410_with_a_token_to_go_on(servers: Servers) -> None:
    path = EVENTS.format(ns=servers.namespace)
    first = {side: servers.admin(side).get(f"{path}?limit=1&{OWN_EVENTS}") for side in ("real", "standin")}
    for side in first:
        expire(servers, side)
    answers = {side: status_body(servers.admin(side).raw("GET", f"{path}?limit=1&{OWN_EVENTS}&continue="
                                                                + first[side]["metadata"]["continue"]))
               for side in first}
    resume = {side: answers[side].pop("metadata").get("continue") for side in answers}
    assert answers["standin"] == answers["real"]
    assert answers["real"]["http"] == 410 and answers["real"]["reason"] == "Expired"
    # The 410 carries a token that goes on, inconsistently, from where the expired one stopped.
    rest = {side: pages(servers.admin(side), path, f"limit=1&{OWN_EVENTS}", resume[side]) for side in resume}
    assert [page["names"] for page in rest["standin"]] == [page["names"] for page in rest["real"]]
    assert rest["real"][0]["names"] == ["pending-1.failed"]


# -- watch ---------------------------------------------------------------------------------------------

def watch(client: ApiClient, path: str, query: str) -> list[dict[str, Any]]:
    status, body = client.raw("GET", f"{path}?watch=1&timeoutSeconds=1&{query}", timeout=10)
    assert status == 200, body[:300]
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def event_shape(event: dict[str, Any]) -> tuple[str, str, str | None, tuple[str, ...]]:
    obj = event["object"]
    metadata = obj.get("metadata") or {}
    annotations = tuple(sorted(metadata.get("annotations") or {})) if event["type"] == "BOOKMARK" else ()
    return event["type"], obj.get("kind", ""), metadata.get("name"), annotations


def test_initial_events_end_with_a_bookmark(servers: Servers) -> None:
    path = f"/api/v1/namespaces/{servers.namespace}/pods"
    query = "allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
    real, standin = (watch(servers.admin(side), path, query) for side in ("real", "standin"))
    assert [event_shape(e) for e in standin] == [event_shape(e) for e in real]
    assert event_shape(real[-1]) == ("BOOKMARK", "Pod", None, ("k8s.io/initial-events-end",))
    for side in (real, standin):  # the bookmark is at the state the ADDED events showed, or later
        added = max(int(e["object"]["metadata"]["resourceVersion"]) for e in side if e["type"] == "ADDED")
        assert int(side[-1]["object"]["metadata"]["resourceVersion"]) >= added


def change_one_configmap(servers: Servers, side: str, name: str) -> None:
    """Create, change and delete one ConfigMap, through the API or the stand-in's store."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": servers.namespace},
          "data": {"step": "1"}}
    changed = {**cm, "data": {"step": "2"}}
    if side == "real":
        admin = servers.admin("real")
        admin.create(cm)
        admin.request("PUT", admin.path_of(changed), changed)
        admin.delete(changed)
    else:
        store = servers.standin.store
        store.add(cm)
        store.update(changed)
        store.delete("configmaps", servers.namespace, name)


def test_changes_after_a_resource_version_are_added_modified_deleted(servers: Servers) -> None:
    path = f"/api/v1/namespaces/{servers.namespace}/configmaps"
    shapes = {}
    for side in ("real", "standin"):
        start = servers.admin(side).get(path)["metadata"]["resourceVersion"]
        change_one_configmap(servers, side, "watched")
        events = [e for e in watch(servers.admin(side), path, f"resourceVersion={start}")
                  if e["object"]["metadata"].get("name") == "watched"]
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert versions == sorted(versions) and versions[0] > int(start), side
        shapes[side] = [(e["type"], e["object"].get("data")) for e in events]
    assert shapes["standin"] == shapes["real"] == [("ADDED", {"step": "1"}), ("MODIFIED", {"step": "2"}),
                                                    ("DELETED", {"step": "2"})]


#: What a watch from a compacted resourceVersion ends with: the watch cache's wording, or etcd's for a
#: resource without a watch cache (events).
TOO_OLD = re.compile(r"^(too old resource version: \d+ \(\d+\)|The resourceVersion for the provided watch "
                     r"is too old\.)$")


def test_a_watch_from_before_the_compaction_ends_with_an_expired_error(servers: Servers) -> None:
    path = EVENTS.format(ns=servers.namespace)
    errors = {}
    for side in ("real", "standin"):
        start = servers.admin(side).get(path)["metadata"]["resourceVersion"]
        expire(servers, side)
        events = watch(servers.admin(side), path, f"resourceVersion={start}&allowWatchBookmarks=true")
        assert [e["type"] for e in events] == ["ERROR"], side
        errors[side] = events[0]["object"]
        assert TOO_OLD.match(errors[side].pop("message")), side
    assert errors["standin"] == errors["real"] == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                   "status": "Failure", "reason": "Expired", "code": 410}


# -- Table output ----------------------------------------------------------------------------------------

#: Kinds the stand-in prints as upstream's printers do.
PRINTED = [
    "/api/v1/namespaces/{ns}/pods", "/api/v1/namespaces/{ns}/pods?limit=3",
    "/api/v1/namespaces/{ns}/pods/crash-1",
    "/api/v1/nodes/{ns}-node-a", "/api/v1/nodes/{ns}-node-b",
    f"/api/v1/namespaces/{{ns}}/events?{OWN_EVENTS}",
    "/api/v1/namespaces/{ns}", "/api/v1/namespaces/{ns}/configmaps", "/api/v1/namespaces/{ns}/secrets",
    "/api/v1/namespaces/{ns}/serviceaccounts", "/apis/apps/v1/namespaces/{ns}/deployments",
    "/apis/apps/v1/namespaces/{ns}/replicasets", "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "/apis/apps/v1/namespaces/{ns}/daemonsets", "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
]
#: Kinds it prints with the default Name and Age columns only (docs/standin-differences.md).
UNPRINTED = [
    "/api/v1/namespaces/{ns}/services", "/api/v1/namespaces/{ns}/endpoints",
    "/apis/batch/v1/namespaces/{ns}/jobs",
    "/apis/batch/v1/namespaces/{ns}/cronjobs", "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
]


def table_view(answer: tuple[int, bytes]) -> dict[str, Any]:
    """A Table as kubectl reads it, ages (the server's own creationTimestamp) replaced by a marker."""
    assert answer[0] == 200, answer[1][:300]
    table = decoded(answer)
    columns = [(c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]]
    age = [c[0] for c in columns].index("Age") if ("Age", "string", "", 0) in columns else None
    rows = []
    for row in table["rows"]:
        cells = list(row["cells"])
        if age is not None:
            assert HUMAN_DURATION.match(cells[age]), cells
            cells[age] = "<age>"
        rows.append({"cells": cells, "conditions": row.get("conditions"), "object": row["object"]["kind"],
                     "name": row["object"]["metadata"]["name"]})
    return {"kind": table["kind"], "apiVersion": table["apiVersion"], "columns": columns, "rows": rows,
            "metadata": sorted(table["metadata"])}


@pytest.mark.parametrize("path", PRINTED)
def test_tables_agree(servers: Servers, path: str) -> None:
    answers = servers.both("GET", path, accept=TABLE)
    assert table_view(answers["standin"]) == table_view(answers["real"])


@pytest.mark.parametrize("path", UNPRINTED)
def test_unprinted_kinds_keep_the_real_name_and_age(servers: Servers, path: str) -> None:
    answers = servers.both("GET", path, accept=TABLE)
    real, standin = table_view(answers["real"]), table_view(answers["standin"])
    assert [c[0] for c in standin["columns"]] == ["Name", "Age"]
    assert {"Name", "Age"} <= {c[0] for c in real["columns"]} and len(real["columns"]) > 2  # still missing
    assert [row["name"] for row in standin["rows"]] == [row["name"] for row in real["rows"]]


# -- pod logs ------------------------------------------------------------------------------------------

def test_a_log_of_a_pod_no_node_runs_is_no_content(servers: Servers) -> None:
    """kube-apiserver has no kubelet to ask for a pod without a node, and says so with 204, which a
    client must not read as "the container wrote nothing" (KAMS turns it into a sentence)."""
    answers = servers.both("GET", "/api/v1/namespaces/{ns}/pods/pending-1/log?container=main&tailLines=10")
    assert answers["standin"] == answers["real"] == (204, b"")


# -- RBAC ------------------------------------------------------------------------------------------------

#: (group, resource, subresource) the reader is asked about, in its namespace and cluster-wide.
RBAC_RESOURCES = [
    ("", "pods", ""), ("", "pods", "log"), ("", "pods", "exec"), ("", "pods", "portforward"),
    ("", "secrets", ""),
    ("", "configmaps", ""), ("", "nodes", ""), ("", "namespaces", ""), ("", "serviceaccounts", "token"),
    ("apps", "deployments", ""), ("apps", "deployments", "scale"), ("batch", "cronjobs", ""),
    ("metrics.k8s.io", "pods", ""), ("aquasecurity.github.io", "vulnerabilityreports", ""),
    ("rbac.authorization.k8s.io", "clusterrolebindings", ""),
    ("certificates.k8s.io", "clustertrustbundles", ""),
    ("authorization.k8s.io", "selfsubjectaccessreviews", ""), ("apps", "*", ""), ("*", "*", ""),
]
RBAC_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"]
NON_RESOURCE_PATHS = ["/metrics", "/healthz", "/livez/ping", "/version", "/api", "/apis/apps", "/openapi/v3",
                      "/openid/v1/jwks", "/.well-known/openid-configuration", "/logs", "/debug/pprof"]


def access_review(client: ApiClient, spec: dict[str, Any]) -> dict[str, Any]:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
    return client.request("POST", f"{REVIEWS}/selfsubjectaccessreviews", review)["status"]


def test_access_reviews_agree(servers: Servers) -> None:
    specs = [{"resourceAttributes": {"group": group, "resource": resource, "subresource": sub, "verb": verb,
                                     "namespace": namespace}}
             for group, resource, sub in RBAC_RESOURCES for verb in RBAC_VERBS
             for namespace in (servers.namespace, "")]
    specs += [{"nonResourceAttributes": {"path": path, "verb": verb}}
              for path in NON_RESOURCE_PATHS for verb in ("get", "post")]
    real, standin = ([access_review(servers.reader(side), spec) for spec in specs]
                     for side in ("real", "standin"))
    differences = [(spec, r, s) for spec, r, s in zip(specs, real, standin, strict=True)
                   if r["allowed"] != s["allowed"] or ("resourceAttributes" in spec and r != s)]
    # Reasons name the binding that allowed: compared for resources, where one binding grants each; several
    # bootstrap bindings grant /healthz and /version, and which one the real authorizer meets first varies.
    assert not differences
    assert any(answer["allowed"] for answer in real) and not all(answer["allowed"] for answer in real)


def rules_review(client: ApiClient, namespace: str) -> tuple[dict[str, Any], set[tuple[str, ...]]]:
    """(the review without its rules, the rules as (verb, group, resource[, name]) and (verb, url) grants):
    how the rules are grouped into PolicyRules is the binding's business, not the meaning."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "spec": {"namespace": namespace}}
    answer = client.request("POST", f"{REVIEWS}/selfsubjectrulesreviews", review)
    status = answer.pop("status")
    grants = {(verb, group, resource, name) for rule in status["resourceRules"] for verb in rule["verbs"]
              for group in rule["apiGroups"] for resource in rule["resources"]
              for name in rule.get("resourceNames") or ["*"]}
    grants |= {(verb, url) for rule in status["nonResourceRules"] for verb in rule["verbs"]
               for url in rule["nonResourceURLs"]}
    answer["metadata"] = {}  # the real server adds managedFields, the stand-in a null creationTimestamp
    return {**answer, "incomplete": status["incomplete"]}, grants


def test_rules_reviews_agree(servers: Servers) -> None:
    for namespace in (servers.namespace, "kams"):
        real, standin = (rules_review(servers.reader(side), namespace) for side in ("real", "standin"))
        assert standin == real
        assert ("get", "", "secrets", "*") not in real[1] and ("watch", "", "pods", "*") in real[1]


# -- Status bodies of errors ---------------------------------------------------------------------------

#: (who, method, path): the errors a client meets. Bodies must be equal but for what MESSAGE_ONLY_PREFIX
#: allows.
ERRORS = [
    ("reader", "GET", "/api/v1/namespaces/{ns}/secrets"),
    ("reader", "GET", "/api/v1/namespaces/{ns}/secrets/web-secret"),
    ("reader", "GET", "/api/v1/secrets"),
    ("reader", "DELETE", "/api/v1/namespaces/{ns}/pods/web-1"),
    ("reader", "POST", "/apis/apps/v1/namespaces/{ns}/deployments"),
    ("reader", "GET", "/apis/nope.example/v1/things"),
    ("reader", "GET", "/api/v1/namespaces/{ns}/pods/web-1/exec"),
    ("reader", "GET", "/metrics"),
    ("reader", "GET", "/api/v1/namespaces/{ns}/pods/missing"),
    ("reader", "GET", "/apis/apps/v1/namespaces/{ns}/deployments/missing"),
    ("reader", "GET", "/api/v1/nodes/missing"),
    ("admin", "GET", "/api/v1/namespaces/{ns}/configmaps/missing"),
    ("admin", "GET", "/api/v1/widgets"),
    ("admin", "GET", "/apis/apps/v1/namespaces/{ns}/widgets/x"),
    ("admin", "GET", "/apis/nope.example/v1/things"),
    ("admin", "GET", "/apis/nope.example"),
    ("admin", "GET", "/api/v1/namespaces/{ns}/pods?limit=1&continue=bm90LWEtdG9rZW4"),
]
#: Go's JSON decoder names the byte it choked on; the stand-in's tokens are decoded by another parser.
MESSAGE_ONLY_PREFIX = {"/api/v1/namespaces/{ns}/pods?limit=1&continue=bm90LWEtdG9rZW4":
                       "invalid continue token: continue key is not valid: "}


def error_view(answer: tuple[int, bytes], path: str) -> dict[str, Any] | str:
    status, body = answer
    if not body.lstrip().startswith(b"{"):
        return f"{status} {body.decode()}"  # Go's plain-text 404 for a path outside every API group
    view = {**json.loads(body), "http": status}
    if path in MESSAGE_ONLY_PREFIX:
        assert view["message"].startswith(MESSAGE_ONLY_PREFIX[path]), view
        view["message"] = MESSAGE_ONLY_PREFIX[path]
    return view


@pytest.mark.parametrize(("who", "method", "path"), ERRORS)
def test_error_bodies_agree(servers: Servers, who: str, method: str, path: str) -> None:
    answers = servers.both(method, path, reader=who == "reader")
    real, standin = error_view(answers["real"], path), error_view(answers["standin"], path)
    assert standin == real
    assert answers["real"][0] >= 400
