"""Evaluation: the policy wrapper around a checkpoint, rollouts on held-out states, videos, reports."""
