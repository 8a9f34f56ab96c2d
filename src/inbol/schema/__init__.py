"""The params.yaml schema, one module per section (or per group of sections a stage reads together) on a
small :mod:`~inbol.schema.core`.  A stage imports only the sections it reads, so that editing one section's schema
re-runs only the stages that read it; :mod:`inbol.params` assembles the whole file and re-exports every name.

This package's ``__init__`` imports nothing."""
