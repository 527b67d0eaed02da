"""The model inventory: weight files, their metadata, and the stores that hold them."""
