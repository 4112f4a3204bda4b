"""Settings.from_env reads every knob from the environment given, with the documented defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from k8sdata.config import DEFAULT_REQUEST_TIMEOUT, Settings


def test_defaults_with_empty_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path, service_account_token=tmp_path / "no-token")
    assert settings == Settings(kubeconfig=None, context=None, in_cluster=False, prometheus_url=None,
                                request_timeout=10.0, app_label="app", s3_bucket=None, s3_prefix="kams",
                                s3_endpoint_url=None, archive_dir=None, demo=False,
                                archive_mirror=str(tmp_path / ".cache" / "kams" / "mirror"),
                                spool_dir=str(tmp_path / ".cache" / "kams" / "spool"))
    assert settings.kubernetes_configured is False


def test_the_spool_follows_xdg_cache_home_unless_kams_spool_dir_is_set(tmp_path: Path) -> None:
    xdg = Settings.from_env({"XDG_CACHE_HOME": "/var/cache/me"}, home=tmp_path)
    assert xdg.spool_dir == "/var/cache/me/kams/spool"
    chosen = Settings.from_env({"XDG_CACHE_HOME": "/var/cache/me", "KAMS_SPOOL_DIR": "/spool"}, home=tmp_path)
    assert chosen.spool_dir == "/spool"
    assert xdg.archive_mirror == "/var/cache/me/kams/mirror"


def test_every_variable_is_read(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    env = {
        "KUBECONFIG": "/a/one.yaml:/b/two.yaml", "KAMS_CONTEXT": "prod",
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "PROMETHEUS_URL": "http://prom:9090", "KAMS_REQUEST_TIMEOUT": "2.5", "KAMS_APP_LABEL": "service",
        "KAMS_S3_BUCKET": "bucket", "KAMS_S3_PREFIX": "/team/kams/", "AWS_ENDPOINT_URL_S3": "http://s3:8333",
        "KAMS_ARCHIVE_DIR": "/tmp/archive", "KAMS_SPOOL_DIR": "/var/spool/kams", "KAMS_DEMO": "1",
        "KAMS_ARCHIVE_MIRROR": "/var/cache/kams-mirror",
        "PROMETHEUS_TOKEN": "secret", "PROMETHEUS_TOKEN_FILE": "/var/run/prom/token",
        "PROMETHEUS_CA_FILE": "/etc/prom/ca.pem", "ALERTMANAGER_URL": "http://alertmanager:9093",
        "CLAIR_URL": "http://clair:6060", "CLAIR_PSK": "c2VjcmV0", "CLAIR_PSK_FILE": "/var/run/clair/psk",
        "CLAIR_PSK_ISSUER": "kams", "KAMS_AUTH": " Proxy ", "KAMS_AUTH_USER_HEADER": "X-Forwarded-Email",
        "KAMS_AUTH_GROUPS_HEADER": "X-Forwarded-Groups", "KAMS_ACCESS_POLICY": "/etc/kams/access/policy.yaml",
    }
    settings = Settings.from_env(env, home=tmp_path, service_account_token=token)
    assert dataclasses.asdict(settings) == {
        "kubeconfig": "/a/one.yaml:/b/two.yaml", "context": "prod", "in_cluster": True,
        "prometheus_url": "http://prom:9090", "request_timeout": 2.5, "app_label": "service",
        "s3_bucket": "bucket", "s3_prefix": "team/kams", "s3_endpoint_url": "http://s3:8333",
        "archive_dir": "/tmp/archive", "archive_mirror": "/var/cache/kams-mirror",
        "spool_dir": "/var/spool/kams", "demo": True,
        "prometheus_token": "secret", "prometheus_token_file": "/var/run/prom/token",
        "prometheus_ca_file": "/etc/prom/ca.pem", "alertmanager_url": "http://alertmanager:9093",
        **REQUEST_DEFAULTS, "security_severity": (), "security_allowed_host_ports": (),
        "clair_url": "http://clair:6060", "clair_psk": "c2VjcmV0", "clair_psk_file": "/var/run/clair/psk",
        "clair_psk_issuer": "kams", "auth_mode": "proxy", "auth_user_header": "X-Forwarded-Email",
        "auth_groups_header": "X-Forwarded-Groups", "access_policy": "/etc/kams/access/policy.yaml",
    }
    assert settings.kubernetes_configured


def test_home_kubeconfig_used_only_when_it_exists(tmp_path: Path) -> None:
    assert Settings.from_env({}, home=tmp_path).kubeconfig is None
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1\n")
    assert Settings.from_env({}, home=tmp_path).kubeconfig == str(tmp_path / ".kube" / "config")


def test_in_cluster_needs_both_host_and_token(tmp_path: Path) -> None:
    settings = Settings.from_env({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, home=tmp_path,
                                 service_account_token=tmp_path / "missing")
    assert settings.in_cluster is False


@pytest.mark.parametrize("raw", ["", "abc", "0", "-3"])
def test_bad_timeouts_fall_back_to_the_default_never_to_none(raw: str, tmp_path: Path) -> None:
    settings = Settings.from_env({"KAMS_REQUEST_TIMEOUT": raw}, home=tmp_path)
    assert settings.request_timeout == DEFAULT_REQUEST_TIMEOUT


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = Settings.from_env({}, home=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.demo = True  # type: ignore[misc]


#: The custom request-metric settings when none of their variables is set.
REQUEST_DEFAULTS = {
    "requests_metric": None, "request_duration_metric": None, "request_duration_unit": "seconds",
    "request_namespace_label": "namespace", "request_workload_label": None, "request_pod_label": "pod",
    "request_status_label": "code", "request_method_label": "method", "request_path_label": "path",
}


def test_custom_request_metric_names_are_read(tmp_path: Path) -> None:
    env = {"KAMS_REQUESTS_METRIC": " myapp_requests_total ",
           "KAMS_REQUEST_DURATION_METRIC": "myapp_latency_ms", "KAMS_REQUEST_DURATION_UNIT": "milliseconds",
           "KAMS_REQUEST_NAMESPACE_LABEL": "kubernetes_namespace",
           "KAMS_REQUEST_WORKLOAD_LABEL": "service", "KAMS_REQUEST_POD_LABEL": "kubernetes_pod_name",
           "KAMS_REQUEST_STATUS_LABEL": "status", "KAMS_REQUEST_METHOD_LABEL": "verb",
           "KAMS_REQUEST_PATH_LABEL": "handler"}
    settings = Settings.from_env(env, home=tmp_path)
    assert {key: getattr(settings, key) for key in REQUEST_DEFAULTS} == {
        "requests_metric": "myapp_requests_total", "request_duration_metric": "myapp_latency_ms",
        "request_duration_unit": "milliseconds", "request_namespace_label": "kubernetes_namespace",
        "request_workload_label": "service", "request_pod_label": "kubernetes_pod_name",
        "request_status_label": "status", "request_method_label": "verb", "request_path_label": "handler",
    }
    blank = Settings.from_env(dict.fromkeys(env, " "), home=tmp_path)
    assert {key: getattr(blank, key) for key in REQUEST_DEFAULTS} == REQUEST_DEFAULTS


def test_security_policy_settings_are_read(tmp_path: Path) -> None:
    env = {"KAMS_SECURITY_SEVERITY": " image-not-pinned = INFO ,broken, pss-sysctls=danger,=x",
           "KAMS_SECURITY_ALLOWED_HOST_PORTS": "443, 80,abc,70000,80"}
    settings = Settings.from_env(env, home=tmp_path)
    assert settings.security_severity == (("image-not-pinned", "info"), ("pss-sysctls", "danger"))
    assert settings.security_allowed_host_ports == (80, 443)


def test_clair_psk_defaults_to_clairctls_issuer_and_stays_out_of_repr(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLAIR_PSK": "c2VjcmV0", "CLAIR_PSK_ISSUER": " "}, home=tmp_path)
    assert (settings.clair_psk, settings.clair_psk_file, settings.clair_psk_issuer) == ("c2VjcmV0", None,
                                                                                        "clairctl")
    assert "c2VjcmV0" not in repr(settings)
