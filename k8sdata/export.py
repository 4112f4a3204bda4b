"""Every table a person downloads or a script reads as CSV: one writer, one spreadsheet-formula guard.

Page downloads, the command line's `--format csv`, the Overview's applications CSV and the archive's
snapshots all go through `frame_to_csv`, so text from the cluster (pod names, labels, event messages, log
lines) can never become a formula in whoever opens the file. Pure: no I/O, no streamlit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

#: Leading characters that make Excel, LibreOffice and Google Sheets treat a cell as a formula
#: (OWASP "CSV Injection"): = + - @, and tab / carriage return, which some parsers strip before
#: looking at the next character.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: A plain number such as "-5" or "+1.5" is read as a number, never evaluated, so it is left alone
#: (e.g. a "-1" in a text column stays a number for whoever opens the file).
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralize_formula(text: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate as a formula with a single quote.

    Why: snapshot tables carry text KAMS does not control (pod names, labels, event messages, log
    lines). Someone opening the CSV in a spreadsheet must not run `=HYPERLINK(...)`, `=cmd|...` or
    `@SUM(...)` planted in an event message. OWASP recommends exactly this: a leading `'` makes the
    spreadsheet show the cell as text; quoting of embedded quotes and commas is left to the CSV writer.
    """
    if text.startswith(_FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def iso_time(value: datetime | pd.Timestamp) -> str:
    """ISO 8601; aware values in UTC with a Z, naive ones as they are."""
    if pd.isna(value):
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
        text = value.replace(tzinfo=None).isoformat()
        return text + "Z"
    return value.isoformat()


def _cell(value: Any) -> Any:
    """One object-column cell as CSV text (numbers and missing values pass through)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, datetime):  # pd.Timestamp is a datetime too
        return iso_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping | list | tuple | set):
        if isinstance(value, set):
            value = sorted(value, key=str)
        text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
        return neutralize_formula(text)
    if isinstance(value, bool | int | float):
        return value
    return neutralize_formula(str(value))


def _csv_column(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").map(
            lambda text: _trim_micro(text) if isinstance(text, str) else "")
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").map(
            lambda text: _trim_micro(text) if isinstance(text, str) else "")
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return series.dt.total_seconds()
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series  # numbers can't be formulas; -5 stays -5
    return series.map(_cell).astype(object)


def _trim_micro(text: str) -> str:
    """Drop an all-zero fraction so whole seconds read 2026-01-01T12:00:00Z."""
    return text.replace(".000000", "")


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """A DataFrame as UTF-8 CSV bytes (RFC 4180): header row, no index, CRLF line ends, ISO 8601 timestamps
    (UTC with Z for aware ones), lists and dicts as JSON, and every text cell and header guarded
    against formula injection (see `neutralize_formula`)."""
    safe = pd.DataFrame(
        {index: _csv_column(frame.iloc[:, index]) for index in range(frame.shape[1])},
        index=frame.index,
    )
    safe.columns = [neutralize_formula(str(name)) for name in frame.columns]
    # CRLF as RFC 4180 says, and because the csv writer only quotes cells that contain characters
    # of the line terminator: with "\n" alone, a bare "\r" in an event message would split a row.
    text = safe.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8")


