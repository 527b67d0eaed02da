"""The agent's side of the fleet, on every machine: its configuration file, the on-disk spool, and
submission to the collector (``requests``, imported only by the commands that send)."""
