import json

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from pymodel import build_model
from pymodel.cli import main
from pymodel.info import summary

from .conftest import images


@pytest.mark.parametrize(
    "preset, backbone, head, total",
    [
        ("m3vit-s-pascal", 31.80, 51.99, 83.79),
        ("m3vit-s-nyud", 39.20, 61.30, 100.51),
    ],
)
def test_official_mac_counts(preset, backbone, head, total):
    m = summary(preset)["macs"]["semseg"]
    assert round(m["backbone"] / 1e9, 2) == backbone
    assert round(m["head"] / 1e9, 2) == head
    assert round(m["total"] / 1e9, 2) == total


def test_edgemoe_t_anchor():
    s = summary("edgemoe-t")
    assert round(s["macs"]["semseg"]["backbone"] / 1e9, 2) == 0.78
    # about 35 MB of 16-bit backbone weights if every expert is touched (ANCHORS.md)
    assert 34e6 < s["backbone_weight_bytes"] < 37e6


def _math_sdpa(q, k, v, *args, **kwargs):
    return torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1) @ v


@pytest.mark.parametrize("router", ["multi", "task", "single"])
@pytest.mark.parametrize("layout", [(4, 4), (2, 1)])
def test_analytic_macs_match_counted_products(monkeypatch, router, layout):
    """Count every matmul/conv of a real forward; the analytic count adds only the
    gate-weighted combination (elementwise in the code, k*dim MACs per token)."""
    model = build_model(
        "tiny", seed=0, router=router, head_convs=layout[0], head_upsamples=layout[1]
    )
    monkeypatch.setattr(F, "scaled_dot_product_attention", _math_sdpa)
    for _, moe in model.backbone.moe_layers():
        moe.batched_queue_limit = 0  # one product per queue: no padded rows counted
    s = summary(model.cfg)
    for task in model.tasks:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(images(model.cfg, batch=1), task)
        counted = counter.get_total_flops() // 2
        assert counted == s["macs"][task]["total"] - s["backbone_macs_by_part"]["combine"]


def test_params_counted_on_real_modules():
    model = build_model("tiny")
    s = summary("tiny")
    assert s["params"] == sum(p.numel() for p in model.parameters())
    experts = sum(p.numel() for _, m in model.backbone.moe_layers() for p in m.experts.parameters())
    assert s["params_by_part"]["experts"] == experts
    assert s["expert_weight_bytes"] == 2 * experts


def test_cli_info_json(capsys):
    assert main(["info", "m3vit-s-nyud", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["macs"]) == {"semseg", "depth"}
    assert set(data["macs"]["depth"]) == {"backbone", "head", "total"}
    assert isinstance(data["params"], int) and data["params"] > 40_000_000


def test_cli_info_text_and_errors(capsys):
    assert main(["info", "edgemoe-t"]) == 0
    out = capsys.readouterr().out
    assert "GMAC" in out and "semseg" in out and "0.78" in out
    assert main(["info", "vit-giant"]) == 2
    assert "neither a preset" in capsys.readouterr().err
