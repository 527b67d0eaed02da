"""Policies: the YAML schema, loading and composition, and the engine that turns records into findings."""

from scanner.policy.engine import evaluate
from scanner.policy.loader import bundled_names, load_policy
from scanner.policy.schema import Policy

__all__ = ["Policy", "bundled_names", "evaluate", "load_policy"]
