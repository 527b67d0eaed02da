"""Bounded, safe header parsers for model weight files, and the first bytes that announce each format.

Each parser reads only a file's header (GGUF key-value block, safetensors JSON header, zip central
directory, ONNX/Core ML top-level protobuf fields, TFLite root table) under explicit byte caps, never
executes or unpickles anything, and reports ``bytes_read`` so benchmarks can check that a 50 GB file
costs kilobytes. A malformed or hostile header raises ``errors.FormatError`` with the reason in plain
words; I/O failures stay ``OSError`` so the caller can describe them the same way as for any other file.
Each parser module also declares its ``magic.Magic``; the weight-format table
(``scanner.collectors.models.weights``) says which format each signature selects.
"""
