"""Shared fixtures. Tests never touch the network and do not depend on order."""

from __future__ import annotations

import os

import pytest
import torch

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, what: str) -> None:
    """Skip locally when a tool is missing, but fail in CI (where it must be installed)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but missing")
    pytest.skip(f"{what} not available")


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def tiny_model():
    from pymodel import build_model

    return build_model("tiny", seed=1)


def images(cfg, batch: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    h, w = cfg.img_size
    return torch.randn(batch, cfg.in_chans, h, w, generator=gen)
