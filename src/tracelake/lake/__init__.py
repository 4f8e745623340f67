"""Where data is kept: the lake's storage, its ingest ledger, the published snapshot readers open,
the catalog of what it holds, orphan references, DuckDB extensions and the read-only SQL sandbox.
"""
