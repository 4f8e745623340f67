"""AppTest tests of the dashboards: every page, widgets set, results asserted."""
