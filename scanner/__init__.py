"""scanner: a model-usage compliance scanner.

The pipeline is visible in the sub-packages: ``walk`` (paths) -> ``collectors`` (records) ->
``policy`` (findings) -> ``reporters`` (table, JSON). ``audit.run_audit`` ties them together.
"""

__version__ = "0.1.0"
"""The one place the version is written (``pyproject.toml`` reads it through hatch): asking
``importlib.metadata`` for it cost every run about 30 ms of start-up."""
