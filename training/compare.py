"""Paired comparison of two evaluation results played on the same episode seeds.

Every evaluation of the recipe plays the same held-out seeds (1 000 000 onwards), so two policies
meet the same initial states episode by episode. Their Wilson intervals treat the two success
rates as independent and waste that pairing; the exact McNemar test uses it: only the episodes
where exactly one policy succeeded (the discordant pairs) carry information about which is better.
"""

from __future__ import annotations

import math
from typing import Any


class UnpairedResults(ValueError):
    """The two results did not play the same episode seeds."""


def successes_by_seed(results: dict[str, Any]) -> dict[int, bool]:
    """{episode seed: success} of an evaluation result (scripts/evaluate_act_proper.py output)."""
    by_seed: dict[int, bool] = {}
    for record in results["per_episode"]:
        seed = int(record["seed"])
        if seed in by_seed:
            raise UnpairedResults(f"seed {seed} appears twice in one result")
        by_seed[seed] = bool(record["success"])
    return by_seed


def exact_mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: P(a split at least this uneven | the discordant pairs
    fall either way with probability 1/2). 1.0 when there is no discordant pair."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"counts must be non-negative, got {only_a} and {only_b}")
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2.0 * tail / 2**discordant)


def paired_comparison(results_a: dict[str, Any], results_b: dict[str, Any]) -> dict[str, Any]:
    """Episode-by-episode comparison of two results over the same seeds.

    Returns the success counts of each, the four cells of the paired table (both, only_a, only_b,
    neither) and the exact McNemar p-value. Raises UnpairedResults when the seed sets, the task or
    the episode step limit differ.
    """
    for key in ("task", "max_steps"):
        value_a, value_b = results_a["env"][key], results_b["env"][key]
        if value_a != value_b:
            raise UnpairedResults(f"the results were played with different {key} ({value_a} and {value_b})")
    a, b = successes_by_seed(results_a), successes_by_seed(results_b)
    if a.keys() != b.keys():
        only_in_a, only_in_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
        raise UnpairedResults(
            f"the results played different episode seeds ({len(only_in_a)} only in the first, e.g. "
            f"{only_in_a[:3]}; {len(only_in_b)} only in the second, e.g. {only_in_b[:3]}); "
            "a paired comparison needs the same seeds"
        )
    both = sum(a[seed] and b[seed] for seed in a)
    only_a = sum(a[seed] and not b[seed] for seed in a)
    only_b = sum(b[seed] and not a[seed] for seed in a)
    return {
        "episodes": len(a),
        "successes_a": both + only_a,
        "successes_b": both + only_b,
        "both": both,
        "only_a": only_a,
        "only_b": only_b,
        "neither": len(a) - both - only_a - only_b,
        "exact_mcnemar_p": exact_mcnemar_p(only_a, only_b),
    }
