"""One module per subcommand; the shared ingest-and-write flow lives in ``_base``."""
