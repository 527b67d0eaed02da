"""Collectors (the *collect* stage): one module per source of facts; ``registry`` lists them for the audit."""
