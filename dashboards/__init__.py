"""tracelake dashboards (Streamlit), started by `tracelake dashboard` or `tracelake demo`."""
