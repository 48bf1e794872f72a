"""The MetaWorld wrapper: seeded randomized resets, upright images, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CAMERA_NAMES, EnvConfig, MetaWorldEnv, TaskNameError, available_tasks


@pytest.fixture(scope="module")
def env():
    with MetaWorldEnv(EnvConfig(task="shelf-place-v3", cameras=("behindGripper", "topview"), image_size=64)) as e:
        yield e


def test_all_fifty_tasks_are_listed():
    tasks = available_tasks()
    assert len(tasks) == 50
    assert "shelf-place-v3" in tasks and "reach-v3" in tasks


def test_task_sets_match_metaworld():
    from metaworld.env_dict import MT10_V3

    from envs.task_sets import MT10, VERY_HARD

    assert MT10 == tuple(MT10_V3)
    assert set(VERY_HARD) <= set(available_tasks()) and len(set(VERY_HARD)) == 5


def test_observation_keys_shapes_dtypes(env):
    obs = env.reset(0)
    assert obs["qpos"].shape == (4,) and obs["qpos"].dtype == np.float32
    assert obs["env_state"].shape == (39,) and obs["env_state"].dtype == np.float64
    np.testing.assert_allclose(obs["qpos"], obs["env_state"][:4], rtol=1e-6)
    assert set(obs["images"]) == {"behindGripper", "topview"}
    for image in obs["images"].values():
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    obs, reward, success, info = env.step(np.zeros(4))
    assert isinstance(success, bool) and np.isfinite(reward) and "truncated" in info


def test_resets_draw_distinct_initial_states(env):
    starts = []
    for seed in range(12):
        env.reset(seed)
        p = env.initial_positions()
        starts.append(np.concatenate([p["object_pos"], p["goal_pos"]]))
    starts = np.stack(starts)  # (12, 6)
    assert len(np.unique(starts.round(6), axis=0)) == 12
    # object x and y spread over centimetres (MT1's fixed start had std ~1e-16)
    assert starts[:, 0].std() > 0.01 and starts[:, 1].std() > 0.01
    # the goal (shelf) moves too
    assert starts[:, 3].std() > 0.01


def test_same_seed_same_state_and_images():
    config = EnvConfig(task="shelf-place-v3", cameras=("corner2",), image_size=64)
    with MetaWorldEnv(config) as first, MetaWorldEnv(config) as second:
        a, b = first.reset(7), second.reset(7)
        np.testing.assert_array_equal(a["env_state"], b["env_state"])
        np.testing.assert_array_equal(a["images"]["corner2"], b["images"]["corner2"])
        for _ in range(5):
            a, *_ = first.step(np.array([0.5, -0.2, 0.1, 1.0]))
            b, *_ = second.step(np.array([0.5, -0.2, 0.1, 1.0]))
        np.testing.assert_array_equal(a["env_state"], b["env_state"])
        c = first.reset(8)
        assert not np.array_equal(c["env_state"], a["env_state"])


def _project(env: MetaWorldEnv, camera: str, point: np.ndarray, size: int) -> tuple[int, int]:
    """Pixel (row, col) of a world point in an upright image of `camera` (pinhole model)."""
    model, data = env.raw_env.model, env.raw_env.data
    cam_id = model.camera(camera).id
    rotation = data.cam_xmat[cam_id].reshape(3, 3)  # camera axes in world frame (columns)
    local = rotation.T @ (point - data.cam_xpos[cam_id])  # camera looks along -z, y up
    focal = (size / 2) / np.tan(np.deg2rad(model.cam_fovy[cam_id]) / 2)
    col = size / 2 + focal * local[0] / -local[2]
    row = size / 2 - focal * local[1] / -local[2]
    return int(row), int(col)


@pytest.mark.parametrize("camera", ["behindGripper", "corner2"])
def test_images_upright_and_not_blank(camera):
    size = 96
    with MetaWorldEnv(EnvConfig(task="shelf-place-v3", cameras=(camera,), image_size=size)) as env:
        for seed in (0, 3):
            obs = env.reset(seed)
            image = obs["images"][camera].astype(int)
            assert image.std() > 10, "image is (nearly) blank"
            # The shelf-place block is pure blue; it must appear where the camera model projects it.
            block = env.raw_env._get_pos_objects()[:3]
            row, col = _project(env, camera, block, size)
            assert 0 <= row < size and 0 <= col < size
            patch = image[max(row - 2, 0) : row + 3, max(col - 2, 0) : col + 3].reshape(-1, 3)
            blue = (patch[:, 2] > 120) & (patch[:, 0] < 80) & (patch[:, 1] < 80)
            assert blue.any(), f"block not at its projected pixel {(row, col)}: image is flipped or wrong"


def test_unknown_task_lists_close_matches():
    with pytest.raises(TaskNameError, match="shelf-place-v3"):
        EnvConfig(task="shelf-place")


def test_unknown_camera_lists_valid_ones():
    with pytest.raises(TaskNameError) as error:
        EnvConfig(cameras=("wrist",))
    for name in CAMERA_NAMES:
        assert name in str(error.value)


def test_step_before_reset_and_past_limit_fail_clearly():
    with MetaWorldEnv(EnvConfig(task="reach-v3", image_size=32, max_steps=2)) as env:
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.zeros(4))
        env.reset(0)
        env.step(np.zeros(4))
        _, _, _, info = env.step(np.zeros(4))
        assert info["truncated"]
        with pytest.raises(RuntimeError, match="over"):
            env.step(np.zeros(4))
