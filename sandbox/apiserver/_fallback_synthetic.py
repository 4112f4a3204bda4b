"""Plain synthetic pods, used only until sandbox.synthetic (realistic pods with managedFields) exists."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any


def fallback_synthetic_objects(n_pods: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    namespaces = [f"team-{index:02d}" for index in range(max(1, min(50, n_pods // 200 or 1)))]
    nodes = [f"synthetic-node-{index:03d}" for index in range(max(1, min(200, n_pods // 100 or 1)))]
    now = datetime.now(UTC)
    for namespace in namespaces:
        yield {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
    for node in nodes:
        yield {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.30.0"},
            },
        }
    for index in range(n_pods):
        app = f"app-{index % 97:02d}"
        created = (now - timedelta(minutes=rng.randint(5, 60 * 24 * 30))).strftime("%Y-%m-%dT%H:%M:%SZ")
        yield {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{app}-{index:06d}",
                "namespace": namespaces[index % len(namespaces)],
                "labels": {"app": app, "app.kubernetes.io/name": app},
                "creationTimestamp": created,
            },
            "spec": {
                "nodeName": nodes[index % len(nodes)],
                "containers": [
                    {
                        "name": "main",
                        "image": f"registry.example/{app}:1.{index % 7}",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    }
                ],
            },
            "status": {
                "phase": "Running",
                "podIP": f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {
                        "name": "main",
                        "ready": True,
                        "restartCount": 0,
                        "image": "x",
                        "imageID": "",
                        "started": True,
                        "state": {"running": {"startedAt": created}},
                    }
                ],
            },
        }
