"""Streamlit-side helpers: the only place with st.cache_data / st.cache_resource around k8sdata
(ui.data), the shared filters every page reads (ui.filters), and small rendering helpers (ui.render)."""
