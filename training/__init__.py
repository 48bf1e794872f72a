"""Dataset, normaliser, training loop and policy wrapper for ACT."""
