"""A small Vision Transformer (Dosovitskiy et al., 2021): an image read as a sequence of patches.

The image is cut into square patches, each patch is flattened and projected to
a `d_model`-sized vector (the "patch embedding", one linear map shared by all
patches), a learned vector for its position is added, and the sequence of
patches goes through the encoder layers of the Transformer, with
bidirectional self-attention: every patch may attend to every other. The
image's class is read from one vector: either a learned *class token* put in
front of the patches (the paper's choice), whose output has gathered from
every patch through attention, or the mean of the patches' outputs.

Without the learned positions, self-attention cannot tell where a patch is:
permuting the patches permutes the outputs, and the class-token or mean
output does not change at all.
"""

from __future__ import annotations

import torch
from torch import nn

from attention.transformer.layers import EncoderLayer
from attention.validation import (
    check_bool, check_count, check_float_tensor, check_module_dtype, check_positive,
)


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into square patches, row by row, each patch flattened.

    Args:
        images: `(batch, channels, height, width)`, floating point.
        patch_size: the side P of a patch; must divide height and width.

    Returns:
        `(batch, num_patches, channels * P * P)` with num_patches =
        (height / P) * (width / P). Patch n is the one in patch-row n // (width / P)
        and patch-column n % (width / P); its vector lists channel 0's P x P
        pixels row by row, then channel 1's, and so on (the order of
        `torch.nn.functional.unfold`).

    Examples:
        >>> images = torch.arange(16.0).reshape(1, 1, 4, 4)   # (batch, channels, H, W)
        >>> patchify(images, 2)                               # 4 patches of 2 x 2 pixels
        tensor([[[ 0.,  1.,  4.,  5.],
                 [ 2.,  3.,  6.,  7.],
                 [ 8.,  9., 12., 13.],
                 [10., 11., 14., 15.]]])
    """
    check_float_tensor("images", images)
    patch_size = check_count("patch_size", patch_size)
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (batch, channels, height, width), got {tuple(images.shape)}"
        )
    batch, channels, height, width = images.shape
    if patch_size == 0 or height % patch_size or width % patch_size:
        raise ValueError(
            f"patch_size={patch_size} must be positive and divide the image's height and "
            f"width, got images of shape {tuple(images.shape)}"
        )
    rows, cols = height // patch_size, width // patch_size
    x = images.reshape(batch, channels, rows, patch_size, cols, patch_size)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (batch, rows, cols, channels, P, P)
    return x.reshape(batch, rows * cols, channels * patch_size * patch_size)


class VisionTransformer(nn.Module):
    """Patch embedding, learned positions, an optional class token, encoder layers, a linear head.

    Args:
        image_size: the side of the (square) input images, in pixels.
        patch_size: the side of a patch; must divide image_size.
        channels: colour channels of the images (1 for grey).
        num_classes: the number of classes the head scores.
        d_model: the size of every position's vector.
        num_heads: heads of every self-attention; must divide d_model.
        d_ff: the hidden size of the feed-forward networks.
        num_layers: the number of encoder layers.
        pool: "cls" to classify from a class token's output, "mean" from the
            mean of the patches' outputs.
        positions: add learned position embeddings (without them the model
            sees the patches as an unordered set).

    Members:
        embed (the patch embedding, `nn.Linear`), class_token `(1, 1, d_model)`
        (pool="cls" only), position `(1, positions, d_model)` (if positions),
        layers (`EncoderLayer`s, pre-norm), norm, head. With `need_weights=True`
        each layer keeps its attention weights in `layer.weights["self"]`,
        `(batch, heads, T, T)`, the class token first when pool="cls".

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> vit = VisionTransformer(image_size=8, patch_size=4, channels=1, num_classes=3,
        ...                         d_model=16, num_heads=2, num_layers=1, d_ff=32)
        >>> images = torch.rand(5, 1, 8, 8)                   # (batch, channels, H, W)
        >>> vit(images).shape                                 # (batch, num_classes)
        torch.Size([5, 3])
        >>> vit.num_patches
        4
    """

    def __init__(
        self, image_size: int, patch_size: int, channels: int, num_classes: int,
        d_model: int, num_heads: int, num_layers: int, d_ff: int, *,
        pool: str = "cls", positions: bool = True,
    ) -> None:
        super().__init__()
        image_size = check_count("image_size", image_size)
        patch_size = check_count("patch_size", patch_size)
        if patch_size == 0 or image_size % patch_size:
            raise ValueError(
                f"patch_size={patch_size} must be positive and divide image_size={image_size}"
            )
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        self.image_size, self.patch_size = image_size, patch_size
        self.channels = check_positive("channels", channels)
        num_classes, positions = check_positive("num_classes", num_classes), check_bool("positions", positions)
        self.pool = pool
        self.num_patches = (image_size // patch_size) ** 2
        self.embed = nn.Linear(self.channels * patch_size * patch_size, d_model)
        length = self.num_patches + (pool == "cls")
        self.class_token = None
        if pool == "cls":
            self.class_token = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)  # (1, 1, d_model)
        self.position = None
        if positions:
            self.position = nn.Parameter(torch.randn(1, length, d_model) * 0.02)  # (1, T, d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads, d_ff, norm_first=True)
            for _ in range(check_count("num_layers", num_layers))
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def _check_images(self, images: torch.Tensor) -> None:
        check_float_tensor("images", images)
        check_module_dtype("images", images, self.embed.weight)
        expected = (self.channels, self.image_size, self.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must have shape (batch, {', '.join(map(str, expected))}), "
                f"got {tuple(images.shape)}"
            )

    def _check_patch_mask(self, patch_mask: torch.Tensor, batch: int) -> None:
        if not isinstance(patch_mask, torch.Tensor) or patch_mask.dtype != torch.bool:
            raise TypeError(
                "patch_mask must be a bool tensor (True = a real patch), got "
                f"{getattr(patch_mask, 'dtype', type(patch_mask).__name__)}"
            )
        if tuple(patch_mask.shape) != (batch, self.num_patches):
            raise ValueError(
                f"patch_mask must have shape (batch={batch}, num_patches={self.num_patches}), "
                f"got {tuple(patch_mask.shape)}"
            )

    def encode(
        self, images: torch.Tensor, patch_mask: torch.Tensor | None = None, *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """Images `(batch, channels, H, W)` -> the final vectors `(batch, T, d_model)`.

        T is num_patches, plus one for the class token (first). `patch_mask`,
        bool `(batch, num_patches)`, True at real patches, hides the others
        (padding, for images smaller than the grid) from every query.
        """
        self._check_images(images)
        batch = images.shape[0]
        x = self.embed(patchify(images, self.patch_size))  # (batch, patches, d_model)
        mask = None
        if patch_mask is not None:
            self._check_patch_mask(patch_mask, batch)
            mask = patch_mask
        if self.class_token is not None:
            x = torch.cat([self.class_token.expand(batch, -1, -1), x], dim=1)  # (batch, T, d)
            if mask is not None:
                mask = torch.cat([mask.new_ones(batch, 1), mask], dim=1)  # (batch, T)
        if self.position is not None:
            x = x + self.position  # (batch, T, d_model)
        key_mask = None if mask is None else mask[:, None, :]  # (batch, 1, T)
        for layer in self.layers:
            x = layer(x, key_mask, need_weights=need_weights)  # (batch, T, d_model)
        return self.norm(x)

    def forward(
        self, images: torch.Tensor, patch_mask: torch.Tensor | None = None, *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """Images `(batch, channels, H, W)` -> class scores `(batch, num_classes)`.

        Args:
            images: the batch of images.
            patch_mask: bool `(batch, num_patches)`, True at real patches; the
                others are hidden from attention and left out of the mean.
            need_weights: keep every layer's attention weights in `layer.weights`.
        """
        x = self.encode(images, patch_mask, need_weights=need_weights)  # (batch, T, d_model)
        if self.pool == "cls":
            return self.head(x[:, 0])  # (batch, num_classes)
        if patch_mask is None:
            return self.head(x.mean(dim=1))
        weights = patch_mask.to(x.dtype)[..., None]  # (batch, patches, 1)
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (batch, d_model)
        return self.head(pooled)
