"""Where data comes in: readers turn a plant's files into rows, mappings rename their columns,
coercion types them to the import contract, and the contract checks say which rows break it.

Nothing here touches the lake: the ingest run (:mod:`tracelake.ingest`) loads what this layer reads.
"""
