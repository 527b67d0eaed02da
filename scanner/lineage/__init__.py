"""Identity and lineage of models (the *identify* stage): the on-machine lineage graph and the Hub client."""
