"""A stand-in kube-apiserver (standard library HTTP) that kubectl and the official client accept.

from sandbox.apiserver import ApiServer
with ApiServer(objects) as server:
    server.write_kubeconfig(path, READER_TOKEN)
"""

from __future__ import annotations

from .rbac import Attributes, UserInfo, user_for
from .server import GIT_VERSION, ApiServer, Fault, RequestRecord
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
