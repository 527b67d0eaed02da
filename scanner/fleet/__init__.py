"""The fleet, in two sides that never import each other: the ``agent`` on every machine (its
configuration, the spool, submission) and the central ``collector`` (the HTTP service, ingest,
storage, tokens, and the fleet summary document). Both stand on the report contract; the fleet
pages are rendered by ``scanner.reporters``."""
