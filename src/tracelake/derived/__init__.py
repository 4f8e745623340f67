"""What is derived from the lake: the genealogy graph, the search index, calibration status and
impact, quality trends and data quality, and the findings that decide a release.
"""
