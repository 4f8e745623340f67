"""tracelake: a traceability lake for small device manufacturers."""

import os as _os

# Memory freed by polars goes back to the system within a second even while polars is idle (an
# ingest frees a file's text, then works in DuckDB for seconds): jemalloc's background thread
# purges polars' freed pages on its decay timer (polars sets 0.5 s dirty / 1 s muzzy decay, but
# without the thread they are only purged when polars allocates again, so an idle polars held
# ~250 MB of a 100 MB file's freed text). Freed pages are purged at once (decay 0): with any
# decay time, what polars freed typing one chunk was still resident when DuckDB staged and
# upserted it, and a 200 MB TestStand report's ingest peaked at 505-531 MB (418-422 MB so; a
# timed decay of 0.1-1 s kept 429-519 MB); the 200 MB JUnit ingest took the same CPU either
# way. Read by polars when it is first imported; a setting of the user's own is kept (polars
# appends it to its defaults).
_os.environ.setdefault("_RJEM_MALLOC_CONF",
                       "background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0")
