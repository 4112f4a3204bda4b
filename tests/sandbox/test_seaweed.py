"""The sandbox S3 is the real SeaweedFS binary: credentials enforced, loopback only, clean stop."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import botocore.exceptions
import pytest

from sandbox.seaweed import SERVICES, SeaweedS3


def _error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code"))


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(ip, port) of the TCP sockets `pid` listens on, from /proc (no psutil needed)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found: set[tuple[str, int]] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            hex_ip, hex_port = local.split(":")
            ip = ".".join(str(int(hex_ip[i:i + 2], 16)) for i in (6, 4, 2, 0)) if width == 8 else hex_ip
            found.add((ip, int(hex_port, 16)))
    return found


def test_round_trip_with_the_right_keys(s3: SeaweedS3) -> None:
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="tests/seaweed/hello.txt", Body=b"hello")
    body = client.get_object(Bucket=s3.bucket, Key="tests/seaweed/hello.txt")["Body"].read()
    assert body == b"hello"
    assert s3.bucket in {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}


def test_wrong_secret_is_refused(s3: SeaweedS3) -> None:
    client = s3.client(secret_key="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.list_objects_v2(Bucket=s3.bucket)
    assert _error_code(caught.value) in {"SignatureDoesNotMatch", "AccessDenied"}


def test_unknown_access_key_is_refused(s3: SeaweedS3) -> None:
    client = s3.client(access_key="nobody", secret_key="whatever")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.list_objects_v2(Bucket=s3.bucket)
    assert _error_code(caught.value) in {"InvalidAccessKeyId", "AccessDenied"}


def test_anonymous_requests_are_refused(s3: SeaweedS3) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{s3.endpoint_url}/{s3.bucket}", timeout=5)
    assert caught.value.code == 403


def test_every_service_listens_on_loopback_on_the_ports_we_chose(s3: SeaweedS3) -> None:
    assert s3.pid is not None
    listening = _listening_addresses(s3.pid)
    assert listening, "weed listens on nothing?"
    assert {ip for ip, _ in listening} == {"127.0.0.1"}
    chosen = {port for pair in s3.ports.values() for port in pair}
    assert {port for _, port in listening} <= chosen
    # The admin server starts after S3 is ready, so only the data path is sure to be up already.
    http_ports = {s3.ports[service][0] for service in SERVICES if service != "admin"}
    assert http_ports <= {port for _, port in listening}
    assert s3.endpoint_url == f"http://127.0.0.1:{s3.ports['s3'][0]}"


def test_env_lines_point_a_client_at_the_store(s3: SeaweedS3) -> None:
    env = s3.env()
    assert env["AWS_ENDPOINT_URL_S3"] == s3.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == s3.access_key
    assert env["KAMS_S3_BUCKET"] == s3.bucket


def test_a_second_store_runs_beside_the_first_and_stop_cleans_up(s3: SeaweedS3, tmp_path: Path) -> None:
    other = SeaweedS3(tmp_path, access_key="second-key", secret_key="second-secret", bucket="other")
    with other:
        assert other.port != s3.port
        assert other.run_dir is not None and other.run_dir.is_dir()
        run_dir, pid, ports = other.run_dir, other.pid, dict(other.ports)
        other.client().put_object(Bucket="other", Key="k", Body=b"v")
        # Keys are per store: the first store's credentials mean nothing here.
        with pytest.raises(botocore.exceptions.ClientError):
            other.client(access_key=s3.access_key, secret_key=s3.secret_key).list_objects_v2(Bucket="other")
    assert not other.running
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    assert not run_dir.exists()
    assert not any(Path(f"/tmp/seaweedfs-{service}-grpc-{grpc}.sock").exists()
                   for service, (_, grpc) in ports.items())


def test_module_prints_env_lines_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    import boto3

    process = subprocess.Popen([sys.executable, "-m", "sandbox.seaweed", "--data-dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=Path(__file__).resolve().parents[2])
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        while "KAMS_S3_BUCKET" not in env:
            line = process.stdout.readline()
            assert line, f"sandbox.seaweed exited early (code {process.poll()})"
            if line.startswith("export "):
                key, _, value = line[len("export "):].strip().partition("=")
                env[key] = value
        client = boto3.session.Session().client(
            "s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])
        client.head_bucket(Bucket=env["KAMS_S3_BUCKET"])
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert not any(tmp_path.iterdir()), "the run directory should be removed on Ctrl-C"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
