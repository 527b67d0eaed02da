"""scanner: a model-usage compliance scanner.

The pipeline is visible in the sub-packages: ``walk`` (paths) -> ``collectors`` (records) ->
``policy`` (findings) -> ``reporters`` (table, JSON). ``audit.run_audit`` ties them together.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scanner")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
