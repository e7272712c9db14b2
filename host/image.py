"""Pictures in, model inputs out: read a PNG/JPEG or .npy and normalise it as training does.

The same steps as ``pymodel.data.normalize_image`` (checked equal by the tests),
without torch: RGB, bilinear resize to the model's (H, W) with PIL, scale to
[0, 1], ImageNet mean/std per channel, (3, H, W) float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def normalize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, h, w) float32: bilinear resize, ImageNet normalisation."""
    from PIL import Image

    h, w = size
    if rgb.shape[:2] != (h, w):
        rgb = np.array(Image.fromarray(rgb).resize((w, h), Image.BILINEAR))
    x = (rgb.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def load_image(path: str | Path, size: tuple[int, int], channels: int = 3) -> np.ndarray:
    """A model input (channels, H, W) float32 from a picture or a ``.npy``.

    Pictures (PNG, JPEG, ...) are converted to RGB and normalised (:func:`normalize`);
    a ``.npy`` must already hold the normalised (C, H, W) array (it is checked).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image file {path} does not exist")
    if path.suffix == ".npy":
        x = np.load(path, allow_pickle=False)
        if x.shape != (channels, *size):
            raise InputError(f"{path}: array of shape {x.shape}, expected {(channels, *size)}")
        return x
    if channels != 3:
        raise InputError(f"the model takes {channels} channels: pass a .npy, not a picture")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: not a readable picture ({exc})") from None
    return normalize(rgb, size)
