"""Small rendering helpers. Text from the cluster (names, labels, server messages) is untrusted: it is
shown through st.dataframe / st.text, or escaped here before it reaches any Markdown element."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import streamlit as st

from k8sdata.errors import SourceError
from k8sdata.health import LIGHT_WORD, AppHealth, Light

# Every ASCII punctuation character may be backslash-escaped in CommonMark, which turns it into a
# literal: no links, emphasis, HTML, headings, tables, LaTeX ($) or Streamlit directives (:red[...]).
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


#: GFM's autolink literals (http://..., www...., a@b.c) become links after parsing, whatever is escaped:
#: the browser's Markdown finds them in the finished text, and only where a URL does not follow a letter
#: and an address is unbroken. An invisible WORD JOINER before the URL and before the @ keeps them text.
_AUTOLINK_START = re.compile(r"(?i)(?<![^\W_])(https?://|www\.)")
_EMAIL_AT = re.compile(r"(?<=[-.\w+])@(?=[-\w]+\.[-\w])")
WORD_JOINER = "\u2060"


def escape_markdown(text: object) -> str:
    """Make any text safe (and literal) inside st.markdown / st.warning / st.caption / st.metric."""
    flat = " ".join(str(text).split())  # newlines could start block syntax (lists, headings)
    flat = _EMAIL_AT.sub(WORD_JOINER + "@", _AUTOLINK_START.sub(WORD_JOINER + r"\1", flat))
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
    "waiting": ":orange[:material/schedule:]",
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


#: Cards of application lights drawn on a page; the rest are in the page's table.
MAX_LIGHT_CARDS = 24
LIGHT_CARD_COLUMNS = 3


def light_cards(apps: Sequence[AppHealth]) -> None:
    """A bordered card per application (name, namespace, light and its first reasons, all escaped), the
    worst first as `apps` come, LIGHT_CARD_COLUMNS a row; past MAX_LIGHT_CARDS, a caption."""
    for start in range(0, min(len(apps), MAX_LIGHT_CARDS), LIGHT_CARD_COLUMNS):
        row = st.columns(LIGHT_CARD_COLUMNS)
        for column, app in zip(row, apps[start:start + LIGHT_CARD_COLUMNS], strict=False):
            with column, st.container(border=True):
                st.markdown(f"**{escape_markdown(app.app)}** · {escape_markdown(app.namespace)}  \n"
                            f"{light_badge(app.light)}")
                for reason in app.reasons[:3]:
                    st.caption(escape_markdown(reason))
    if len(apps) > MAX_LIGHT_CARDS:
        st.caption(f"{len(apps) - MAX_LIGHT_CARDS} more applications are listed in the table below.")
