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


class IncompatibleResults(ValueError):
    """The results cannot be pooled: different tasks, step limits, models or evaluation modes."""


def pooled_success(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Success pooled over several evaluations of one recipe (e.g. one per training seed).

    Each result keeps its own count and Wilson interval; the pool adds up episodes and successes
    and gives the Wilson interval of the pooled rate, plus the lowest and highest single rate. The
    pooled interval treats every episode as an independent draw, so with a handful of training
    seeds it understates the spread between seeds: read it beside the single rates. Raises
    IncompatibleResults when the task, the step limit, the model kind or the execution mode
    (chunked / temporal aggregation) differ, since those pools would mean nothing.
    """
    from evaluation.rollout import wilson_interval

    if len(results) < 2:
        raise IncompatibleResults(f"pooling needs at least two results, got {len(results)}")
    first = results[0]

    def signature(result: dict[str, Any]) -> dict[str, Any]:
        return {
            "task": result["env"]["task"],
            "max_steps": result["env"]["max_steps"],
            "model_kind": result["checkpoint"]["model_kind"],
            "temporal_agg": bool(result["settings"]["temporal_agg"]),
        }

    reference = signature(first)
    for index, result in enumerate(results[1:], start=1):
        for key, value in signature(result).items():
            if value != reference[key]:
                raise IncompatibleResults(
                    f"result {index} differs from result 0 in {key} ({value} against {reference[key]})"
                )
    runs = []
    for result in results:
        low, high = wilson_interval(int(result["successes"]), int(result["episodes"]))
        runs.append({"successes": int(result["successes"]), "episodes": int(result["episodes"]),
                     "success_rate": result["successes"] / result["episodes"], "wilson_ci_95": [low, high]})
    successes = sum(run["successes"] for run in runs)
    episodes = sum(run["episodes"] for run in runs)
    low, high = wilson_interval(successes, episodes)
    rates = [run["success_rate"] for run in runs]
    return {
        **reference,
        "runs": runs,
        "successes": successes,
        "episodes": episodes,
        "success_rate": successes / episodes,
        "wilson_ci_95": [low, high],
        "lowest_rate": min(rates),
        "highest_rate": max(rates),
    }
