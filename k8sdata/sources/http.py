"""The HTTP base every JSON API client shares (Prometheus, Alertmanager, Clair): a timeout on every GET, an
optional bearer token and CA, the circuit breaker, and every transport failure mapped to a k8sdata.errors
kind with a plain sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from k8sdata.errors import (
    Forbidden,
    NotConfigured,
    NotInstalled,
    RateLimited,
    Source,
    SourceError,
    Timeout,
    Unreachable,
)
from k8sdata.sources.breaker import CircuitBreaker


class JsonHttpClient:
    """GETs JSON from one HTTP API with a timeout, an optional bearer token and CA, and maps every
    transport failure to a SourceError of `source`. PromClient, AlertmanagerClient and the Clair client
    share it. Thread-safe: the session is only used for GETs, and its pool is guarded by urllib3."""

    source: Source = "prometheus"  # each subclass names its own
    credentials_hint = "Check the credentials KAMS uses for it."

    def __init__(self, url: str, timeout: float, *, bearer_token: str | None = None,
                 bearer_token_file: str | None = None, ca_file: str | None = None) -> None:
        if not url:
            raise NotConfigured(self.source)
        if not url.startswith(("http://", "https://")):
            raise NotConfigured(self.source, f"{url!r} is not an http(s) URL")
        if ca_file is not None and not Path(ca_file).is_file():
            raise NotConfigured(self.source, f"the CA file {ca_file} does not exist")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._bearer_token = bearer_token
        self._bearer_token_file = bearer_token_file
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json"
        # Passed on every request: a Session's own `verify` loses to $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE.
        self._verify: str | bool = ca_file if ca_file is not None else True
        #: Set by whoever shares this client (the website): one timeout, not one per request.
        self.breaker: CircuitBreaker | None = None

    def close(self) -> None:
        self._session.close()

    def _auth_headers(self) -> dict[str, str]:
        """The bearer token, read from its file on every request: Kubernetes rotates projected tokens
        and updates mounted secrets in place, and the file is tiny."""
        token = self._bearer_token
        if self._bearer_token_file:
            try:
                token = Path(self._bearer_token_file).read_text(encoding="utf-8").strip()
            except OSError as error:
                raise NotConfigured(self.source, f"cannot read the token file "
                                                 f"{self._bearer_token_file}: {error.strerror}") from None
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _response(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None
                  ) -> requests.Response:
        """GET `path`; transport failures become SourceError kinds, HTTP statuses are left to callers.
        Through the client's circuit breaker when it has one (k8sdata.sources.breaker): while the server is
        known to be gone this fails at once, and a timeout or refused connection opens it."""
        breaker = self.breaker
        if breaker is None:
            return self._send(path, params)
        breaker.check()
        try:
            return self._send(path, params)
        except SourceError as error:
            breaker.record(error)
            raise

    def _send(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None) -> requests.Response:
        try:
            return self._session.get(f"{self.url}{path}", params=params, headers=self._auth_headers(),
                                     timeout=(self.timeout, self.timeout), verify=self._verify)
        except (requests.ConnectTimeout, requests.ReadTimeout):
            raise Timeout(self.source, f"no answer within {self.timeout:g} s") from None
        except requests.exceptions.SSLError as error:
            raise Unreachable(self.source, "its TLS certificate could not be verified" if "CERTIFICATE_VERIFY"
                              in str(error) else "the TLS handshake failed",
                              hint=self._tls_hint()) from None
        except requests.ConnectionError as error:
            text = str(error)
            if "Read timed out" in text:
                raise Timeout(self.source, f"no answer within {self.timeout:g} s") from None
            if "NameResolution" in text or "Name or service not known" in text:
                raise Unreachable(self.source, "the server's name does not resolve") from None
            raise Unreachable(self.source, "connection refused") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as error:
            raise NotConfigured(self.source, str(error)) from None
        except requests.RequestException as error:
            raise Unreachable(self.source, f"{type(error).__name__}: {error}") from None

    def _tls_hint(self) -> str:
        return "Point PROMETHEUS_CA_FILE at the CA that signed its certificate."

    def _raise_for_status(self, response: requests.Response, path: str, message: str) -> None:
        """The statuses every API means the same way: auth, missing path, rate limit, gateway timeout."""
        status = response.status_code
        if status in (401, 403):
            raise Forbidden(self.source, message or f"HTTP {status}", hint=self.credentials_hint)
        if status == 404:
            raise NotInstalled(self.source, f"{path} not found: is {self.url} the right address?")
        if status == 429:
            retry = response.headers.get("Retry-After")
            try:
                retry_after = float(retry) if retry else None
            except ValueError:
                retry_after = None
            limited = RateLimited(self.source, message, retry_after=retry_after)
            if self.breaker is not None:
                self.breaker.record(limited)  # the website reruns the page when the server allows
            raise limited
        if status == 504:
            raise Timeout(self.source, message or "the gateway timed out")
