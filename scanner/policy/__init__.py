"""Policies (the *judge* stage): the YAML schema, loading and composition, the judges beside their matchers, and the engine."""
