"""Identity and lineage of models: name normalisation and the on-machine lineage graph."""

from scanner.lineage.graph import MachineIndex, identify

__all__ = ["MachineIndex", "identify"]
