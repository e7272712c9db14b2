"""pymodel: the M3ViT / Edge-MoE golden model, its numerics contract and exports.

Public entry points::

    from pymodel import build_model, load_checkpoint
    model = build_model("edgemoe-t")          # or a config file, a dict, a ModelConfig
    y = model(images, "semseg")               # task head output (B, C, H, W)
    tokens = model.backbone(images, "depth")  # final tokens (B, 1+N, dim)
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import PRESETS, ConfigError, ModelConfig, get_config
from .model import M3ViT, build_model
from .numerics import NumericsPreset, backbone_forward, calibrate

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
    "load_checkpoint",
    "save_checkpoint",
]
