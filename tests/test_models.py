"""Tests of the ACT models (models/) and their loss (training/loss.py), on a tiny config."""

from __future__ import annotations

import json
import math
import socket

import pytest
import torch
import torchvision

import models.backbone as backbone_module
from models import MODEL_KINDS, ACTConfig, ModifiedACT, StandardACT, build_model
from models.act_base import ACTBase, backbone_feature_size
from models.position_encoding import sinusoidal_1d, sinusoidal_2d
from training.loss import act_loss, kl_to_standard_normal

BATCH_SIZE = 4


def tiny_config(**overrides) -> ACTConfig:
    values = {
        "state_dim": 4,
        "action_dim": 3,
        "camera_names": ("behindGripper",),
        "image_size": 64,
        "chunk_size": 5,
        "hidden_dim": 32,
        "n_heads": 2,
        "dim_feedforward": 64,
        "enc_layers": 1,
        "dec_layers": 1,
        "cvae_enc_layers": 1,
        "latent_dim": 8,
        "pretrained_backbone": False,
    }
    values.update(overrides)
    return ACTConfig(**values)


def make_batch(config: ACTConfig, batch_size: int = BATCH_SIZE, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs; the last two steps of sample 0 and the last step of sample 1 are padded."""
    generator = torch.Generator().manual_seed(seed)
    size = config.image_size
    is_pad = torch.zeros(batch_size, config.chunk_size, dtype=torch.bool)
    is_pad[0, -2:] = True
    is_pad[1, -1] = True
    return {
        "qpos": torch.randn(batch_size, config.state_dim, generator=generator),
        "images": torch.randn(batch_size, config.num_cameras, 3, size, size, generator=generator),
        "action_chunk": torch.randn(batch_size, config.chunk_size, config.action_dim, generator=generator),
        "is_pad": is_pad,
    }


def make_model(kind: str, config: ACTConfig, seed: int = 0) -> ACTBase:
    torch.manual_seed(seed)
    return build_model(kind, config)


def training_loss(model: ACTBase, batch: dict[str, torch.Tensor], kl_weight: float) -> dict[str, torch.Tensor]:
    pred_actions, mu, logvar = model(**batch)
    return act_loss(pred_actions, batch["action_chunk"], batch["is_pad"], mu, logvar, kl_weight)


# ---------------------------------------------------------------- shapes and gradients


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("camera_names", [("behindGripper",), ("behindGripper", "corner")])
def test_output_shapes(kind: str, camera_names: tuple[str, ...]) -> None:
    config = tiny_config(camera_names=camera_names)
    model = make_model(kind, config)
    batch = make_batch(config)
    expected = (BATCH_SIZE, config.chunk_size, config.action_dim)

    pred_actions, mu, logvar = model(**batch)
    assert pred_actions.shape == expected
    assert mu.shape == logvar.shape == (BATCH_SIZE, config.latent_dim)

    model.eval()
    with torch.no_grad():
        pred_actions, mu, logvar = model(batch["qpos"], batch["images"])
    assert pred_actions.shape == expected
    assert mu is None and logvar is None


def test_image_tokens_cover_every_camera() -> None:
    config = tiny_config(camera_names=("a", "b"))
    model = make_model("standard", config)
    tokens, pos = model.encode_images(make_batch(config)["images"])
    cells = backbone_feature_size(config.image_size) ** 2
    assert tokens.shape == (BATCH_SIZE, 2 * cells, config.hidden_dim)
    assert pos.shape == (1, 2 * cells, config.hidden_dim)
    # The per-camera embedding makes the same cell of different cameras distinguishable.
    assert not torch.equal(pos[0, :cells], pos[0, cells:])


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("dec_layers", [1, 2])
def test_every_trainable_parameter_gets_a_finite_gradient(kind: str, dec_layers: int) -> None:
    config = tiny_config(dec_layers=dec_layers)
    model = make_model(kind, config)
    losses = training_loss(model, make_batch(config), kl_weight=config.kl_weight)
    assert all(torch.isfinite(value).all() for value in losses.values())
    losses["loss"].backward()

    # The first decoder layer's input is all zeros (as in ACT/DETR), so at initialisation its
    # self-attention outputs the (zero-initialised) value/out-projection biases for every query:
    # the q/k/v and out projection weights and norm1's scale get exactly-zero gradients. This is
    # inherent to the architecture; every other parameter must get a non-zero gradient.
    zero_grad_allowed = {
        "decoder.layers.0.self_attn.in_proj_weight",
        "decoder.layers.0.self_attn.out_proj.weight",
        "decoder.layers.0.norm1.weight",
    }
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for name, parameter in trainable:
        assert parameter.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{name} has a non-finite gradient"
        if name not in zero_grad_allowed:
            assert parameter.grad.abs().sum() > 0, f"{name} got an all-zero gradient"
    decoder_layers_with_grad = {
        name.split(".")[2] for name, p in trainable if name.startswith("decoder.layers.") and p.grad is not None
    }
    assert decoder_layers_with_grad == {str(index) for index in range(dec_layers)}


# ---------------------------------------------------------------- loss


def test_padded_steps_do_not_change_the_loss() -> None:
    config = tiny_config()
    model = make_model("standard", config)
    batch = make_batch(config)
    pred_actions, mu, logvar = model(**batch)
    is_pad = batch["is_pad"]
    target = batch["action_chunk"]
    reference = act_loss(pred_actions, target, is_pad, mu, logvar, kl_weight=10.0)

    pad_mask = is_pad.unsqueeze(-1).expand_as(target)
    changed_target = torch.where(pad_mask, torch.full_like(target, 1e3), target)
    changed_pred = torch.where(pad_mask, torch.full_like(pred_actions, -math.inf), pred_actions)
    changed = act_loss(changed_pred, changed_target, is_pad, mu, logvar, kl_weight=10.0)
    for key in ("loss", "l1", "kl"):
        assert torch.equal(reference[key], changed[key]), key

    # L1 is the mean over non-padded entries only.
    valid_errors = (pred_actions - target).abs()[~is_pad]  # (num_valid_steps, A)
    assert torch.allclose(reference["l1"], valid_errors.mean())


def test_padded_actions_do_not_change_the_posterior() -> None:
    config = tiny_config()
    model = make_model("standard", config).eval()
    batch = make_batch(config)
    changed_actions = batch["action_chunk"].clone()
    changed_actions[batch["is_pad"]] = 123.0
    with torch.no_grad():
        _, mu, logvar = model(**batch)
        _, changed_mu, changed_logvar = model(**{**batch, "action_chunk": changed_actions})
    torch.testing.assert_close(mu, changed_mu, rtol=0, atol=1e-6)
    torch.testing.assert_close(logvar, changed_logvar, rtol=0, atol=1e-6)
    # ...while a change at a non-padded step does change it.
    changed_actions[2, 0] += 1.0
    with torch.no_grad():
        _, changed_mu, _ = model(**{**batch, "action_chunk": changed_actions})
    assert not torch.allclose(mu, changed_mu)


def test_kl_matches_closed_form() -> None:
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # Per element: 0.5 * (var + mu^2 - 1 - log var); summed over dims, averaged over the batch.
    row_0 = 0.5 * (1 + 1 - 1 - 0) + 0.5 * (2 + 0 - 1 - math.log(2.0))
    row_1 = 0.5 * (1 + 0 - 1 - 0) + 0.5 * (1 + 4 - 1 - 0)
    expected_kl = (row_0 + row_1) / 2
    pred = torch.zeros(2, 3, 1)
    target = torch.ones(2, 3, 1)
    is_pad = torch.zeros(2, 3, dtype=torch.bool)
    losses = act_loss(pred, target, is_pad, mu, logvar, kl_weight=10.0)
    assert losses["kl"].item() == pytest.approx(expected_kl, rel=1e-6)
    assert losses["l1"].item() == pytest.approx(1.0)
    assert losses["loss"].item() == pytest.approx(1.0 + 10.0 * expected_kl, rel=1e-6)


def test_l1_per_dimension_averages_to_the_l1_and_ignores_padding() -> None:
    pred = torch.zeros(2, 3, 4)
    target = torch.tensor([1.0, 2.0, 0.0, -4.0]).expand(2, 3, 4).clone()
    is_pad = torch.tensor([[False, False, True], [False, True, True]])
    target[is_pad] = 100.0  # padded steps must not count
    losses = act_loss(pred, target, is_pad, None, None, kl_weight=10.0)
    assert losses["l1_per_dim"].tolist() == pytest.approx([1.0, 2.0, 0.0, 4.0])
    assert losses["l1"].item() == pytest.approx(losses["l1_per_dim"].mean().item())


def test_l2_and_huber_reconstruction_ignore_padding_and_keep_the_l1_metric() -> None:
    pred = torch.zeros(1, 3, 2)
    target = torch.tensor([[[0.5, -3.0], [0.1, 2.0], [50.0, 50.0]]])  # (1, 3, 2), last step padded
    is_pad = torch.tensor([[False, False, True]])
    errors = torch.tensor([0.5, 3.0, 0.1, 2.0])
    l1 = act_loss(pred, target, is_pad, None, None, kl_weight=10.0)
    l2 = act_loss(pred, target, is_pad, None, None, kl_weight=10.0, reconstruction="l2")
    huber = act_loss(pred, target, is_pad, None, None, kl_weight=10.0, reconstruction="huber", huber_delta=1.0)
    assert l1["loss"].item() == pytest.approx(errors.mean().item())
    assert l2["loss"].item() == pytest.approx(errors.pow(2).mean().item())
    # quadratic below delta (0.5 e² / delta), L1 less delta / 2 above it
    assert huber["loss"].item() == pytest.approx((0.125 + 2.5 + 0.005 + 1.5) / 4)
    for losses in (l2, huber):  # the logged L1 is the L1 whatever the loss
        assert losses["l1"].item() == pytest.approx(l1["l1"].item())
        assert losses["l1_per_dim"].tolist() == pytest.approx(l1["l1_per_dim"].tolist())


def test_huber_lets_a_small_error_on_a_still_target_pull_weakly_where_l1_pulls_fully() -> None:
    """The reason for the option: a prediction 0.01 off a target of 0 gets L1's full unit gradient
    (as much as an error of 3), and a hundredth of it under Huber with delta 1."""
    target = torch.tensor([[[0.0], [3.0]]])  # (1, 2, 1): a still step and a moving one
    is_pad = torch.zeros(1, 2, dtype=torch.bool)
    gradients = {}
    for kind in ("l1", "huber"):
        pred = torch.tensor([[[0.01], [0.0]]], requires_grad=True)
        act_loss(pred, target, is_pad, None, None, kl_weight=0.0, reconstruction=kind)["loss"].backward()
        gradients[kind] = pred.grad.flatten().tolist()
    assert gradients["l1"] == pytest.approx([0.5, -0.5])
    assert gradients["huber"] == pytest.approx([0.005, -0.5])


def test_unknown_reconstruction_loss_is_refused() -> None:
    pred = torch.zeros(1, 2, 1)
    is_pad = torch.zeros(1, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="reconstruction loss must be one of l1, l2, huber"):
        act_loss(pred, pred, is_pad, None, None, kl_weight=0.0, reconstruction="mse")
    with pytest.raises(ValueError, match="huber_delta must be positive"):
        act_loss(pred, pred, is_pad, None, None, kl_weight=0.0, reconstruction="huber", huber_delta=0.0)


def test_kl_is_zero_without_latent() -> None:
    pred = torch.zeros(2, 3, 1)
    target = torch.full((2, 3, 1), 0.5)
    losses = act_loss(pred, target, torch.zeros(2, 3, dtype=torch.bool), None, None, kl_weight=10.0)
    assert losses["kl"].item() == 0.0
    assert losses["loss"].item() == pytest.approx(0.5)


# ---------------------------------------------------------------- what the CVAE encoder sees


@pytest.mark.parametrize(("kind", "depends_on_images"), [("modified", True), ("standard", False)])
def test_posterior_depends_on_images_only_for_modified(kind: str, depends_on_images: bool) -> None:
    config = tiny_config()
    model = make_model(kind, config).eval()
    batch = make_batch(config)
    other_images = make_batch(config, seed=1)["images"]
    with torch.no_grad():
        _, mu, _ = model(**batch)
        _, mu_other_images, _ = model(**{**batch, "images": other_images})
    if depends_on_images:
        assert not torch.allclose(mu, mu_other_images)
    else:
        assert torch.equal(mu, mu_other_images)


def _kl_gradient_into_backbone(kind: str, config: ACTConfig) -> tuple[float, torch.Tensor]:
    """(norm of d KL / d backbone weights, mu) for one fixed batch and initialisation."""
    model = make_model(kind, config).eval()  # eval: no dropout, so two configs give the same forward
    _, mu, logvar = model(**make_batch(config))
    kl_to_standard_normal(mu, logvar).backward()
    grads = [p.grad.flatten() for p in model.backbone.parameters() if p.grad is not None]
    return (torch.cat(grads).norm().item() if grads else 0.0), mu.detach()


def test_detached_cvae_images_keep_the_posterior_but_stop_the_kl_gradient_into_the_backbone() -> None:
    """Modified ACT's KL term trains the shared backbone through the image tokens unless
    cvae_image_grad=False; the posterior itself is the same either way, and Standard's KL term
    never reaches the backbone."""
    flowing, mu = _kl_gradient_into_backbone("modified", tiny_config())
    detached, mu_detached = _kl_gradient_into_backbone("modified", tiny_config(cvae_image_grad=False))
    standard, _ = _kl_gradient_into_backbone("standard", tiny_config())
    assert flowing > 0.0 and detached == 0.0 and standard == 0.0
    assert torch.equal(mu, mu_detached)
    with pytest.raises(TypeError, match="cvae_image_grad"):
        tiny_config(cvae_image_grad="no")


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_inference_uses_zero_latent(kind: str) -> None:
    config = tiny_config()
    model = make_model(kind, config).eval()
    batch = make_batch(config)
    latent_inputs = []
    model.latent_out_proj.register_forward_hook(lambda module, args, output: latent_inputs.append(args[0]))
    with torch.no_grad():
        torch.manual_seed(1)
        first, _, _ = model(batch["qpos"], batch["images"])
        torch.manual_seed(2)
        second, _, _ = model(batch["qpos"], batch["images"])
    assert torch.equal(first, second)
    assert all(torch.equal(z, torch.zeros(BATCH_SIZE, config.latent_dim)) for z in latent_inputs)


# ---------------------------------------------------------------- contracts


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_forward_does_not_modify_inputs(kind: str) -> None:
    config = tiny_config()
    model = make_model(kind, config)
    batch = make_batch(config)
    originals = {key: value.clone() for key, value in batch.items()}
    training_loss(model, batch, kl_weight=10.0)["loss"].backward()
    model.eval()
    with torch.no_grad():
        model(batch["qpos"], batch["images"])
    for key, value in batch.items():
        assert torch.equal(value, originals[key]), f"forward modified {key}"


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("backbone_norm", ["group", "batch"])
def test_save_load_gives_identical_outputs(kind: str, backbone_norm: str, tmp_path) -> None:
    config = tiny_config(backbone_norm=backbone_norm)
    model = make_model(kind, config, seed=0)
    batch = make_batch(config)
    # One perturbed training step so BatchNorm running statistics and weights leave their init.
    training_loss(model, batch, kl_weight=10.0)["loss"].backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * parameter.grad.sign())
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)

    restored = make_model(kind, config, seed=1).eval()
    model.eval()
    with torch.no_grad():
        expected = model(batch["qpos"], batch["images"])[0]
        assert not torch.equal(restored(batch["qpos"], batch["images"])[0], expected)
        restored.load_state_dict(torch.load(path, weights_only=True))
        assert torch.equal(restored(batch["qpos"], batch["images"])[0], expected)
        _, mu, logvar = model(**batch)
        _, restored_mu, restored_logvar = restored(**batch)
    assert torch.equal(mu, restored_mu) and torch.equal(logvar, restored_logvar)


def run_three_steps(kind: str, config: ACTConfig, seed: int) -> list[float]:
    model = make_model(kind, config, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = make_batch(config)
    losses = []
    for _ in range(3):
        loss = training_loss(model, batch, kl_weight=10.0)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_same_seed_gives_identical_losses() -> None:
    config = tiny_config()
    first = run_three_steps("modified", config, seed=3)
    assert first == run_three_steps("modified", config, seed=3)
    assert first != run_three_steps("modified", config, seed=4)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_overfits_one_batch(kind: str) -> None:
    # Dropout off: this checks that the model can memorise, and dropout noise only slows that down.
    # Both the total loss and the L1 term must drop to 1/5, so a collapsing KL alone cannot pass.
    config = tiny_config(dropout=0.0)
    model = make_model(kind, config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = make_batch(config)
    initial = None
    for _ in range(200):
        losses = training_loss(model, batch, kl_weight=1.0)
        initial = initial or {key: losses[key].item() for key in ("loss", "l1", "kl")}
        if losses["loss"].item() <= initial["loss"] / 5 and losses["l1"].item() <= initial["l1"] / 5:
            break
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    assert losses["loss"].item() <= initial["loss"] / 5, f"loss {losses['loss'].item():.4f} vs {initial}"
    assert losses["l1"].item() <= initial["l1"] / 5, f"l1 {losses['l1'].item():.4f} vs {initial}"


def test_input_validation() -> None:
    config = tiny_config()
    model = make_model("standard", config)
    batch = make_batch(config)
    with pytest.raises(ValueError, match="chunk_size=5"):
        model(**{**batch, "action_chunk": batch["action_chunk"][:, :4], "is_pad": batch["is_pad"][:, :4]})
    with pytest.raises(ValueError, match="camera_names"):
        model(batch["qpos"], batch["images"].repeat(1, 2, 1, 1, 1))
    with pytest.raises(ValueError, match="image_size=64"):
        model(batch["qpos"], batch["images"][..., :32, :32])
    with pytest.raises(ValueError, match="state_dim=4"):
        model(batch["qpos"][:, :3], batch["images"])
    with pytest.raises(ValueError, match="is_pad"):
        model(**{**batch, "is_pad": batch["is_pad"].float()})
    with pytest.raises(ValueError, match="without action_chunk"):
        model(batch["qpos"], batch["images"], is_pad=batch["is_pad"])


def test_act_base_cannot_be_built_directly() -> None:
    with pytest.raises(TypeError, match="cvae_sees_images"):
        ACTBase(tiny_config())


def test_build_model_kinds() -> None:
    config = tiny_config()
    assert type(build_model("standard", config)) is StandardACT
    assert type(build_model("modified", config)) is ModifiedACT
    with pytest.raises(ValueError, match="standard.*modified"):
        build_model("Standard", config)


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hidden_dim": 30, "n_heads": 4}, "not divisible by n_heads"),
        ({"hidden_dim": 34, "n_heads": 2}, "divisible by 4"),
        ({"dropout": 1.0}, r"\[0, 1\)"),
        ({"camera_names": ()}, "non-empty"),
        ({"camera_names": ("a", "a")}, "duplicates"),
        ({"image_size": 16}, "image_size >= 32"),
        ({"chunk_size": 0}, "chunk_size must be a positive integer"),
        ({"backbone": "vit"}, "resnet18"),
        ({"backbone_norm": "layer"}, "group"),
        ({"backbone_norm": "frozen_batch"}, "pretrained_backbone=True"),
        ({"kl_weight": -1.0}, "kl_weight"),
    ],
)
def test_config_rejects_invalid_values(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_config(**overrides)


def test_config_dict_round_trip_and_unknown_keys() -> None:
    config = tiny_config(camera_names=["a", "b"])
    assert config.camera_names == ("a", "b")
    as_dict = json.loads(json.dumps(config.to_dict()))
    assert as_dict["camera_names"] == ["a", "b"]
    assert ACTConfig.from_dict(as_dict) == config
    with pytest.raises(ValueError, match=r"\['hiden_dim'\]"):
        ACTConfig.from_dict({**as_dict, "hiden_dim": 64})


def test_default_config_follows_the_paper() -> None:
    config = ACTConfig()
    assert (config.chunk_size, config.hidden_dim, config.n_heads, config.dim_feedforward) == (100, 512, 8, 3200)
    assert (config.enc_layers, config.dec_layers, config.latent_dim, config.kl_weight) == (4, 1, 32, 10.0)


# ---------------------------------------------------------------- backbone


def test_no_network_without_pretrained_weights(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(backbone_module, "_load_imagenet_state_dict", lambda name: calls.append(name))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *args, **kwargs: calls.append(args))

    def refuse_connection(*args, **kwargs):
        calls.append("socket")
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse_connection)
    build_model("standard", tiny_config(pretrained_backbone=False))
    assert calls == []


def test_missing_pretrained_weights_fall_back_with_a_warning(monkeypatch) -> None:
    def fail(name):
        raise OSError("no internet")

    monkeypatch.setattr(backbone_module, "_load_imagenet_state_dict", fail)
    with pytest.warns(UserWarning, match="ImageNet weights could not be loaded.*no internet"):
        model = make_model("standard", tiny_config(pretrained_backbone=True))
    batch = make_batch(model.config)
    assert model(batch["qpos"], batch["images"])[0].isfinite().all()


@pytest.mark.parametrize("backbone_norm", ["frozen_batch", "group", "batch"])
def test_pretrained_weights_are_copied_into_the_chosen_norm(monkeypatch, backbone_norm: str) -> None:
    torch.manual_seed(0)
    source = torchvision.models.resnet18()
    with torch.no_grad():
        source.bn1.weight.uniform_(0.5, 1.5)
        source.bn1.running_mean.uniform_(-1.0, 1.0)
    monkeypatch.setattr(backbone_module, "_load_imagenet_state_dict", lambda name: source.state_dict())
    model = make_model("standard", tiny_config(pretrained_backbone=True, backbone_norm=backbone_norm), seed=1)
    conv1, bn1 = model.backbone.body[0], model.backbone.body[1]
    assert torch.equal(conv1.weight, source.conv1.weight)
    assert torch.equal(bn1.weight, source.bn1.weight)
    expected_norm = {"frozen_batch": torchvision.ops.misc.FrozenBatchNorm2d,
                     "group": torch.nn.GroupNorm, "batch": torch.nn.BatchNorm2d}[backbone_norm]
    assert all(not isinstance(m, torch.nn.BatchNorm2d) or backbone_norm == "batch" for m in model.modules())
    assert isinstance(bn1, expected_norm)
    if backbone_norm == "frozen_batch":
        assert torch.equal(bn1.running_mean, source.bn1.running_mean)
        assert not any(p.requires_grad for p in model.backbone.parameters() if p.dim() == 1)


# ---------------------------------------------------------------- position embeddings


def test_position_embeddings_are_distinct_and_bounded() -> None:
    grid = sinusoidal_2d(4, 3, 32)
    assert grid.shape == (12, 32)
    assert torch.unique(grid, dim=0).shape[0] == 12
    assert grid.abs().max() <= 1.0
    sequence = sinusoidal_1d(7, 16)
    assert sequence.shape == (7, 16)
    assert torch.equal(sequence[0], torch.tensor([0.0, 1.0] * 8))
