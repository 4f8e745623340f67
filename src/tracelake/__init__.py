"""tracelake: a traceability lake for small device manufacturers."""

import os as _os

# Memory freed by polars goes back to the system within a second even while polars is idle (an
# ingest frees a file's text, then works in DuckDB for seconds): jemalloc's background thread
# purges polars' freed pages on its decay timer (polars sets 0.5 s dirty / 1 s muzzy decay, but
# without the thread they are only purged when polars allocates again, so an idle polars held
# ~250 MB of a 100 MB file's freed text). Read by polars when it is first imported; a setting
# of the user's own is kept (polars appends it to its defaults).
_os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true")
