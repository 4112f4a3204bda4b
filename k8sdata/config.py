"""Settings from the environment: one typed, immutable object for every knob KAMS has.

Pages, the CLI and the archive all read the same `Settings.from_env()`, so a setting means the same
thing everywhere. Nothing here talks to a server; it only looks at the environment and the file system.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Where a pod's ServiceAccount token is mounted; its presence (with KUBERNETES_SERVICE_HOST) means
#: "running inside a cluster".
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")

DEFAULT_REQUEST_TIMEOUT = 10.0


def _kubeconfig(environ: Mapping[str, str], home: Path) -> str | None:
    """$KUBECONFIG as set (one path, or several joined by os.pathsep: k8sdata.sources.kubeconfig merges them
    as kubectl does), else ~/.kube/config when it exists."""
    listed = [part for part in environ.get("KUBECONFIG", "").split(os.pathsep) if part.strip()]
    if listed:
        return os.pathsep.join(listed)
    default = home / ".kube" / "config"
    return str(default) if default.is_file() else None


def _timeout(raw: str | None) -> float:
    """A positive number of seconds; anything unparsable falls back to the default (never 'no timeout')."""
    if not raw:
        return DEFAULT_REQUEST_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_REQUEST_TIMEOUT
    return value if value > 0 else DEFAULT_REQUEST_TIMEOUT


def _severity_overrides(raw: str | None) -> tuple[tuple[str, str], ...]:
    """"ID=severity,ID=severity" (docs/security.md) as sorted pairs; malformed entries are dropped here and
    unknown severities are reported by the security engine, which knows the valid names."""
    pairs: dict[str, str] = {}
    for entry in (raw or "").split(","):
        check_id, sep, severity = entry.partition("=")
        if sep and check_id.strip() and severity.strip():
            pairs[check_id.strip()] = severity.strip().lower()
    return tuple(sorted(pairs.items()))


def _ports(raw: str | None) -> tuple[int, ...]:
    """"80,443" as sorted unique port numbers; anything that is not a port 1-65535 is ignored."""
    ports = {int(part) for part in (raw or "").replace(" ", "").split(",") if part.isdigit()}
    return tuple(sorted(port for port in ports if 0 < port < 65536))


def _cache_dir(environ: Mapping[str, str], home: Path) -> Path:
    """KAMS's folder for data that outlives a run but can be rebuilt or re-sent (XDG base directories)."""
    return Path(_blank_to_none(environ.get("XDG_CACHE_HOME")) or home / ".cache") / "kams"


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    kubeconfig: str | None  # $KUBECONFIG (its paths joined by os.pathsep), else ~/.kube/config if it exists
    context: str | None  # $KAMS_CONTEXT (None = kubeconfig's current context)
    in_cluster: bool  # $KUBERNETES_SERVICE_HOST set and the SA token file exists
    prometheus_url: str | None  # $PROMETHEUS_URL
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # $KAMS_REQUEST_TIMEOUT (every call uses it)
    app_label: str = "app"  # $KAMS_APP_LABEL: the Prometheus label naming an application
    s3_bucket: str | None = None  # $KAMS_S3_BUCKET
    s3_prefix: str = "kams"  # $KAMS_S3_PREFIX
    s3_endpoint_url: str | None = None  # $AWS_ENDPOINT_URL_S3; credentials via boto3's own chain
    archive_dir: str | None = None  # $KAMS_ARCHIVE_DIR (local folder alternative to S3)
    # $KAMS_ARCHIVE_MIRROR: where the History page mirrors S3 snapshots for DuckDB (a subfolder per
    # bucket); default $XDG_CACHE_HOME/kams/mirror, else ~/.cache/kams/mirror.
    archive_mirror: str | None = None
    # Where snapshots wait while the archive cannot take them (k8sdata.archive.spool); it must outlive
    # the run.
    spool_dir: str | None = None  # $KAMS_SPOOL_DIR, else $XDG_CACHE_HOME/kams/spool or ~/.cache/kams/spool
    demo: bool = False  # $KAMS_DEMO == "1": show the "demo cluster" banner
    # Prometheus behind authentication or a private CA (Thanos, Mimir, a gateway in front of Prometheus).
    prometheus_token: str | None = None  # $PROMETHEUS_TOKEN: sent as "Authorization: Bearer ..."
    prometheus_token_file: str | None = None  # $PROMETHEUS_TOKEN_FILE: a mounted secret, re-read (rotation)
    prometheus_ca_file: str | None = None  # $PROMETHEUS_CA_FILE: PEM bundle signing Prometheus' certificate
    alertmanager_url: str | None = None  # $ALERTMANAGER_URL: the Alerts page then shows Alertmanager's view
    # Custom request metrics (docs/requests.md), for apps whose names match no built-in convention.
    # Unset KAMS_REQUESTS_METRIC = no custom convention; the other names then have no effect.
    requests_metric: str | None = None  # $KAMS_REQUESTS_METRIC: a request counter
    request_duration_metric: str | None = None  # $KAMS_REQUEST_DURATION_METRIC: its latency histogram
    request_duration_unit: str = "seconds"  # $KAMS_REQUEST_DURATION_UNIT: seconds | milliseconds
    request_namespace_label: str = "namespace"  # $KAMS_REQUEST_NAMESPACE_LABEL
    request_workload_label: str | None = None  # $KAMS_REQUEST_WORKLOAD_LABEL (None: app_label)
    request_pod_label: str = "pod"  # $KAMS_REQUEST_POD_LABEL
    request_status_label: str = "code"  # $KAMS_REQUEST_STATUS_LABEL: the HTTP status code
    request_method_label: str = "method"  # $KAMS_REQUEST_METHOD_LABEL
    request_path_label: str = "path"  # $KAMS_REQUEST_PATH_LABEL
    # Security checks (docs/security.md): severity policy and the Host Ports control's known list.
    security_severity: tuple[tuple[str, str], ...] = ()  # $KAMS_SECURITY_SEVERITY: "ID=danger,ID=ignore"
    security_allowed_host_ports: tuple[int, ...] = ()  # $KAMS_SECURITY_ALLOWED_HOST_PORTS: "80,443"
    # Image vulnerabilities from Clair v4 (docs/security-vulns.md): the server serving /matcher/api/v1/.
    clair_url: str | None = None  # $CLAIR_URL
    # Clair's pre-shared-key JWT authentication (its config's auth.psk; k8sdata/security/clair_auth.py).
    # The key is a secret: kept out of repr() so it never lands in a log or a traceback.
    clair_psk: str | None = field(default=None, repr=False)  # $CLAIR_PSK: base64, as in auth.psk.key
    clair_psk_file: str | None = None  # $CLAIR_PSK_FILE: a mounted file holding that base64; re-read
    clair_psk_issuer: str = "clairctl"  # $CLAIR_PSK_ISSUER: one of auth.psk.iss (clairctl's default)
    # Sign-in (README "Sign-in and roles"): oidc (st.login, an [auth] section in .streamlit/secrets.toml),
    # proxy (a trusted proxy's headers), none (loopback only); "" = oidc when [auth] exists, else none.
    auth_mode: str = ""  # $KAMS_AUTH
    auth_user_header: str = "X-Auth-Request-Email"  # $KAMS_AUTH_USER_HEADER (proxy mode only)
    auth_groups_header: str = "X-Auth-Request-Groups"  # $KAMS_AUTH_GROUPS_HEADER (proxy mode only)
    access_policy: str | None = None  # $KAMS_ACCESS_POLICY: the YAML file of k8sdata.access

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        home: Path | None = None,
        service_account_token: Path = SERVICE_ACCOUNT_TOKEN,
    ) -> Settings:
        """Read every setting; `environ` defaults to os.environ (tests pass a dict)."""
        env: Mapping[str, str] = os.environ if environ is None else environ
        home = home if home is not None else Path(env.get("HOME") or Path.home())
        return cls(
            kubeconfig=_kubeconfig(env, home),
            context=_blank_to_none(env.get("KAMS_CONTEXT")),
            in_cluster=bool(env.get("KUBERNETES_SERVICE_HOST")) and service_account_token.is_file(),
            prometheus_url=_blank_to_none(env.get("PROMETHEUS_URL")),
            request_timeout=_timeout(env.get("KAMS_REQUEST_TIMEOUT")),
            app_label=_blank_to_none(env.get("KAMS_APP_LABEL")) or "app",
            s3_bucket=_blank_to_none(env.get("KAMS_S3_BUCKET")),
            s3_prefix=(env.get("KAMS_S3_PREFIX") or "kams").strip("/ ") or "kams",
            s3_endpoint_url=_blank_to_none(env.get("AWS_ENDPOINT_URL_S3")),
            archive_dir=_blank_to_none(env.get("KAMS_ARCHIVE_DIR")),
            archive_mirror=(_blank_to_none(env.get("KAMS_ARCHIVE_MIRROR"))
                            or str(_cache_dir(env, home) / "mirror")),
            spool_dir=_blank_to_none(env.get("KAMS_SPOOL_DIR")) or str(_cache_dir(env, home) / "spool"),
            demo=env.get("KAMS_DEMO", "").strip() == "1",
            prometheus_token=_blank_to_none(env.get("PROMETHEUS_TOKEN")),
            prometheus_token_file=_blank_to_none(env.get("PROMETHEUS_TOKEN_FILE")),
            prometheus_ca_file=_blank_to_none(env.get("PROMETHEUS_CA_FILE")),
            alertmanager_url=_blank_to_none(env.get("ALERTMANAGER_URL")),
            requests_metric=_blank_to_none(env.get("KAMS_REQUESTS_METRIC")),
            request_duration_metric=_blank_to_none(env.get("KAMS_REQUEST_DURATION_METRIC")),
            request_duration_unit=_blank_to_none(env.get("KAMS_REQUEST_DURATION_UNIT")) or "seconds",
            request_namespace_label=_blank_to_none(env.get("KAMS_REQUEST_NAMESPACE_LABEL")) or "namespace",
            request_workload_label=_blank_to_none(env.get("KAMS_REQUEST_WORKLOAD_LABEL")),
            request_pod_label=_blank_to_none(env.get("KAMS_REQUEST_POD_LABEL")) or "pod",
            request_status_label=_blank_to_none(env.get("KAMS_REQUEST_STATUS_LABEL")) or "code",
            request_method_label=_blank_to_none(env.get("KAMS_REQUEST_METHOD_LABEL")) or "method",
            request_path_label=_blank_to_none(env.get("KAMS_REQUEST_PATH_LABEL")) or "path",
            security_severity=_severity_overrides(env.get("KAMS_SECURITY_SEVERITY")),
            security_allowed_host_ports=_ports(env.get("KAMS_SECURITY_ALLOWED_HOST_PORTS")),
            clair_url=_blank_to_none(env.get("CLAIR_URL")),
            clair_psk=_blank_to_none(env.get("CLAIR_PSK")),
            clair_psk_file=_blank_to_none(env.get("CLAIR_PSK_FILE")),
            clair_psk_issuer=_blank_to_none(env.get("CLAIR_PSK_ISSUER")) or "clairctl",
            auth_mode=(env.get("KAMS_AUTH") or "").strip().lower(),
            auth_user_header=_blank_to_none(env.get("KAMS_AUTH_USER_HEADER")) or "X-Auth-Request-Email",
            auth_groups_header=_blank_to_none(env.get("KAMS_AUTH_GROUPS_HEADER")) or "X-Auth-Request-Groups",
            access_policy=_blank_to_none(env.get("KAMS_ACCESS_POLICY")),
        )

    @property
    def kubernetes_configured(self) -> bool:
        return self.in_cluster or self.kubeconfig is not None
