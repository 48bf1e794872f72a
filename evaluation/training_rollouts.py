"""Policy rollouts during training (``--eval_every``): logs ``eval/success_rate`` and keeps the first
episode's video (``<run>/videos/rollouts_step_<k>/``).

Rollout seeds come from their own range (EVAL_SEED_OFFSET + 500000 + i), away from
both the demonstrations and the default held-out evaluation seeds, so choosing
``best.pth`` by success never peeks at the episodes the final evaluation scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envs import EVAL_SEED_OFFSET

if TYPE_CHECKING:
    from training.trainer import Trainer

TRAINING_EVAL_SEED_OFFSET = EVAL_SEED_OFFSET + 500_000


def rollout_success(trainer: Trainer) -> dict[str, float]:
    """Success rate of the trainer's current model over `eval_episodes` rollouts."""
    from evaluation.policy import ACTPolicy
    from evaluation.rollout import EvalConfig, evaluate

    policy = ACTPolicy.from_checkpoint(
        trainer.checkpoint_dict(with_optimizer=False),
        device=str(trainer.device),
        temporal_agg=trainer.config.eval_temporal_agg,
    )
    episodes = trainer.config.eval_episodes
    video_dir = trainer.run_dir / "videos" / f"rollouts_step_{trainer.step:06d}"  # the first episode's video
    config = EvalConfig(
        seeds=[TRAINING_EVAL_SEED_OFFSET + i for i in range(episodes)],
        num_envs=min(episodes, 5),
        temporal_agg=trainer.config.eval_temporal_agg,
        max_steps=trainer.config.eval_max_steps,
        video_dir=str(video_dir),
        num_videos=1,
    )
    results = evaluate(policy, config, progress=False)
    trainer.last_rollout_video = next(iter(sorted(video_dir.glob("*.mp4"))), None)
    return {"eval/success_rate": float(results["success_rate"]), "eval/episodes": float(results["episodes"])}


def attach_rollout_eval(trainer: Trainer) -> None:
    trainer.eval_fn = rollout_success
