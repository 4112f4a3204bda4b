"""Small rendering helpers. Text from the cluster (names, labels, server messages) is untrusted: it is
shown through st.dataframe / st.text, or escaped here before it reaches any Markdown element."""

from __future__ import annotations

import re
from typing import Literal

import streamlit as st

from k8sdata.errors import SourceError

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
