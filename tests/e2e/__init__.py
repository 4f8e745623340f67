"""Browser tests: the real dashboards, started by `tracelake dashboard`, driven in headless Chromium."""
