"""KAMS data layer: everything that is not drawing. Never imports streamlit."""

#: KAMS's version, recorded in every snapshot's manifest; kept equal to pyproject.toml's (a test checks).
__version__ = "0.1.0"
