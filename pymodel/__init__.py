"""pymodel: the M3ViT / Edge-MoE golden model, its numerics contract and exports.

Public entry points::

    from pymodel import build_model, load_checkpoint
    model = build_model("edgemoe-t")          # or a config file, a dict, a ModelConfig
    y = model(images, "semseg")               # task head output (B, C, H, W)
    tokens = model.backbone(images, "depth")  # final tokens (B, 1+N, dim)

Imports are lazy: ``import pymodel.numerics.fixed`` (the ap_fixed emulation,
numpy only) does not import torch, so the host runtime can use the numerics
contract on a board image without PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CheckpointError": ".checkpoint",
    "load_checkpoint": ".checkpoint",
    "save_checkpoint": ".checkpoint",
    "PRESETS": ".config",
    "ConfigError": ".config",
    "ModelConfig": ".config",
    "get_config": ".config",
    "M3ViT": ".model",
    "build_model": ".model",
    "perturb_untrained": ".model",
    "NumericsPreset": ".numerics.presets",
    "backbone_forward": ".numerics.forward",
    "calibrate": ".numerics.forward",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pymodel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "M3ViT",
    "NumericsPreset",
    "backbone_forward",
    "calibrate",
    "ModelConfig",
    "build_model",
    "get_config",
    "perturb_untrained",
    "load_checkpoint",
    "save_checkpoint",
]
