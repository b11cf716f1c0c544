"""The synthetic shape images: one shape of the labelled class on each image, seeded."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import attention
from attention.transformer.shape_images import SHAPE_NAMES, make_shape_images


def lit(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rows, cols = (image > 0.5).nonzero(as_tuple=True)
    return rows, cols


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), size=st.integers(8, 20))
def test_each_clean_image_holds_one_shape_of_its_class(seed, size):
    images, labels = make_shape_images(12, torch.Generator().manual_seed(seed),
                                       image_size=size, noise=0.0)
    assert images.shape == (12, 1, size, size) and labels.shape == (12,)
    assert torch.bincount(labels, minlength=4).tolist() == [3, 3, 3, 3]
    for image, label in zip(images[:, 0], labels.tolist()):
        assert set(image.unique().tolist()) == {0.0, 1.0}
        rows, cols = lit(image)
        height = int(rows.max() - rows.min()) + 1
        width = int(cols.max() - cols.min()) + 1
        name = SHAPE_NAMES[label]
        if name == "horizontal bar":
            assert height == 2 and width >= size // 2 and len(rows) == 2 * width
        elif name == "vertical bar":
            assert width == 2 and height >= size // 2 and len(rows) == 2 * height
        elif name == "diagonal":
            offsets = set((rows - cols).tolist())
            assert len(offsets) == 2 and max(offsets) - min(offsets) == 1
        else:  # a hollow square: the border of its bounding box, nothing inside
            assert height == width
            border = (rows == rows.min()) | (rows == rows.max()) | (cols == cols.min()) | (
                cols == cols.max())
            assert border.all() and len(rows) == 4 * (height - 1)


def test_seeded_and_noisy():
    a, la = make_shape_images(8, torch.Generator().manual_seed(1))
    b, lb = make_shape_images(8, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.equal(la, lb)
    clean, _ = make_shape_images(8, torch.Generator().manual_seed(1), noise=0.0)
    assert 0.15 < (a - clean).std() < 0.25  # noise 0.2 by default


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="image_size must be at least 8, got 6"):
        make_shape_images(4, torch.Generator(), image_size=6)
    with pytest.raises(ValueError, match="noise must be non-negative"):
        make_shape_images(4, torch.Generator(), noise=-1.0)
    with pytest.raises(TypeError, match="count must be an integer"):
        make_shape_images(True, torch.Generator())


def test_public_name():
    assert attention.make_shape_images is make_shape_images
