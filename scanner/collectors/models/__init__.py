"""The model inventory: weight files, their metadata, and the stores that hold them."""

from scanner.collectors.models.collector import ModelCollector

__all__ = ["ModelCollector"]
