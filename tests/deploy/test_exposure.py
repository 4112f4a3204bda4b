"""How KAMS is reached in a cluster (README "Sign-in and roles"): the base admits the website port only from
the ingress controller's namespace, named in one place (deploy/k8s/ingress-controller.yaml); the example
overlays in deploy/overlays build, validate against the Kubernetes schemas, keep Pod Security "restricted",
commit no secret, and wire sign-in: oauth2-proxy in front with KAMS_AUTH=proxy and only the proxy admitted
(overlays/oauth2-proxy), or Streamlit's own OIDC with .streamlit/secrets.toml mounted from a Secret
(overlays/oidc). Both mount the access policy and point KAMS_ACCESS_POLICY at it."""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.deploy.manifests import (
    BASE,
    DOCKERFILE,
    KUBECTL,
    KUBERNETES_VERSION,
    OVERLAYS,
    ROOT,
    render,
    rendered,
)

OAUTH2_PROXY = OVERLAYS / "oauth2-proxy"
OIDC = OVERLAYS / "oidc"
EXAMPLES = {"oauth2-proxy": OAUTH2_PROXY, "oidc": OIDC}
#: Custom resources kubernetes-validate has no schema for (tests/deploy/test_alert_rules.py checks them).
CUSTOM_KINDS = {"PrometheusRule"}
INGRESS_NAMESPACE = {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
PROXY_POD_LABELS = {"app.kubernetes.io/name": "oauth2-proxy", "app.kubernetes.io/component": "auth-proxy"}
WEB_POD_LABELS = {"app.kubernetes.io/name": "kams", "app.kubernetes.io/component": "web"}
#: RFC 5737 documentation ranges: the overlays' placeholder addresses.
PLACEHOLDER_NETWORKS = ("192.0.2.", "198.51.100.", "203.0.113.")


def find(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    matches = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def configmap(objects: tuple[dict[str, Any], ...], name: str) -> dict[str, Any]:
    """A ConfigMap by its name, with or without the generator's hash suffix."""
    matches = [obj for obj in objects if obj["kind"] == "ConfigMap"
               and re.fullmatch(rf"{re.escape(name)}(-[a-z0-9]{{10}})?", obj["metadata"]["name"])]
    matches = [obj for obj in matches if obj["metadata"]["name"] == name] or matches
    assert len(matches) == 1, f"expected one ConfigMap {name}, found {len(matches)}"
    return matches[0]


def pod_spec_of(objects: tuple[dict[str, Any], ...], name: str) -> dict[str, Any]:
    return find(objects, "Deployment", name)["spec"]["template"]["spec"]


def container(objects: tuple[dict[str, Any], ...], deployment: str) -> dict[str, Any]:
    [only] = pod_spec_of(objects, deployment)["containers"]
    return only


def env_of(item: dict[str, Any], objects: tuple[dict[str, Any], ...] = ()) -> dict[str, str]:
    """A container's environment as the kubelet builds it: envFrom ConfigMaps (of `objects`), then env."""
    values: dict[str, str] = {}
    for source in item.get("envFrom", []):
        if "configMapRef" in source:
            values.update(configmap(objects, source["configMapRef"]["name"])["data"])
    values.update({var["name"]: var["value"] for var in item.get("env", []) if "value" in var})
    return values


def pod_templates(objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    specs = []
    for obj in objects:
        if obj["kind"] == "Deployment":
            specs.append(obj["spec"]["template"])
        elif obj["kind"] == "CronJob":
            specs.append(obj["spec"]["jobTemplate"]["spec"]["template"])
    return specs


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are checked here: {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def ingress_peers(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [peer for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [])]


def https_blocks(policy: dict[str, Any]) -> set[str]:
    """The CIDRs a policy lets its pods reach on 443."""
    return {peer["ipBlock"]["cidr"]
            for rule in policy["spec"]["egress"] if any(port.get("port") == 443 for port in rule["ports"])
            for peer in rule["to"] if "ipBlock" in peer}


def mounted_file(spec: dict[str, Any], item: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The volume that holds file `path` in the container, and the file's key inside that volume."""
    for mount in item.get("volumeMounts", []):
        volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        if "subPath" in mount and mount["mountPath"] == path:
            return volume, mount["subPath"]
        if "subPath" not in mount and posixpath.dirname(path) == mount["mountPath"].rstrip("/"):
            return volume, posixpath.basename(path)
    raise AssertionError(f"nothing is mounted at {path}")


def volume_key(volume: dict[str, Any], file_name: str) -> str:
    """The ConfigMap/Secret key behind file `file_name` of a configMap or secret volume."""
    source = volume.get("configMap") or volume.get("secret") or {}
    for item in source.get("items", []):
        if item["path"] == file_name:
            return str(item["key"])
    assert not source.get("items"), f"{file_name} is not among the volume's items"
    return file_name


def app_directory() -> str:
    """Where deploy/Dockerfile puts the app (its WORKDIR): Streamlit reads .streamlit/ from there."""
    [workdir] = re.findall(r"^WORKDIR (\S+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    return workdir


# --- the base: the ingress controller's namespace, named once ------------------------------------------


def test_base_admits_the_website_only_from_the_ingress_controller_namespace() -> None:
    policy = find(rendered(), "NetworkPolicy", "kams")
    [rule] = policy["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": INGRESS_NAMESPACE}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8501}]
    # The snapshot's pods still admit nothing, and may reach what the website may.
    snapshot = find(rendered(), "NetworkPolicy", "kams-snapshot")
    assert not snapshot["spec"].get("ingress")
    assert snapshot["spec"]["egress"] == policy["spec"]["egress"]


def test_the_ingress_namespace_is_named_in_one_place_and_never_applied() -> None:
    source = yaml.safe_load((BASE / "ingress-controller.yaml").read_text(encoding="utf-8"))
    assert source["metadata"]["annotations"]["config.kubernetes.io/local-config"] == "true"
    assert source["spec"]["namespaceSelector"] == INGRESS_NAMESPACE
    # kustomize keeps local config out of its output, so kubectl never sends it to the API server.
    for objects in (rendered(), render(OAUTH2_PROXY), render(OIDC)):
        assert not [obj for obj in objects if obj["kind"] == source["kind"]]


def test_changing_the_one_place_moves_every_policy_that_admits_the_ingress_controller(tmp_path: Path) -> None:
    """An overlay that patches ingress-controller.yaml's object (a copy of each example, so the check
    follows them) changes the base's policy and the proxy's alike: nothing else names the namespace."""
    traefik = {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}
    for name, example in EXAMPLES.items():
        overlay = tmp_path / name
        overlay.mkdir()
        # A copy of the example with one more patch: the supported way to change the namespace per overlay.
        for file in example.iterdir():
            (overlay / file.name).write_bytes(file.read_bytes())
        original = yaml.safe_load((overlay / "kustomization.yaml").read_text(encoding="utf-8"))
        # kustomize takes no absolute paths: the base, relative to the copy.
        original["resources"] = [os.path.relpath((example / resource).resolve(), overlay)
                                 if resource.startswith("..") else resource
                                 for resource in original["resources"]]
        original["patches"] = [{"target": {"kind": "IngressController", "name": "ingress-controller"},
                                "patch": yaml.safe_dump([{"op": "replace", "path": "/spec/namespaceSelector",
                                                          "value": traefik}])}, *original["patches"]]
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump(original), encoding="utf-8")
        result = subprocess.run([str(KUBECTL), "kustomize", str(overlay)], capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        objects = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
        namespace_peers = [peer["namespaceSelector"]
                           for policy in objects if policy["kind"] == "NetworkPolicy"
                           for peer in ingress_peers(policy) if "namespaceSelector" in peer]
        assert namespace_peers, name
        assert all(selector == traefik for selector in namespace_peers), (name, namespace_peers)


# --- both overlays ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_overlay_builds_and_every_object_validates(name: str) -> None:
    objects = render(EXAMPLES[name])
    base_kinds = {(obj["kind"], obj["metadata"]["name"]) for obj in rendered()}
    kinds = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    assert base_kinds <= kinds, f"the overlay drops {sorted(base_kinds - kinds)}"
    for obj in objects:
        if obj["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding"}:
            assert obj["metadata"]["namespace"] == "kams", (obj["kind"], obj["metadata"]["name"])
        if obj["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_overlay_commits_no_secret_only_references(name: str) -> None:
    objects = render(EXAMPLES[name])
    assert not [obj for obj in objects if obj["kind"] == "Secret"]
    referenced: set[str] = set()
    for template in pod_templates(objects):
        spec = template["spec"]
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                referenced.add(volume["secret"]["secretName"])
        for item in spec["containers"] + spec.get("initContainers", []):
            for var in item.get("env", []):
                assert not re.search(r"SECRET|PASSWORD|TOKEN|KEY", var["name"]) or "valueFrom" in var, var
                if "secretKeyRef" in var.get("valueFrom", {}):
                    referenced.add(var["valueFrom"]["secretKeyRef"]["name"])
            for args in (item.get("args", []), item.get("command", [])):
                assert not [arg for arg in args if re.match(r"--(client|cookie)-secret=", arg)], args
    referenced |= {tls["secretName"]
                   for obj in objects if obj["kind"] == "Ingress" for tls in obj["spec"]["tls"]}
    # Secrets are referenced by name and created by the user (the overlay's README says how).
    readme = (EXAMPLES[name] / "README.md").read_text(encoding="utf-8")
    assert referenced and all(secret in readme for secret in referenced), referenced
    # No secret value in any ConfigMap or file of the overlay either.
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            text = yaml.safe_dump(obj["data"])
            secret_key = re.search(r"(?i)\b(client_?secret|cookie_?secret)\s*[:=]", text)
            assert not secret_key, obj["metadata"]["name"]
    assert not list(EXAMPLES[name].glob("**/secrets.toml"))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_overlay_pods_meet_pod_security_restricted(name: str) -> None:
    for template in pod_templates(render(EXAMPLES[name])):
        spec = template["spec"]
        pod_context = spec.get("securityContext", {})
        assert not any(spec.get(field) for field in ("hostNetwork", "hostPID", "hostIPC"))
        allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                   "projected", "secret"}
        assert all(set(volume) - {"name"} <= allowed for volume in spec.get("volumes", []))
        for item in spec["containers"]:
            context = item["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context.get("privileged", False) is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True
            assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True
            assert context.get("runAsUser", pod_context.get("runAsUser", 0)) > 0
            seccomp = context.get("seccompProfile", pod_context.get("seccompProfile"))
            assert seccomp["type"] == "RuntimeDefault"
            assert all("hostPort" not in port for port in item.get("ports", []))
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(item["resources"][bound])
            # Every image is pinned to a version, never latest.
            image = item["image"]
            assert re.search(r":v?\d+\.\d+\.\d+$", image) or "@sha256:" in image, image


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_overlay_scans_clean_with_kams_own_checks(name: str) -> None:
    """`kubectl kustomize <overlay> | python -m k8sdata scan -`, as README shows for the base."""
    manifests = yaml.safe_dump_all(render(EXAMPLES[name]))
    result = subprocess.run([sys.executable, "-m", "k8sdata", "scan", "-", "--fail-on", "info"],
                            input=manifests, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_access_policy_is_mounted_where_kams_access_policy_points(name: str) -> None:
    objects = render(EXAMPLES[name])
    spec = pod_spec_of(objects, "kams")
    kams = container(objects, "kams")
    path = env_of(kams, objects)["KAMS_ACCESS_POLICY"]
    assert posixpath.isabs(path)
    volume, file_name = mounted_file(spec, kams, path)
    policy_map = find(objects, "ConfigMap", volume["configMap"]["name"])
    text = policy_map["data"][volume_key(volume, file_name)]
    rules = yaml.safe_load(text)["rules"]
    assert rules and {rule["role"] for rule in rules} <= {"viewer", "engineer"}
    # Parsed by KAMS's own reader where that module is present.
    access = pytest.importorskip("k8sdata.access")
    assert access.parse_policy(text, path).rules
    # A fixed name, so a changed policy reaches the mounted file (and KAMS) without a restart.
    assert policy_map["metadata"]["name"] == "kams-access-policy"
    # The snapshot job has no sign-in and needs no policy.
    cronjob = find(objects, "CronJob", "kams-snapshot")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert not {"KAMS_ACCESS_POLICY", "KAMS_AUTH"} & set(env_of(cronjob["containers"][0], objects))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_overlay_narrows_https_egress_to_placeholder_addresses(name: str) -> None:
    objects = render(EXAMPLES[name])
    for policy_name in ("kams", "kams-snapshot"):
        policy = find(objects, "NetworkPolicy", policy_name)
        blocks = https_blocks(policy)
        assert blocks and "0.0.0.0/0" not in blocks, (policy_name, blocks)
        assert all(block.startswith(PLACEHOLDER_NETWORKS) for block in blocks), blocks
        # DNS and Prometheus stay as in the base; the snapshot still admits nothing.
        base_egress = find(rendered(), "NetworkPolicy", policy_name)["spec"]["egress"]
        assert policy["spec"]["egress"][:2] == base_egress[:2]
    assert not find(objects, "NetworkPolicy", "kams-snapshot")["spec"].get("ingress")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_ingress_serves_tls_for_its_host(name: str) -> None:
    objects = render(EXAMPLES[name])
    [ingress] = [obj for obj in objects if obj["kind"] == "Ingress"]
    [tls] = ingress["spec"]["tls"]
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] in tls["hosts"] and tls["secretName"]
    [path] = rule["http"]["paths"]
    backend = path["backend"]["service"]
    expected = "kams-oauth2-proxy" if name == "oauth2-proxy" else "kams"
    assert backend["name"] == expected
    service = find(objects, "Service", expected)
    assert backend["port"] in ({"name": port["name"]} for port in service["spec"]["ports"])


# --- oauth2-proxy ---------------------------------------------------------------------------------------


def proxy_config() -> dict[str, Any]:
    objects = render(OAUTH2_PROXY)
    spec = pod_spec_of(objects, "kams-oauth2-proxy")
    proxy = container(objects, "kams-oauth2-proxy")
    [flag] = [arg for arg in proxy["args"] if arg.startswith("--alpha-config=")]
    volume, file_name = mounted_file(spec, proxy, flag.partition("=")[2])
    config: dict[str, Any] = yaml.safe_load(configmap(objects, "kams-oauth2-proxy")["data"][
        volume_key(volume, file_name)])
    assert volume["configMap"]["name"] == configmap(objects, "kams-oauth2-proxy")["metadata"]["name"]
    return config


def test_kams_trusts_exactly_the_headers_the_proxy_sets_and_strips() -> None:
    objects = render(OAUTH2_PROXY)
    env = env_of(container(objects, "kams"), objects)
    assert env["KAMS_AUTH"] == "proxy"
    read = {env.get("KAMS_AUTH_USER_HEADER", "X-Auth-Request-Email"): "email",
            env.get("KAMS_AUTH_GROUPS_HEADER", "X-Auth-Request-Groups"): "groups"}
    injected = {header["name"]: header for header in proxy_config()["injectRequestHeaders"]}
    for name, claim in read.items():
        header = injected[name]
        assert [value["claimSource"]["claim"] for value in header["values"]] == [claim]
        # A visitor's own copy of the header is removed before the proxy's is added.
        assert header.get("preserveRequestValue", False) is False
    # Response-only headers (--set-xauthrequest) would leave a visitor's copy in the proxied request.
    assert not [arg for arg in container(objects, "kams-oauth2-proxy")["args"] if "xauthrequest" in arg]


def test_proxy_forwards_to_kams_and_reads_its_secrets_from_a_secret() -> None:
    objects = render(OAUTH2_PROXY)
    config = proxy_config()
    [upstream] = config["upstreamConfig"]["upstreams"]
    assert upstream["path"] == "/" and upstream["uri"] in {"http://kams", "http://kams:80"}
    assert find(objects, "Service", "kams")["spec"]["ports"][0]["port"] == 80
    [provider] = config["providers"]
    assert "clientSecret" not in provider
    spec = pod_spec_of(objects, "kams-oauth2-proxy")
    proxy = container(objects, "kams-oauth2-proxy")
    secret_volume, key = mounted_file(spec, proxy, provider["clientSecretFile"])
    [cookie_flag] = [arg for arg in proxy["args"] if arg.startswith("--cookie-secret-file=")]
    cookie_volume, cookie_key = mounted_file(spec, proxy, cookie_flag.partition("=")[2])
    assert secret_volume is cookie_volume and secret_volume["secret"]["secretName"] == "kams-oauth2-proxy"
    assert {key, cookie_key} == {"client-secret", "cookie-secret"}
    assert proxy["image"].startswith("quay.io/oauth2-proxy/oauth2-proxy:v7.")
    assert spec["automountServiceAccountToken"] is False


def test_only_the_proxy_reaches_kams_and_only_the_ingress_controller_reaches_the_proxy() -> None:
    objects = render(OAUTH2_PROXY)
    proxy_labels = find(objects, "Deployment", "kams-oauth2-proxy")["spec"]["template"]["metadata"]["labels"]
    kams_policy = find(objects, "NetworkPolicy", "kams")
    [rule] = kams_policy["spec"]["ingress"]
    [peer] = rule["from"]
    assert set(peer) == {"podSelector"} and selects(peer["podSelector"], proxy_labels)
    assert peer["podSelector"]["matchLabels"] == PROXY_POD_LABELS
    assert rule["ports"] == [{"protocol": "TCP", "port": 8501}]
    proxy_policy = find(objects, "NetworkPolicy", "kams-oauth2-proxy")
    assert selects(proxy_policy["spec"]["podSelector"], proxy_labels)
    assert set(proxy_policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    [proxy_rule] = proxy_policy["spec"]["ingress"]
    assert proxy_rule["from"] == [{"namespaceSelector": INGRESS_NAMESPACE}]
    assert proxy_rule["ports"] == [{"protocol": "TCP", "port": 4180}]
    proxy_port = container(objects, "kams-oauth2-proxy")["ports"][0]["containerPort"]
    assert proxy_port == 4180 == int(proxy_config()["server"]["bindAddress"].rpartition(":")[2])
    # The proxy may reach KAMS's pods on the website port.
    assert any(port == {"protocol": "TCP", "port": 8501}
               and any(set(peer) == {"podSelector"} and selects(peer["podSelector"], WEB_POD_LABELS)
                       for peer in egress["to"])
               for egress in proxy_policy["spec"]["egress"] for port in egress["ports"])
    # Neither the proxy's nor the snapshot's pods are selected as KAMS's website.
    assert not selects(kams_policy["spec"]["podSelector"], proxy_labels)


# --- OIDC -----------------------------------------------------------------------------------------------


def test_oidc_mounts_streamlit_secrets_where_streamlit_reads_them() -> None:
    objects = render(OIDC)
    spec = pod_spec_of(objects, "kams")
    kams = container(objects, "kams")
    assert env_of(kams, objects)["KAMS_AUTH"] == "oidc"
    path = posixpath.join(app_directory(), ".streamlit", "secrets.toml")
    assert path == "/app/.streamlit/secrets.toml"
    volume, file_name = mounted_file(spec, kams, path)
    assert volume["secret"]["secretName"] == "kams-streamlit-secrets"
    assert volume_key(volume, file_name) == "secrets.toml"
    mount = next(m for m in kams["volumeMounts"] if m["mountPath"] == path)
    # Mounted as one file: the image's .streamlit/config.toml beside it must stay visible.
    assert mount["subPath"] == "secrets.toml" and mount.get("readOnly") is True
    # The website port is still admitted from the ingress controller's namespace only.
    [rule] = find(objects, "NetworkPolicy", "kams")["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": INGRESS_NAMESPACE}]


def test_oidc_lets_kams_reach_the_identity_provider_but_not_the_snapshot() -> None:
    objects = render(OIDC)
    web = https_blocks(find(objects, "NetworkPolicy", "kams"))
    snapshot = https_blocks(find(objects, "NetworkPolicy", "kams-snapshot"))
    assert snapshot < web  # the website also reaches the identity provider


def test_oidc_readme_example_secrets_file_has_the_auth_keys_as_placeholders() -> None:
    text = (OIDC / "README.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```toml\n(.*?)```", text, re.S)
    auth = tomllib.loads(example)["auth"]
    assert set(auth) >= {"redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"}
    assert auth["redirect_uri"].endswith("/oauth2callback")
    assert auth["server_metadata_url"].endswith("/.well-known/openid-configuration")
    assert all(value.startswith(("<", "https://")) for value in auth.values())
    assert auth["client_secret"].startswith("<") and auth["cookie_secret"].startswith("<")


def test_repository_never_holds_a_streamlit_secrets_file() -> None:
    assert not (ROOT / ".streamlit" / "secrets.toml").exists() or ".streamlit/secrets.toml" in (
        ROOT / ".gitignore").read_text(encoding="utf-8")
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    # The image takes the Streamlit configuration only, never a developer's local secrets file.
    copies = re.findall(r"^COPY (\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert ".streamlit/" not in copies and ".streamlit/config.toml" in copies


def test_the_image_refuses_to_start_on_a_bad_access_policy(tmp_path: Path) -> None:
    """The Dockerfile's ENTRYPOINT, run here as the image would run it (with the venv's python), in front
    of a stand-in command: a valid policy lets the command start; a malformed one stops it, saying where."""
    import json
    import os
    import subprocess
    import sys

    [entrypoint] = re.findall(r"^ENTRYPOINT (\[.*\])$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    policy = tmp_path / "policy.yaml"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "KAMS_AUTH": "proxy", "KAMS_ACCESS_POLICY": str(policy)}

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run([*json.loads(entrypoint), "echo", "website started"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    policy.write_text("rules:\n  - domains: [example.com]\n    role: viewer\n", encoding="utf-8")
    started = start()
    assert started.returncode == 0 and started.stdout.endswith("website started\n"), started
    policy.write_text("rules:\n  - domains: [example.com]\n    role: owner\n", encoding="utf-8")
    refused = start()
    assert refused.returncode == 1 and "website started" not in refused.stdout
    assert f"{policy}, line 3: unknown role 'owner'" in refused.stderr
