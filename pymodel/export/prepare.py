"""What ``edgemoe export-hls`` does: load or build a model, calibrate it, export it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..config import PRESETS as MODEL_PRESETS
from .design import Design
from .writer import export_hls, sha256_file


def prepare_model(
    preset: str,
    *,
    checkpoint: str | None = None,
    numerics: str = "hw16",
    seed: int = 0,
    calib_images: int = 4,
    data: str | None = None,
    perturb: bool = False,
) -> tuple[Any, torch.Tensor, dict[str, Any]]:
    """Model, calibration images and provenance for an export.

    The model is loaded from ``checkpoint`` (``preset`` fills what its shapes
    cannot tell) or built with seeded random weights; ``perturb`` then also gives
    it non-trivial biases, gains and embeddings (:func:`~pymodel.model.perturb_untrained`).
    A preset that needs calibration (hw16, hw8) is calibrated on ``calib_images``
    images: from ``data`` (a dataset spec) when given, else seeded standard-normal
    images. Returns (model, images, checkpoint_info).
    """
    from ..model import build_model, perturb_untrained
    from ..numerics.forward import calibrate
    from ..numerics.presets import get_preset

    info: dict[str, Any] = {"seed": seed}
    if checkpoint:
        from ..checkpoint import load_checkpoint

        hints = {"preset": preset} if preset in MODEL_PRESETS else {}
        model = load_checkpoint(checkpoint, **hints)
        path = Path(checkpoint)
        info = {"path": str(path), "sha256": sha256_file(path) if path.is_file() else None}
    else:
        model = build_model(preset, seed=seed)
        if perturb:
            perturb_untrained(model, seed)
            info["perturbed"] = True
    cfg = model.cfg
    n = max(1, calib_images)
    if data:
        from ..data import make_dataset

        ds = make_dataset(data, cfg, split="train", seed=seed, num_scenes=n)
        images = torch.stack([ds[i]["image"] for i in range(min(n, len(ds)))])
        info["calibration"] = {"data": data, "images": int(images.shape[0])}
    else:
        gen = torch.Generator().manual_seed(seed)
        images = torch.randn(n, cfg.in_chans, *cfg.img_size, generator=gen)
        info["calibration"] = {"data": "randn", "images": n, "seed": seed}
    if get_preset(numerics).needs_calibration:
        calibrate(model, images, numerics)
    else:
        info.pop("calibration")
    return model, images, info


def export_from_cli(
    preset: str,
    out: str | Path,
    *,
    checkpoint: str | None = None,
    numerics: str = "hw16",
    seed: int = 0,
    calib_images: int = 4,
    data: str | None = None,
    golden: bool = False,
    design: Design | None = None,
) -> Path:
    """Load or build, calibrate, export. With ``golden`` the first calibration image
    and the golden output of every task go to ``golden/`` (for ``hls/tb/tb_main.cpp``)."""
    model, images, info = prepare_model(
        preset,
        checkpoint=checkpoint,
        numerics=numerics,
        seed=seed,
        calib_images=calib_images,
        data=data,
    )
    golden_image = images[0] if golden else None
    return export_hls(
        model, numerics, out, checkpoint_info=info, golden_image=golden_image, design=design
    )
