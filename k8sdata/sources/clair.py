"""Clair v4's matcher API, read-only: a running image's vulnerability report by manifest digest. What
the reports mean for the Security page is k8sdata.security.vulns'."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from k8sdata.errors import NotInstalled, Source, SourceError
from k8sdata.security.clair_auth import PskSigner, unauthorized
from k8sdata.sources.http import JsonHttpClient

if TYPE_CHECKING:
    from k8sdata.config import Settings

#: Where the matcher serves a report by manifest digest.
CLAIR_REPORT_PATH = "/matcher/api/v1/vulnerability_report/"
#: Said when CLAIR_URL answers but is not a matcher, and on the page when no scanner is set up.
CLAIR_HINT = ("Or, if you run Clair v4, set CLAIR_URL to its address (the server serving "
              "/matcher/api/v1/); KAMS then asks it about each running image's digest.")


class ClairClient(JsonHttpClient):
    """Clair v4's matcher API (read-only: it never submits manifests to the indexer). With a `signer`,
    every request carries Clair's pre-shared-key JWT (k8sdata.security.clair_auth); a 401 says what to
    set, with or without one (a Clair that requires a key KAMS was not given)."""

    source: Source = "clair"
    credentials_hint = "Clair refused KAMS: check the authentication in front of it."

    def __init__(self, url: str, timeout: float, *, signer: PskSigner | None = None) -> None:
        super().__init__(url, timeout)
        self.signer = signer

    def _auth_headers(self) -> dict[str, str]:
        return self.signer.headers() if self.signer is not None else {}

    def _raise_for_status(self, response: requests.Response, path: str, message: str) -> None:
        if response.status_code == 401:
            raise unauthorized(self.signer)
        super()._raise_for_status(response, path, message)

    def _tls_hint(self) -> str:
        return "Clair's certificate is not trusted by this machine's CA bundle."

    def vulnerability_report(self, digest: str) -> dict[str, Any] | None:
        """The matcher's report for a manifest digest, or None when Clair has not indexed it (404)."""
        path = f"{CLAIR_REPORT_PATH}{digest}"
        response = self._response(path)
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        if response.status_code == 404:
            # Clair's own "index report ... not found" is JSON with code "not-found"; anything else (a
            # plain-text 404 from a proxy or Go's mux) means CLAIR_URL does not point at a matcher.
            if isinstance(body, dict) and body.get("code") == "not-found":
                return None
            raise NotInstalled(self.source, f"{path} not found: is {self.url} a Clair v4 server "
                                            "serving the matcher API?", hint=CLAIR_HINT)
        if response.status_code == 202:
            raise SourceError(self.source, "its matcher has not finished loading the vulnerability "
                                           "database", hint="Clair is starting; try again in a few minutes.")
        self._raise_for_status(response, path, message)
        if response.status_code != 200 or not isinstance(body, dict):
            raise SourceError(self.source, message or f"HTTP {response.status_code} for {path}")
        return body


def clair_client(settings: Settings) -> ClairClient:
    """The client for CLAIR_URL with the PSK settings; NotConfigured without CLAIR_URL, ClairKeyError for
    a key that cannot be used (both SourceErrors, so the page shows them like any other Clair failure)."""
    return ClairClient(settings.clair_url or "", settings.request_timeout,
                       signer=PskSigner.from_settings(settings))
