#!/usr/bin/env python
"""What the demonstrations allow with perfect state: a diagnostic upper bound, not ACT.

Trains a small MLP by behaviour cloning (L1) from MetaWorld's full 39-float state (object and
goal positions included, no images) to the next `--chunk_size` expert actions, on the training
episodes of a demonstration file, then rolls it out on held-out seeds, executing each predicted
chunk open-loop before predicting again (``--chunk_size 1`` is closed-loop control), or its first
``--query_freq`` actions, or every step with ACT's temporal aggregation (``--temporal_agg``,
the same aggregator as the ACT policy). No rendering, so one run takes a minute or two on a CPU.
It answers two questions that ACT runs cannot answer cheaply: do 50 scripted demos suffice for
this task when perception is solved, and how much does executing k actions open-loop cost?
Prints JSON (and writes it with ``--output``).

    python scripts/diag_state_bc.py --data data/shelf-place-v3__behindGripper-96.hdf5 --chunk_size 1 10 25 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import _bootstrap  # noqa: F401
from _cli import Parser, non_negative_int, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--data", required=True, help="demonstration HDF5 file (its obs/env_state and actions)")
    parser.add_argument("--chunk_size", type=positive_int, nargs="+", default=[1],
                        help="actions predicted and executed open-loop per decision; one run per value")
    parser.add_argument("--query_freq", type=positive_int, default=None,
                        help="execute only the first QUERY_FREQ actions of each chunk (default: all)")
    parser.add_argument("--temporal_agg", action="store_true", help="query every step, aggregate chunks")
    parser.add_argument("--k", type=float, default=0.01, help="temporal aggregation weight exp(-k*i)")
    parser.add_argument("--episodes", type=positive_int, default=100, help="held-out evaluation episodes per run")
    parser.add_argument("--steps", type=positive_int, default=5000, help="optimiser steps (batch 256)")
    parser.add_argument("--hidden", type=positive_int, default=512, help="MLP width (3 hidden layers)")
    parser.add_argument("--val_fraction", type=float, default=0.1, help="episodes held back, as in training")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="split, initialisation and batches")
    parser.add_argument("--eval_seed_start", type=non_negative_int, default=None,
                        help="first evaluation seed (default: the held-out range, as evaluate_act_proper.py)")
    parser.add_argument("--max_steps", type=positive_int, default=500, help="episode limit")
    parser.add_argument("--action_repr", choices=("delta", "absolute"), default="delta",
                        help="predict MetaWorld's delta actions or absolute mocap targets (envs/action_repr.py)")
    parser.add_argument("--normalize_targets", action="store_true",
                        help="standardise the predicted actions too (always on for absolute targets)")
    parser.add_argument("--output", default=None, help="also write the JSON here (atomically)")
    return parser.parse_args(argv)


def chunk_windows(actions: list, chunk_size: int):
    """(sum T, chunk_size, A) action windows from each step, repeating the last action past the end."""
    import numpy as np

    windows = []
    for episode_actions in actions:  # (T, A)
        length = len(episode_actions)
        index = np.minimum(np.arange(length)[:, None] + np.arange(chunk_size)[None, :], length - 1)  # (T, k)
        windows.append(episode_actions[index])  # (T, k, A)
    return np.concatenate(windows)


def train_mlp(states, targets, hidden: int, steps: int, seed: int, normalize_targets: bool = False):
    """An MLP fitted with L1 on normalised inputs (and targets, if asked); returns
    predict(state (39,)) -> (k, A) actions."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    states_t = torch.as_tensor(states, dtype=torch.float32)  # (M, 39)
    targets_t = torch.as_tensor(targets, dtype=torch.float32).flatten(1)  # (M, k*A)
    mean, std = states_t.mean(0), states_t.std(0).clamp(min=1e-3)  # (39,) each
    target_mean, target_std = torch.zeros(targets_t.shape[1]), torch.ones(targets_t.shape[1])  # (k*A,) each
    if normalize_targets:  # absolute targets are metres: without this the L1 barely sees a 1 cm error
        flat = targets_t.reshape(-1, targets.shape[2])  # (M*k, A)
        target_mean = flat.mean(0).repeat(targets.shape[1])
        target_std = flat.std(0).clamp(min=1e-3).repeat(targets.shape[1])
        targets_t = (targets_t - target_mean) / target_std
    chunk_size, action_dim = targets.shape[1], targets.shape[2]
    net = nn.Sequential(
        nn.Linear(states_t.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, chunk_size * action_dim),
    )
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(0, len(states_t), (256,), generator=generator)
        loss = (net((states_t[batch] - mean) / std) - targets_t[batch]).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    net.eval()

    def predict(state):
        with torch.no_grad():
            x = (torch.as_tensor(state, dtype=torch.float32) - mean) / std  # (39,)
            return (net(x[None])[0] * target_std + target_mean).reshape(chunk_size, action_dim).numpy()  # (k, A)

    return predict, loss.item()


def rollout(raw_env, predict, seed: int, max_steps: int, query_freq: int, aggregator=None,
            absolute: bool = False) -> tuple[bool, int]:
    """(success, steps) of one episode of the raw MetaWorld env from `seed`.

    Without `aggregator`, the first `query_freq` actions of each chunk run open-loop; with one
    (a `TemporalAggregator` for one environment), a chunk is predicted and aggregated every step.
    With `absolute`, the predictions are mocap targets, turned into deltas just before each step.
    """
    import numpy as np

    from envs.action_repr import deltas_from_targets, mocap_position

    # MetaWorldEnv.reset(seed) does the same two calls, then renders its cameras: not needed here
    raw_env.seed(int(seed))
    state, _ = raw_env.reset()
    if aggregator is not None:
        aggregator.reset()
    steps = 0
    while steps < max_steps:
        if aggregator is not None:
            aggregator.add(predict(state)[None], steps)  # (1, k, A)
            actions = aggregator.action(steps)  # (1, A)
        else:
            actions = predict(state)[:query_freq]  # (q, A)
        for action in actions:  # (A,) each
            if absolute:
                action = deltas_from_targets(action[None], mocap_position(raw_env), raw_env.action_scale)[0]
            state, _, _, _, info = raw_env.step(np.clip(action, -1.0, 1.0))
            steps += 1
            if info["success"]:
                return True, steps
            if steps >= max_steps:
                break
    return False, steps


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np

    from envs.action_repr import MocapFrame, mocap_path
    from envs.hdf5_demos import DemoFileError, read_episode, validate_demo_file
    from envs.metaworld_wrapper import ACTION_DIM, EVAL_SEED_OFFSET, EnvConfig, MetaWorldEnv
    from training.atomic import write_text
    from training.dataset import split_episodes
    from training.evaluation import wilson_interval
    from training.policy import TemporalAggregator

    try:
        info = validate_demo_file(args.data, check_data=False)
        train_episodes, _ = split_episodes(info.num_episodes, args.val_fraction, args.seed)
    except (DemoFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    episodes = [read_episode(args.data, index, with_images=False) for index in train_episodes]
    states = np.concatenate([episode["env_state"] for episode in episodes])  # (M, 39)
    actions = [episode["actions"] for episode in episodes]  # [(T, A)]
    absolute = args.action_repr == "absolute"
    if absolute:
        with MetaWorldEnv(EnvConfig(task=info.task, image_size=16)) as env:
            frame = MocapFrame.of(env.raw_env)
        actions = [mocap_path(episode_actions, frame) for episode_actions in actions]  # [(T, A)] targets
    first_seed = EVAL_SEED_OFFSET if args.eval_seed_start is None else args.eval_seed_start
    seeds = range(first_seed, first_seed + args.episodes)
    runs = []
    for chunk_size in args.chunk_size:
        start = time.time()
        predict, final_loss = train_mlp(
            states, chunk_windows(actions, chunk_size), args.hidden, args.steps, args.seed, normalize_targets=absolute or args.normalize_targets)
        query_freq = min(args.query_freq or chunk_size, chunk_size)
        aggregator = TemporalAggregator(1, chunk_size, ACTION_DIM, args.k) if args.temporal_agg else None
        with MetaWorldEnv(EnvConfig(task=info.task, image_size=16, max_steps=args.max_steps)) as env:
            outcomes = [rollout(env.raw_env, predict, seed, args.max_steps, query_freq, aggregator, absolute)
                        for seed in seeds]
        successes = sum(success for success, _ in outcomes)
        low, high = wilson_interval(successes, len(outcomes))
        runs.append({
            "chunk_size": chunk_size, "execution": f"temporal_agg k={args.k}" if args.temporal_agg
            else f"first {query_freq} of each chunk", "successes": successes, "episodes": len(outcomes),
            "success_rate": successes / len(outcomes), "ci95": [round(low, 3), round(high, 3)],
            "final_train_l1": round(final_loss, 4), "seconds": round(time.time() - start, 1),
        })
        print(json.dumps(runs[-1]), file=sys.stderr)
    report = {
        "diagnostic": "MLP behaviour cloning from the full 39-float MetaWorld state (privileged, no images)",
        "data": args.data, "task": info.task, "train_episodes": len(train_episodes),
        "eval_seeds": [first_seed, first_seed + args.episodes - 1], "steps": args.steps,
        "hidden": args.hidden, "seed": args.seed, "action_repr": args.action_repr,
        "normalized_targets": absolute or args.normalize_targets, "runs": runs,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        write_text(args.output, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
