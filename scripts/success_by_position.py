#!/usr/bin/env python
"""Success against the object's initial position, from evaluator result files (runs nothing).

A policy that ignores where the object is succeeds only where the average demonstration goes;
this shows whether successes cluster there. Prints JSON, one entry per result file: successes
per bin of |object x| (metres from the table's centre line), the largest |x| of a success, and
(where the episodes record the goal) successes per bin of the lateral carry, goal x − object x
(on shelf-place: how far right (+) or left (−) the block has to travel to the shelf).

    python scripts/success_by_position.py results/shelf-place-v3__standard__chunk.json

Result files that record the object's highest lift (evaluations since stop 15) also count, per
bin, the failures that never lifted the object 2 cm ("failed_never_lifted": the grasp failed).
Those that record where the hand was when the fingers closed (``grasp_offset_m``, since stop 16)
get "grasp_offset_by_outcome": the median hand − object offset (x, y, z) and the median |y| offset
(in centimetres) of successes, failures that never lifted, and failures that lifted; and
"grasp_height_by_object_x": per bin of the object's signed initial x, the median and highest hand
height above the object when the fingers closed, with the failures that never lifted it.

With --demos FILE it also counts the demonstrations of a demo HDF5 file in the same bins (where
the training data is thin), under the key "demos".
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys

import _bootstrap  # noqa: F401
from _cli import Parser

from training.evaluation import failed_never_lifted

BIN_EDGES = (0.0, 0.025, 0.05, 0.075, 0.1)  # |x| bins in metres (shelf-place samples x in [-0.1, 0.1])
SIGNED_X_EDGES = (-0.05, 0.0, 0.05)  # object x bins in metres (left of the centre line is negative)
CARRY_EDGES = (-0.1, -0.05, 0.0, 0.05, 0.1)  # goal x − object x bins in metres; the outer bins are open


def summarize(results: dict) -> dict:
    episodes = results["per_episode"]
    successes = [abs(e["object_init_pos"][0]) for e in episodes if e["success"]]
    summary = {
        "successes": len(successes),
        "episodes": len(episodes),
        "by_abs_object_x": _tally(_abs_x_bins(episodes), "abs_x_m"),
        "max_abs_x_of_a_success": round(max(successes), 4) if successes else None,
    }
    if all("goal_pos" in e for e in episodes):
        summary["by_carry_x"] = _tally(_carry_bins(episodes), "carry_x_m")
    if all("grasp_offset_m" in e for e in episodes):
        summary["grasp_offset_by_outcome"] = grasp_offsets(episodes)
        summary["grasp_height_by_object_x"] = grasp_heights(episodes)
    return summary


def grasp_heights(episodes: list[dict]) -> list[dict]:
    """Per bin of the object's signed initial x: episodes whose fingers closed, the median and the
    highest hand height above the object then (cm), and the failures that never lifted it."""
    rows = []
    for (low, high), inside in _signed_x_bins(episodes):
        heights = [100.0 * e["grasp_offset_m"][2] for e in inside if e["grasp_offset_m"] is not None]
        rows.append({
            "object_x_m": [low, high],
            "closed": len(heights),
            "median_height_cm": round(statistics.median(heights), 2) if heights else None,
            "max_height_cm": round(max(heights), 2) if heights else None,
            "failed_never_lifted": sum(map(failed_never_lifted, inside)),
        })
    return rows


def grasp_offsets(episodes: list[dict]) -> dict:
    """Median hand − object offset (cm) when the fingers first closed, per outcome; episodes whose
    fingers never closed are counted under "never_closed"."""
    groups = {
        "success": [e for e in episodes if e["success"]],
        "failed_never_lifted": [e for e in episodes if failed_never_lifted(e)],
        "failed_lifted": [e for e in episodes if not e["success"] and not failed_never_lifted(e)],
    }
    report = {}
    for name, members in groups.items():
        offsets = [e["grasp_offset_m"] for e in members if e["grasp_offset_m"] is not None]
        row: dict = {"episodes": len(members), "never_closed": len(members) - len(offsets)}
        if offsets:
            centimetres = [[100.0 * v for v in offset] for offset in offsets]
            row["median_offset_cm"] = [round(statistics.median(axis), 2) for axis in zip(*centimetres, strict=True)]
            row["median_abs_y_cm"] = round(statistics.median(abs(offset[1]) for offset in centimetres), 2)
        report[name] = row
    return report


def _tally(bins: list[tuple[list, list[dict]]], edges_key: str) -> list[dict]:
    """Episodes and successes per bin, the bin's edges under `edges_key`; where the episodes record
    the object's highest lift (evaluations since stop 15), also the failures that never lifted it."""
    rows = []
    for edges, inside in bins:
        row = {edges_key: edges, "episodes": len(inside), "successes": sum(bool(e["success"]) for e in inside)}
        if all("max_object_lift_m" in e for e in inside):
            row["failed_never_lifted"] = sum(map(failed_never_lifted, inside))
        rows.append(row)
    return rows


def _abs_x_bins(episodes: list[dict]) -> list[tuple[list, list[dict]]]:
    """(edges, episodes inside) per |object x| bin; the last bin also takes |x| == 0.1."""
    def abs_x(e: dict) -> float:
        return abs(e["object_init_pos"][0])

    return [
        ([low, high], [e for e in episodes if low <= abs_x(e) and (high == BIN_EDGES[-1] or abs_x(e) < high)])
        for low, high in itertools.pairwise(BIN_EDGES)
    ]


def _signed_x_bins(episodes: list[dict]) -> list[tuple[list, list[dict]]]:
    """(edges, episodes inside) per bin of the object's initial x; the outer bins are open."""
    return _open_bins(episodes, lambda e: e["object_init_pos"][0], SIGNED_X_EDGES)


def _carry_bins(episodes: list[dict]) -> list[tuple[list, list[dict]]]:
    """(edges, episodes inside) per bin of goal x − object x; None marks an open end."""
    return _open_bins(episodes, lambda e: e["goal_pos"][0] - e["object_init_pos"][0], CARRY_EDGES)


def _open_bins(episodes: list[dict], value, edges: tuple[float, ...]) -> list[tuple[list, list[dict]]]:
    """(edges, episodes inside) per bin of value(episode) between `edges`, with open outer bins (None)."""
    return [
        ([low, high], [e for e in episodes if (low is None or low <= value(e)) and (high is None or value(e) < high)])
        for low, high in itertools.pairwise((None, *edges, None))
    ]


def demo_counts(path: str) -> dict:
    """The demonstrations of a demo HDF5 file per bin (their recorded initial object and goal positions)."""
    import h5py

    from envs.hdf5_demos import validate_demo_file

    info = validate_demo_file(path)
    with h5py.File(path, "r") as f:
        demos = [
            {"object_init_pos": f[name].attrs["object_init_pos"].tolist(), "goal_pos": f[name].attrs["goal_pos"].tolist()}
            for name in f if name.startswith("episode_")
        ]
    return {
        "file": path,
        "demos": info.num_episodes,
        "by_abs_object_x": [{"abs_x_m": edges, "demos": len(inside)} for edges, inside in _abs_x_bins(demos)],
        "by_carry_x": [{"carry_x_m": edges, "demos": len(inside)} for edges, inside in _carry_bins(demos)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(__doc__)
    parser.add_argument("results", nargs="+", help="evaluate_act_proper.py result JSON files")
    parser.add_argument("--demos", default=None, help="also count this demo HDF5 file's demonstrations per bin")
    args = parser.parse_args(argv)
    report = {}
    if args.demos:
        try:
            report["demos"] = demo_counts(args.demos)
        except (OSError, ValueError, KeyError) as error:
            print(f"error: {args.demos}: not a readable demo file ({type(error).__name__}: {error})", file=sys.stderr)
            return 2
    for path in args.results:
        try:
            with open(path) as f:
                report[path] = summarize(json.load(f))
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"error: {path}: not a readable result file ({type(error).__name__}: {error})", file=sys.stderr)
            return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
