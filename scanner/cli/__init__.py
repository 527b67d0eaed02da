"""The command line (on top of everything): one module per command group, each command a thin call into the library."""
