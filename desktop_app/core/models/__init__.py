"""Model files: reading a GGUF header, finding and choosing a model, the catalog of
downloadable ones and their downloads."""
