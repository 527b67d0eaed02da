"""Reporters (the *report* stage): one module per output format; ``registry`` maps ``--format`` to them."""
