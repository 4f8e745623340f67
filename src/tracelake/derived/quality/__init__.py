"""Quality for managers and for the data: NCR and yield trends (:mod:`.trends`) and what each
ingest run did with its rows (:mod:`.data_quality`)."""
