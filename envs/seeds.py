"""Seed ranges that keep demonstrations and held-out evaluation apart (no simulator import).

Collection uses episode seeds below COLLECTION_SEED_LIMIT; evaluation defaults to seeds
from EVAL_SEED_OFFSET up, so held-out episodes never share a seed with a demonstration.
"""

COLLECTION_SEED_LIMIT = 1_000_000
EVAL_SEED_OFFSET = 1_000_000
