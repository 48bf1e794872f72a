"""The three disjoint seed ranges of the project (no simulator import).

- demonstrations: seeds in [0, COLLECTION_SEED_LIMIT); collection refuses any other;
- validation: seeds from VALIDATION_SEED_OFFSET up; every choice (recipe, training length,
  checkpoint, temporal-aggregation k) is made on these. Rollouts during training and learning
  curves use its upper half, from TRAINING_EVAL_SEED_OFFSET;
- test: seeds from TEST_SEED_OFFSET up, used only for reported figures and never to choose anything.

Every result file records the split its seeds came from.
"""

COLLECTION_SEED_LIMIT = 1_000_000
VALIDATION_SEED_OFFSET = 1_000_000
TRAINING_EVAL_SEED_OFFSET = 1_500_000
TEST_SEED_OFFSET = 2_000_000
SPLIT_OFFSETS = {"validation": VALIDATION_SEED_OFFSET, "test": TEST_SEED_OFFSET}
SPLIT_SIZE = 500_000  # seeds per split (validation stops below its training-rollout half)

# Older name of the validation offset, kept for readers of the evaluation code.
EVAL_SEED_OFFSET = VALIDATION_SEED_OFFSET


def split_of_seed(seed: int) -> str:
    """'demonstration', 'validation', 'training-rollout' or 'test': the range `seed` lies in."""
    if seed < COLLECTION_SEED_LIMIT:
        return "demonstration"
    if seed < TRAINING_EVAL_SEED_OFFSET:
        return "validation"
    if seed < TEST_SEED_OFFSET:
        return "training-rollout"
    return "test"
