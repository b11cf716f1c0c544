"""A tiny image set generated in code: grey images of one simple shape each, on noise.

Four classes, each a shape drawn at a random place with a random size:

0. a horizontal bar,   1. a vertical bar,
2. a diagonal line (top left to bottom right),   3. a hollow square.

A shape spans several patches of a Vision Transformer, and no single patch
tells the classes apart (a patch can hold the same few lit pixels in a bar
and in a square), so a classifier has to combine patches: the job of
attention. The images are drawn from a seeded generator, so the same seed
gives the same images on every machine.
"""

from __future__ import annotations

import torch

from attention.validation import check_count, check_generator, check_real

SHAPE_NAMES = ("horizontal bar", "vertical bar", "diagonal", "square")


def _draw(kind: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """One shape of class `kind` on a blank `(size, size)` image."""
    image = torch.zeros(size, size)

    def rand(low: int, high: int) -> int:  # an int in [low, high]
        return int(torch.randint(low, high + 1, (), generator=generator))

    if kind in (0, 1):  # a bar 2 pixels thick
        length = rand(size // 2, size - 2)
        along, across = rand(0, size - length), rand(0, size - 2)
        if kind == 0:
            image[across:across + 2, along:along + length] = 1.0
        else:
            image[along:along + length, across:across + 2] = 1.0
    elif kind == 2:  # a diagonal line 2 pixels thick
        length = rand(size // 2, size - 2)
        row, col = rand(0, size - length - 1), rand(0, size - length)
        steps = torch.arange(length)
        image[row + steps, col + steps] = 1.0
        image[row + 1 + steps, col + steps] = 1.0
    else:  # a hollow square
        side = rand(size // 3, size // 2 + 2)
        row, col = rand(0, size - side), rand(0, size - side)
        image[row:row + side, col:col + side] = 1.0
        image[row + 1:row + side - 1, col + 1:col + side - 1] = 0.0
    return image


def make_shape_images(
    count: int, generator: torch.Generator, *, image_size: int = 16, noise: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` images with an equal share of each class, in random order, and their labels.

    Args:
        count: the number of images.
        generator: the source of the shapes, places and noise (seed it).
        image_size: the side of an image in pixels, at least 8.
        noise: the standard deviation of the Gaussian noise added to every pixel.

    Returns:
        `(images, labels)`: float `(count, 1, image_size, image_size)` and int64
        `(count,)` with values in 0..3 (see `SHAPE_NAMES`).

    Examples:
        >>> images, labels = make_shape_images(8, torch.Generator().manual_seed(0))
        >>> images.shape, labels.tolist()
        (torch.Size([8, 1, 16, 16]), [0, 0, 3, 3, 2, 1, 1, 2])
    """
    count = check_count("count", count)
    image_size = check_count("image_size", image_size)
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    if not check_real("noise", noise) >= 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    check_generator(generator)
    labels = torch.arange(count) % len(SHAPE_NAMES)
    labels = labels[torch.randperm(count, generator=generator)]  # (count,)
    images = torch.stack([_draw(int(k), image_size, generator) for k in labels])
    images = images + noise * torch.randn(images.shape, generator=generator)
    return images[:, None], labels  # (count, 1, size, size), (count,)
