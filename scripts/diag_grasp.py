#!/usr/bin/env python
"""Where a policy's grasp goes wrong: the policy and the scripted expert from the same initial states.

For each seed, rolls out the checkpoint's policy and MetaWorld's scripted expert from the same
initial state and records, step by step, the hand position, the finger opening (qpos[3]), the
object position and the action taken there. Prints JSON with one summary per seed and roller: the
first step whose gripper command closes (> 0) and the hand − object offset (metres) then, how far
the object had been pushed in the table plane before it; the first step after it that commands
the hand upwards, with the hand's height above the object and the finger opening then (MetaWorld's
expert lifts once the hand is within ~5.5 cm of the block's centre); the object's highest lift and
the step where the rollout ended. With --trace FILE it also writes the per-step traces (JSON).

The object and goal positions are read from MetaWorld's state for this diagnosis only; the
policy sees what it always sees (its cameras and qpos).

    python scripts/diag_grasp.py --checkpoint runs/<run>/checkpoints/avg_7000-11000.pth \\
        --seeds 1000009 1000019 --temporal_agg --max_steps 200
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, non_negative_int, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    parser.add_argument("--seeds", type=non_negative_int, nargs="+", required=True, help="episode seeds")
    parser.add_argument("--temporal_agg", action="store_true", help="temporal aggregation (as the evaluator)")
    parser.add_argument("--query_freq", type=positive_int, default=None,
                        help="steps between model queries (as the evaluator; default: chunk size, or 1 with --temporal_agg)")
    parser.add_argument("--k", type=float, default=0.01, help="temporal aggregation weight (as the evaluator)")
    parser.add_argument(
        "--qpos_offset", type=float, nargs=4, default=None, metavar=("X", "Y", "Z", "FINGER"),
        help="intervention: add these to the qpos the policy sees (hand x, y, z in metres, finger opening; "
        "the images are untouched): tests whether the policy times its grasp from those numbers. A "
        "diagnostic, not a policy",
    )
    parser.add_argument("--max_steps", type=positive_int, default=200, help="steps per rollout")
    parser.add_argument("--trace", default=None, help="also write the per-step traces to this JSON file")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    return parser.parse_args(argv)


def summarize(trace: list[dict]) -> dict:
    """Grasp moment and outcome of one rollout trace (list of per-step dicts, step 0 = reset)."""
    import numpy as np

    from training.evaluation import LIFTED_M

    start_object = np.asarray(trace[0]["object"])
    close_step = next((t["step"] for t in trace[:-1] if t["gripper_cmd"] > 0), None)
    summary: dict = {"close_step": close_step}
    if close_step is not None:
        at_close = trace[close_step]
        offset = np.asarray(at_close["hand"]) - np.asarray(at_close["object"])
        pushed = np.linalg.norm((np.asarray(at_close["object"]) - start_object)[:2])
        summary.update(
            hand_minus_object_at_close_m=[round(float(v), 4) for v in offset],
            object_pushed_before_close_m=round(float(pushed), 4),
        )
        # the first upward command after closing: where the hand was when it started to lift
        lift_step = next((t["step"] for t in trace[close_step:-1] if t["action"][2] > 0), None)
        summary["lift_step"] = lift_step
        if lift_step is not None:
            at_lift = trace[lift_step]
            summary["hand_above_object_at_lift_m"] = round(at_lift["hand"][2] - at_lift["object"][2], 4)
            summary["finger_opening_at_lift"] = at_lift["finger"]
    lifts = [t["object"][2] - start_object[2] for t in trace]
    summary["max_object_lift_m"] = round(float(max(lifts)), 4)
    summary["lifted"] = bool(max(lifts) >= LIFTED_M)  # the evaluator's "lifted" (failure modes)
    summary["steps"] = trace[-1]["step"]
    summary["success"] = bool(trace[-1]["success"])
    return summary


def rollout(env, seed: int, act, max_steps: int) -> list[dict]:
    """Per-step trace of `act(obs) -> (4,)` from `seed`'s initial state, until success or max_steps."""
    obs = env.reset(seed)
    trace = [_snapshot(obs, 0, False)]
    for step in range(1, max_steps + 1):
        action = act(obs)
        obs, _, success, _ = env.step(action)
        trace[-1]["action"] = [round(float(v), 4) for v in action]  # the command given at that state
        trace[-1]["gripper_cmd"] = trace[-1]["action"][3]
        trace.append(_snapshot(obs, step, success))
        if success:
            break
    return trace  # the last state has no action: its "action" and "gripper_cmd" stay None


def _snapshot(obs: dict, step: int, success: bool) -> dict:
    from training.evaluation import FINGER_OPENING, HAND_POS, OBJECT_POS

    state = obs["env_state"]  # MetaWorld's 39-float observation
    return {
        "step": step,
        "hand": [round(float(v), 5) for v in state[HAND_POS]],
        "finger": round(float(state[FINGER_OPENING]), 5),
        "object": [round(float(v), 5) for v in state[OBJECT_POS]],
        "action": None,
        "gripper_cmd": None,
        "success": success,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import envs  # noqa: F401  (picks a headless GL backend)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    import numpy as np

    from envs.experts import expert_action, make_expert
    from envs.metaworld_wrapper import MetaWorldEnv
    from training.checkpoint import CheckpointError
    from training.policy import ACTPolicy

    try:
        policy = ACTPolicy.from_checkpoint(
            args.checkpoint, device=args.device, temporal_agg=args.temporal_agg, query_freq=args.query_freq, k=args.k
        )
    except (CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.qpos_offset and policy.state_input != "qpos":
        print(f"error: --qpos_offset needs a policy that reads qpos, this one reads {policy.state_input}", file=sys.stderr)
        return 2
    report: dict = {
        "checkpoint": args.checkpoint, "settings": policy.settings(), "qpos_offset": args.qpos_offset, "seeds": {},
    }

    def shown(obs: dict) -> dict:
        """The observation the policy is given: qpos shifted by --qpos_offset."""
        if not args.qpos_offset:
            return obs
        return dict(obs, qpos=obs["qpos"] + np.asarray(args.qpos_offset, dtype=np.float32))

    traces: dict = {}
    with MetaWorldEnv(policy.env_config(max_steps=args.max_steps)) as env:
        expert = make_expert(policy.task)
        for seed in args.seeds:
            policy.reset()
            policy_trace = rollout(env, seed, lambda obs: policy.select_action([shown(obs)])[0], args.max_steps)
            expert_trace = rollout(env, seed, lambda obs: expert_action(expert, obs["env_state"]), args.max_steps)
            positions = env.initial_positions()
            report["seeds"][str(seed)] = {
                "object_init_pos": [round(float(v), 4) for v in positions["object_pos"]],
                "goal_pos": [round(float(v), 4) for v in positions["goal_pos"]],
                "policy": summarize(policy_trace),
                "expert": summarize(expert_trace),
            }
            traces[str(seed)] = {"policy": policy_trace, "expert": expert_trace}
            print(f"seed {seed}: policy {report['seeds'][str(seed)]['policy']}", file=sys.stderr)
    if args.trace:
        from training.atomic import write_json

        write_json(args.trace, traces)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
