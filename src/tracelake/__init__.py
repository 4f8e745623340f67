"""tracelake: a traceability lake for small device manufacturers."""
