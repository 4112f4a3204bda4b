"""KAMS data layer: everything that is not drawing. Never imports streamlit."""
