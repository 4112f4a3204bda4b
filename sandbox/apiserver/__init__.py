"""A stand-in kube-apiserver (standard library HTTP) that kubectl and the official client accept.

    from sandbox.apiserver import ApiServer
    with ApiServer(objects) as server:                 # 127.0.0.1, a free port
        server.write_kubeconfig(path, READER_TOKEN)    # https + embedded CA: kubectl needs TLS for tokens
        server.store.update(pod)                       # bumps resourceVersion, notifies watches
        server.set_fault(r"^/api/v1/pods$", "throttle", retry_after=3)
        server.requests_to(r"/pods$")                  # the request log

Pieces: `server` (ApiServer, and the handler: a thin router), `transport` (TLS sniffing, plain and
chunked responses, request records), `routing` (URL to verb and served resource), `access` (authentication,
the authorization filter, the self-reviews), `errors` (Status objects), `discovery`, `reads` (get, list,
paging), `watch`, `podlogs`, `metrics` (metrics.k8s.io from sandbox.usage), `tables` (printPod & co.),
`faults`, `requestlog`; underneath: `resources` (what is served), `store` (pre-serialized objects,
resourceVersions, history, compaction, watchers), `selectors`, `rbac` (tokens, RBAC evaluation, 403
wording), `protobuf` (the two review bodies kubectl sends as protobuf), `tls` (a throw-away certificate).
Run it alone with `python -m sandbox.apiserver --demo --kubeconfig-out /tmp/kams.kubeconfig`.

It is held to a real kube-apiserver by tests/realcluster/test_standin_differential.py; what still differs,
and why, is in docs/standin-differences.md.
"""

from __future__ import annotations

from .discovery import GIT_VERSION
from .faults import Fault
from .rbac import Attributes, UserInfo, user_for
from .requestlog import RequestRecord
from .server import ApiServer
from .store import ExpiredError, Store

__all__ = [
    "GIT_VERSION",
    "ApiServer",
    "Attributes",
    "ExpiredError",
    "Fault",
    "RequestRecord",
    "Store",
    "UserInfo",
    "user_for",
]
