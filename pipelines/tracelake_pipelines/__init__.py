"""Dagster definitions for tracelake: thin shells over the tracelake library."""
