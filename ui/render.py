"""Small rendering helpers and the panel kit every view draws with. Text from the cluster (names, labels,
server messages) is untrusted: it is shown through st.dataframe / st.text, or escaped here before it
reaches any Markdown element.

The panel kit: `panel_data` says why a panel draws nothing (its source's sentence, else its "nothing
here" sentence) and hands back what to draw otherwise; `csv_download` offers a table as the CSV
k8sdata.export.frame_to_csv writes (formula-injection safe), the one CSV writer of every download.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, Protocol, TypeVar

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from k8sdata.errors import SourceError
from k8sdata.export import frame_to_csv
from k8sdata.health import LIGHT_WORD, AppHealth, Light

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Level = Literal["error", "warning", "info"]

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


def show_source_error(error: SourceError, what: str = "", level: Level = "warning", after: str = "") -> None:
    """One plain sentence for a failed source, e.g. "Request numbers are unavailable: KAMS cannot reach
    Prometheus ...". `what` and `after` are our own wording around the error's sentence; all of it is
    escaped (the sentence carries server text)."""
    prefix = f"{what}: " if what else ""
    suffix = f" {after}" if after else ""
    body = escape_markdown(prefix + error.sentence + suffix)
    {"error": st.error, "warning": st.warning, "info": st.info}[level](body)


# --- the panel kit ------------------------------------------------------------------------------------
class Outcome(Protocol[T_co]):
    """A section read by k8sdata that carries its data or the error that prevented it
    (k8sdata.overview.Result)."""

    @property
    def value(self) -> T_co | None: ...

    @property
    def error(self) -> SourceError | None: ...


def outcome(section: Outcome[T]) -> T | SourceError | None:
    """A section as panel_data takes it: its error when it failed, else its data."""
    return section.error if section.error is not None else section.value


def _is_empty(got: object) -> bool:
    if got is None:
        return True
    if isinstance(got, pd.DataFrame):
        return got.empty
    return isinstance(got, Sequence | dict) and len(got) == 0


def panel_data(got: T | SourceError | None, unavailable: str, empty: str = "", *, level: Level = "warning",
               empty_level: Literal["info", "success", "caption"] = "info",
               told_above: Iterable[SourceError | None] = ()) -> T | None:
    """What a panel draws, or None once the panel has said why it draws nothing.

    A failed source gets its sentence ("`unavailable`: ..." at `level`); when the same error is already
    told at the top of the page (`told_above`), only a short pointer, so one outage is not said five
    times. No rows: `empty` (Markdown in our own words; cluster text in it escaped by the caller) at
    `empty_level`; with no `empty`, the empty data is handed back for the panel to say it its own way."""
    if isinstance(got, SourceError):
        if any(got is said for said in told_above):
            st.caption(f"{unavailable} (see the note at the top of the page).")
        else:
            show_source_error(got, unavailable, level=level)
        return None
    if empty and _is_empty(got):
        say: dict[str, Callable[[str], object]] = {"info": st.info, "success": st.success,
                                                   "caption": st.caption}
        say[empty_level](empty)
        return None
    return got


DOWNLOAD_ICON = ":material/download:"


def csv_download(label: str, table: pd.DataFrame | Callable[[], pd.DataFrame] | bytes, file_name: str,
                 key: str | None = None, *, help: str | None = None, icon: str | None = DOWNLOAD_ICON,
                 rerun: bool = False, width: Literal["content", "stretch"] = "content",
                 where: DeltaGenerator | None = None) -> None:
    """A download button for a table as CSV; bytes already written (an archived file) pass untouched.

    A callable table is written only when the button is clicked: a table of 100,000 rows, or log lines
    that change at every follow step, is not written on every rerun. `rerun`: clicking reruns the page,
    as Streamlit's default does; otherwise the click leaves the page as it is. `where`: a column or
    container to draw in."""
    data: bytes | Callable[[], bytes]
    if isinstance(table, bytes):
        data = table
    elif isinstance(table, pd.DataFrame):
        data = frame_to_csv(table)
    else:
        make = table
        data = lambda: frame_to_csv(make())  # noqa: E731 (Streamlit calls it on click)
    button = st.download_button if where is None else where.download_button
    button(label, data, file_name=file_name, mime="text/csv", key=key, help=help, icon=icon,
           on_click="rerun" if rerun else "ignore", width=width)


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
