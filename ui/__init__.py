"""Streamlit-side code: the one cache layer (ui.cache, the only module with st.cache_data and
st.cache_resource), cached access to k8sdata (ui.data and the *_data modules), the shared filters every page
reads (ui.filters), the views that draw (ui.*_view) and small rendering helpers (ui.render)."""
