"""Small rendering helpers. Text from the cluster (names, labels, server messages) is untrusted: it is
shown through st.dataframe / st.text, or escaped here before it reaches any Markdown element."""

from __future__ import annotations

import re
from typing import Literal

import streamlit as st

from k8sdata.errors import SourceError
from k8sdata.health import LIGHT_WORD, Light

# Every ASCII punctuation character may be backslash-escaped in CommonMark, which turns it into a
# literal: no links, emphasis, HTML, headings, tables, LaTeX ($) or Streamlit directives (:red[...]).
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text: object) -> str:
    """Make any text safe (and literal) inside st.markdown / st.warning / st.caption."""
    flat = " ".join(str(text).split())  # newlines could start block syntax (lists, headings)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def show_source_error(error: SourceError, what: str = "",
                      level: Literal["error", "warning", "info"] = "warning", after: str = "") -> None:
    """One plain sentence for a failed source, e.g. "Request numbers are unavailable: KAMS cannot reach
    Prometheus ...". `what` and `after` are our own wording around the error's sentence; all of it is
    escaped (the sentence carries server text)."""
    prefix = f"{what}: " if what else ""
    suffix = f" {after}" if after else ""
    body = escape_markdown(prefix + error.sentence + suffix)
    {"error": st.error, "warning": st.warning, "info": st.info}[level](body)


# Streamlit's own badges and Material icons (served with Streamlit, so they render everywhere, unlike
# colour emoji, which need a font the machine may lack) in colours Streamlit adapts to light and dark.
_LIGHT_BADGE: dict[Light, tuple[str, str]] = {
    "red": ("red", "error"),
    "amber": ("orange", "warning"),
    "green": ("green", "check_circle"),
    "grey": ("gray", "help"),
}
_STATUS_ICON: dict[str, str] = {
    "ok": ":green[:material/check_circle:]",
    "not configured": ":gray[:material/radio_button_unchecked:]",
    "error": ":red[:material/error:]",
}


def light_badge(light: Light) -> str:
    """Markdown for a traffic light: a coloured badge with an icon and the word (colour is not the only
    signal, for colour-blind readers)."""
    colour, icon = _LIGHT_BADGE[light]
    return f":{colour}-badge[:material/{icon}: {LIGHT_WORD[light]}]"


def status_icon(state: str) -> str:
    return _STATUS_ICON.get(state, _STATUS_ICON["error"])


#: Text colours for the light column of tables: mid-tones readable on light and dark backgrounds.
LIGHT_TEXT_COLOUR: dict[str, str] = {"red": "#e0403a", "amber": "#e08a00", "green": "#21a366",
                                     "grey": "#8a8f98"}
