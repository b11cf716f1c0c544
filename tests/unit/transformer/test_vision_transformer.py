"""The Vision Transformer: patchify against independent references, the model against torch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import attention
from attention.transformer.layers import EncoderLayer
from attention.transformer.vision_transformer import VisionTransformer, patchify


def loop_patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    """Patches in float64 by loops: patch row, patch column, channel, pixel row, pixel column."""
    batch, channels, height, width = images.shape
    out = []
    for b in range(batch):
        patches = []
        for r in range(height // p):
            for c in range(width // p):
                values = [float(images[b, ch, r * p + i, c * p + j])
                          for ch in range(channels) for i in range(p) for j in range(p)]
                patches.append(values)
        out.append(patches)
    return torch.tensor(out, dtype=torch.float64)


def small_vit(**options) -> VisionTransformer:
    torch.manual_seed(0)
    settings_ = {"image_size": 8, "patch_size": 4, "channels": 2, "num_classes": 3,
                 "d_model": 16, "num_heads": 2, "num_layers": 2, "d_ff": 32}
    settings_.update(options)
    return VisionTransformer(**settings_).eval()


@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 3), channels=st.integers(1, 3), rows=st.integers(1, 3),
       cols=st.integers(1, 3), p=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_patchify_matches_a_float64_loop_and_unfold(batch, channels, rows, cols, p, seed):
    torch.manual_seed(seed)
    images = torch.randn(batch, channels, rows * p, cols * p, dtype=torch.float64)
    patches = patchify(images, p)  # (batch, rows * cols, channels * p * p)
    assert patches.shape == (batch, rows * cols, channels * p * p)
    assert torch.equal(patches, loop_patchify(images, p))
    unfolded = F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)
    assert torch.equal(patches, unfolded)


def test_patchify_errors_name_the_argument_and_shape():
    with pytest.raises(ValueError, match=r"patch_size=3 .*\(1, 1, 8, 8\)"):
        patchify(torch.zeros(1, 1, 8, 8), 3)
    with pytest.raises(ValueError, match=r"images must have shape .*\(8, 8\)"):
        patchify(torch.zeros(8, 8), 4)
    with pytest.raises(TypeError, match="images must be floating point"):
        patchify(torch.zeros(1, 1, 8, 8, dtype=torch.long), 4)
    with pytest.raises(TypeError, match="patch_size must be an integer"):
        patchify(torch.zeros(1, 1, 8, 8), 2.0)
    with pytest.raises(ValueError, match="patch_size=0"):
        patchify(torch.zeros(1, 1, 8, 8), 0)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_shapes_and_stored_weights(pool):
    vit = small_vit(pool=pool)
    images = torch.randn(5, 2, 8, 8)
    assert vit(images).shape == (5, 3)
    length = 4 + (pool == "cls")
    assert vit.encode(images).shape == (5, length, 16)
    vit(images, need_weights=True)
    weights = vit.layers[-1].weights["self"]
    assert weights.shape == (5, 2, length, length)
    torch.testing.assert_close(weights.sum(-1), torch.ones(5, 2, length))


def test_matches_torch_encoder_layers_assembled_by_hand():
    """Patch embedding, class token, positions, torch's pre-norm layers, norm, head: by hand."""
    vit = small_vit(num_classes=4)
    torch.manual_seed(1)
    theirs = [nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True,
                                         norm_first=True).eval() for _ in range(2)]
    vit.layers = nn.ModuleList(EncoderLayer.from_torch(layer) for layer in theirs)
    images = torch.randn(3, 2, 8, 8)
    patch_mask = torch.tensor([[True] * 4, [True, False, True, False], [False, False, False, True]])

    x = F.unfold(images, 4, stride=4).transpose(1, 2) @ vit.embed.weight.T + vit.embed.bias
    x = torch.cat([vit.class_token.expand(3, 1, 16), x], dim=1) + vit.position
    blocked = ~torch.cat([torch.ones(3, 1, dtype=torch.bool), patch_mask], dim=1)
    for layer in theirs:
        x = layer(x, src_key_padding_mask=blocked)
    expected = vit.head(vit.norm(x)[:, 0])
    with torch.no_grad():
        torch.testing.assert_close(vit(images, patch_mask), expected, atol=1e-5, rtol=1e-5)


@settings(max_examples=20, deadline=None)
@given(hidden=st.lists(st.booleans(), min_size=4, max_size=4).filter(lambda h: not all(h)),
       pool=st.sampled_from(["cls", "mean"]), seed=st.integers(0, 2**16))
def test_hidden_patches_change_nothing(hidden, pool, seed):
    vit = small_vit(pool=pool)
    torch.manual_seed(seed)
    images = torch.randn(1, 2, 8, 8)
    patch_mask = ~torch.tensor([hidden])  # (1, 4): True at real patches
    other = images.clone()
    for n, is_hidden in enumerate(hidden):  # new content in the hidden patches
        if is_hidden:
            r, c = divmod(n, 2)
            other[..., 4 * r:4 * r + 4, 4 * c:4 * c + 4] = 10 * torch.randn(2, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(vit(images, patch_mask), vit(other, patch_mask))
        if any(hidden):  # without the mask the new content does count
            assert not torch.allclose(vit(images), vit(other), atol=1e-4)


def test_all_real_patch_mask_is_no_mask():
    vit = small_vit(pool="mean")
    images = torch.randn(2, 2, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(vit(images, torch.ones(2, 4, dtype=torch.bool)), vit(images))


def _shuffle_patches(images: torch.Tensor, order: torch.Tensor, p: int) -> torch.Tensor:
    batch, channels, size, _ = images.shape
    n = size // p
    grid = patchify(images, p)[:, order]  # (batch, patches, channels * p * p)
    grid = grid.reshape(batch, n, n, channels, p, p).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(batch, channels, size, size)


@settings(max_examples=20, deadline=None)
@given(order=st.permutations(list(range(4))), pool=st.sampled_from(["cls", "mean"]))
def test_without_positions_permuting_patches_permutes_outputs(order, pool):
    vit = small_vit(positions=False, pool=pool)
    order = torch.tensor(order)
    images = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    shuffled = _shuffle_patches(images, order, 4)
    assert torch.equal(patchify(shuffled, 4), patchify(images, 4)[:, order])
    with torch.no_grad():
        start = int(pool == "cls")
        torch.testing.assert_close(vit.encode(shuffled)[:, start:],
                                   vit.encode(images)[:, start:][:, order], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(vit(shuffled), vit(images), atol=1e-5, rtol=1e-5)


def test_with_positions_permuting_patches_changes_the_scores():
    vit = small_vit()
    with torch.no_grad():
        vit.position.normal_()  # trained positions are far from the small initial ones
    images = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    shuffled = _shuffle_patches(images, torch.tensor([3, 2, 1, 0]), 4)
    with torch.no_grad():
        assert not torch.allclose(vit(shuffled), vit(images), atol=1e-3)


def test_gradients_reach_every_parameter_and_match_finite_differences():
    vit = small_vit(num_layers=1).double()
    images = torch.randn(2, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda x: vit(x), (images,))
    vit(images.detach()).sum().backward()
    for name, parameter in vit.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_input_errors_name_the_argument_and_shape():
    vit = small_vit()
    with pytest.raises(ValueError, match=r"shape \(batch, 2, 8, 8\), got \(1, 1, 8, 8\)"):
        vit(torch.zeros(1, 1, 8, 8))
    with pytest.raises(TypeError, match="images must be floating point"):
        vit(torch.zeros(1, 2, 8, 8, dtype=torch.long))
    with pytest.raises(TypeError, match="patch_mask must be a bool tensor"):
        vit(torch.zeros(1, 2, 8, 8), torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"patch_mask .*\(batch=1, num_patches=4\), got \(1, 5\)"):
        vit(torch.zeros(1, 2, 8, 8), torch.ones(1, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="patch_size=3 must be positive and divide image_size=8"):
        small_vit(patch_size=3)
    with pytest.raises(ValueError, match="pool must be 'cls' or 'mean'"):
        small_vit(pool="max")


def test_a_failed_call_changes_no_state():
    vit = small_vit()
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    with pytest.raises(ValueError):
        vit(torch.zeros(1, 1, 8, 8))
    assert all(torch.equal(before[k], v) for k, v in vit.state_dict().items())


def test_public_names():
    assert attention.VisionTransformer is VisionTransformer
    assert attention.patchify is patchify
