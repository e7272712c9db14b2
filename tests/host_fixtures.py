"""Helpers shared by the host runtime tests: exports, simulated bitstreams, PL hooks."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import torch

from pymodel import build_model, calibrate, perturb_untrained
from pymodel.export import export_hls

from .conftest import require


def require_pynq() -> None:
    require(importlib.util.find_spec("pynq") is not None, "pynq (pip install pynq==4.0.0)")


def require_csim() -> None:
    from sim.csim import ap_types_dir, find_cxx

    require(find_cxx() is not None, "g++")
    require(ap_types_dir() is not None, "ap_types headers (pip install --no-deps hls4ml)")


class Case:
    """A randomised model, two images and its export in one numerics preset."""

    def __init__(
        self, root: Path, preset: str, numerics: str, seed: int = 5, golden: bool = True, **design
    ) -> None:
        from pymodel.export import Design

        self.model = build_model(preset, seed=seed)
        perturb_untrained(self.model, seed)
        cfg = self.model.cfg
        g = torch.Generator().manual_seed(seed + 1)
        self.x = torch.randn(2, cfg.in_chans, *cfg.img_size, generator=g)
        if numerics == "hw16":
            calibrate(self.model, self.x, "hw16")
        self.numerics = numerics
        self.dir = export_hls(
            self.model,
            numerics,
            root / f"{preset}-{numerics}",
            golden_image=self.x[0] if golden else None,
            design=Design().with_(**design) if design else None,
        )

    def image(self, i: int = 1):
        return self.x[i].numpy()


def rewrite_file(bit_dir: Path, key: str, path: Path) -> None:
    """Record a replaced .bit/.hwh in the bitstream manifest (a consistent, other build)."""
    m = json.loads((bit_dir / "manifest.json").read_text())
    m["files"][key]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (bit_dir / "manifest.json").write_text(json.dumps(m))


class CountingPL:
    """A PL hook that counts starts and delegates to ``inner`` (or hangs when None)."""

    def __init__(self, inner=None) -> None:
        self.inner = inner
        self.starts = 0
        self.regs = None

    def __call__(self, regs) -> None:
        self.starts += 1
        self.regs = regs
        if self.inner is not None:
            self.inner(regs)
