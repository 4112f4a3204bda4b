"""Sign-in: who is looking, and what they may see (README "Sign-in and roles").

Three modes (KAMS_AUTH):
- `oidc`: Streamlit's st.login against the identity provider of the `[auth]` section of
  .streamlit/secrets.toml (the default when that section exists);
- `proxy`: a trusted proxy in front (oauth2-proxy, ingress authentication) names the person in headers
  (KAMS_AUTH_USER_HEADER, KAMS_AUTH_GROUPS_HEADER); in any other mode those headers are ignored;
- `none`: everyone sees everything, allowed only while Streamlit listens on loopback (the demo, `make
  run` on a laptop). Listening anywhere else without sign-in, KAMS says how to set one up and draws
  nothing else: no page runs, so no Kubernetes, Prometheus or S3 call is made.

With sign-in, the access policy (k8sdata.access, KAMS_ACCESS_POLICY) decides the role; anyone it does
not name is refused. `admit` only reads (the session's user, the request's headers, settings); app.py
draws the pages the answer allows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from k8sdata.access import (
    LOCAL_ACCESS,
    Access,
    Identity,
    Policy,
    PolicyError,
    groups_from_claims,
    groups_from_header,
    load_policy,
)
from k8sdata.config import Settings
from ui.filters import ACCESS_NAMESPACES_KEY
from ui.render import escape_markdown

MODES = ("oidc", "proxy", "none")
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
#: Where pages find the namespaces the signed-in person may see (None = every namespace).
NAMESPACES_KEY = ACCESS_NAMESPACES_KEY
ROLE_KEY = "kams_access_role"


@dataclass(frozen=True)
class Admission:
    """The answer for this session: access (None = refused) and the sentence saying why not."""

    mode: str
    access: Access | None
    identity: Identity | None = None
    refusal: str = ""
    #: A refused visitor who can do something about it here: sign in (OIDC), or sign out and try
    #: another account.
    can_sign_in: bool = False
    can_sign_out: bool = False


def listening_on_loopback() -> bool:
    address = st.get_option("server.address")
    return str(address or "").strip().strip("[]") in LOOPBACK_ADDRESSES


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, OSError):
        return False
    except Exception:  # a secrets file Streamlit cannot parse: no sign-in from it
        return False


def auth_mode(settings: Settings) -> str:
    """The configured mode; "" picks oidc when the secrets file has an [auth] section, else none."""
    if settings.auth_mode:
        return settings.auth_mode
    return "oidc" if _oidc_configured() else "none"


@functools.lru_cache(maxsize=4)
def _policy_at(path: str, modified_ns: int, size: int) -> Policy:
    return load_policy(path)


def current_policy(settings: Settings) -> Policy:
    """The access policy file, read again when it changes (a ConfigMap update). Raises PolicyError."""
    if not settings.access_policy:
        raise PolicyError("Sign-in is on, but KAMS_ACCESS_POLICY names no access policy, so nobody can be "
                          "let in. Mount a policy file and set KAMS_ACCESS_POLICY to its path (README, "
                          "Sign-in and roles).")
    path = Path(settings.access_policy)
    try:
        stat = path.stat()
    except OSError:
        raise PolicyError(f"{path}: the access policy file does not exist (KAMS_ACCESS_POLICY).") from None
    return _policy_at(str(path), stat.st_mtime_ns, stat.st_size)


def _identity(settings: Settings, mode: str) -> Identity | None:
    if mode == "oidc":
        if not st.user.is_logged_in:
            return None
        claims = st.user.to_dict()
        return Identity(email=str(claims.get("email") or ""), groups=groups_from_claims(claims),
                        name=str(claims.get("name") or ""))
    headers = st.context.headers
    email = (headers.get(settings.auth_user_header) or "").strip()
    if not email:
        return None
    return Identity(email=email, groups=groups_from_header(headers.get(settings.auth_groups_header)))


def admit(settings: Settings) -> Admission:
    """Who this session is and what they may see. Draws nothing."""
    mode = auth_mode(settings)
    if mode not in MODES:
        return Admission(mode, None, refusal=f"KAMS_AUTH is {mode!r}; use oidc, proxy or none.")
    if mode == "none":
        if listening_on_loopback():
            return Admission(mode, LOCAL_ACCESS)
        return Admission(mode, None, refusal=(
            "KAMS is listening on a network address without sign-in, so it shows nothing. Set up sign-in "
            "(an [auth] section in .streamlit/secrets.toml for OIDC, or KAMS_AUTH=proxy behind "
            "oauth2-proxy) and an access policy (KAMS_ACCESS_POLICY), or listen on 127.0.0.1 only "
            "(--server.address 127.0.0.1). The README's \"Sign-in and roles\" says how."))
    if mode == "oidc" and not _oidc_configured():
        return Admission(mode, None, refusal=(
            "KAMS_AUTH is oidc, but .streamlit/secrets.toml has no [auth] section naming the identity "
            "provider (redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url)."))
    try:
        policy = current_policy(settings)
    except PolicyError as error:
        return Admission(mode, None, refusal=str(error))
    identity = _identity(settings, mode)
    if identity is None:
        if mode == "oidc":
            return Admission(mode, None, refusal="Sign in to see this cluster.", can_sign_in=True)
        return Admission(mode, None, refusal=(
            f"The proxy in front of KAMS sent no {settings.auth_user_header} header, so KAMS does not know "
            "who you are. Open KAMS through the sign-in proxy."))
    access = policy.decide(identity)
    if access is None:
        return Admission(mode, None, identity, refusal=(
            f"You are signed in as {identity.email or 'an account without an email'}, but the access "
            "policy gives that account no access to KAMS. Ask the people who run KAMS to add it."),
            can_sign_out=mode == "oidc")
    return Admission(mode, access, identity)


def render_refusal(admission: Admission) -> None:
    """The whole page for a visitor who may not see KAMS: one sentence, and sign-in or sign-out."""
    st.title("KAMS")
    st.info(escape_markdown(admission.refusal), icon=":material/lock:")
    if admission.can_sign_in:
        st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
    if admission.can_sign_out:
        st.button("Sign out", on_click=st.logout, icon=":material/logout:")


def render_refused_page(title: str) -> None:
    """What a signed-in person sees at the address of a page their role does not open."""
    st.title(escape_markdown(title))
    role = st.session_state.get(ROLE_KEY, "viewer")
    st.warning(escape_markdown(f"Your role ({role}) does not open the {title} page. The health page "
                               "shows how every application is doing."), icon=":material/lock:")


def render_signed_in(admission: Admission) -> None:
    """The sidebar's line naming the signed-in person (plain text), and sign-out where KAMS can."""
    identity = admission.identity
    if identity is None or admission.access is None:
        return
    who = identity.name or identity.email
    scope = ("every namespace" if admission.access.namespaces is None
             else ", ".join(sorted(admission.access.namespaces)))
    st.caption(escape_markdown(f"Signed in as {who} ({admission.access.role}; {scope})"))
    if admission.mode == "oidc":
        st.button("Sign out", on_click=st.logout, icon=":material/logout:", width="stretch")


def remember(admission: Admission) -> None:
    """What pages read of the admission: the role and the namespaces they may show."""
    assert admission.access is not None
    st.session_state[ROLE_KEY] = admission.access.role
    st.session_state[NAMESPACES_KEY] = admission.access.namespaces
