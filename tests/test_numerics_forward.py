"""The golden forward in every numerics preset."""

import pytest
import torch

from pymodel import backbone_forward, build_model, calibrate
from pymodel.numerics import FixedFormat, NumericsPreset, get_preset
from pymodel.numerics.forward import FixedArith, FloatArith, Q, model_bank, run_backbone
from pymodel.numerics.qtorch import OverflowCounter

from .conftest import images


@pytest.fixture(scope="module")
def model():
    m = build_model("tiny", seed=4)
    calibrate(m, images(m.cfg, batch=4, seed=9))
    return m


def test_float_arith_is_the_model(model):
    """The network description used by every preset computes the PyTorch model."""
    x = images(model.cfg, batch=2)
    for task in model.tasks:
        A = FloatArith(model_bank(model), approx=False, eps=model.cfg.ln_eps)
        out = run_backbone(model, x, model.cfg.task_index(task), A, {})
        ref = model.backbone(x, task).double()
        assert (out - ref).abs().max() < 1e-5


@pytest.mark.parametrize("preset, tol", [("approx", 2e-3), ("edgemoe", 2e-2), ("hw16", 8e-2)])
def test_presets_track_float(model, preset, tol):
    x = images(model.cfg, batch=2)
    ref = backbone_forward(model, x, "semseg", "float").tokens
    res = backbone_forward(model, x, "semseg", preset)
    err = (res.tokens - ref).abs().max() / ref.abs().max()
    assert err < tol
    if preset != "approx":
        assert res.raw is not None and res.raw.dtype == torch.int64
        assert bool((res.raw >= res.fmt.raw_min).all() and (res.raw <= res.fmt.raw_max).all())


def test_fixed_forward_is_deterministic_and_batch_independent(model):
    x = images(model.cfg, batch=3, seed=5)
    for preset in ("edgemoe", "hw16"):
        full = backbone_forward(model, x, 1, preset).raw
        again = backbone_forward(model, x, 1, preset).raw
        alone = backbone_forward(model, x[1:2], 1, preset).raw
        assert torch.equal(full, again)
        assert torch.equal(full[1:2], alone)  # the hardware runs batch 1


def test_scatter_add_does_not_depend_on_expert_order(model):
    preset = get_preset("edgemoe")
    A = FixedArith(model_bank(model), preset, OverflowCounter())
    g = torch.Generator().manual_seed(3)
    fmt = preset.fmt("x", "resid")
    resid = Q(torch.randint(-(2**25), 2**25, (10, 8), generator=g), fmt)
    parts = []
    for _ in range(4):
        tokens = torch.randint(0, 10, (6,), generator=g)
        gate = Q(torch.randint(0, 2**22, (6,), generator=g), preset.fmt("p", "gate_prob"))
        y = Q(torch.randint(-(2**26), 2**26, (6, 8), generator=g), preset.fmt("y", "expert_out"))
        parts.append((tokens, gate, y))
    a = A.combine("c", resid, parts).raw
    b = A.combine("c", resid, parts[::-1]).raw
    assert torch.equal(a, b)


def test_record_gives_every_layer(model):
    x = images(model.cfg, batch=1)
    res = backbone_forward(model, x, 0, "hw16", record=True)
    names = set(res.layers)
    for i in range(model.cfg.depth):
        assert f"blocks.{i}.norm1" in names and f"blocks.{i}.attn.proj" in names
    assert "blocks.1.mlp.combine" in names and "blocks.0.mlp.fc2" in names
    assert "blocks.1.attn.prob" in names and "embed" in names
    assert set(res.routing) == {"blocks.1", "blocks.3"}
    assert all(v.dtype == torch.int64 for v in res.layers.values())
    assert set(res.overflow) >= {"blocks.0.attn.q", "blocks.3.mlp.combine"}


def test_calibration_covers_observed_ranges(model):
    preset = model.numerics_presets["hw16"]
    assert preset.calibrated and preset.overrides
    x = images(model.cfg, batch=2, seed=9)
    A = FloatArith(model_bank(model), approx=False, eps=model.cfg.ln_eps, observe={}, kinds={})
    with torch.no_grad():
        run_backbone(model, x, 0, A, {})
    for name, max_abs in A.observe.items():
        fmt = preset.fmt(name, A.kinds[name])
        assert fmt.width == 16 and max_abs <= fmt.max_value + fmt.lsb, name
    assert str(preset.fmt("blocks.0.attn.prob", "prob")).startswith("ap_ufixed<16,0")
    again = NumericsPreset.from_dict(preset.to_dict())
    assert again == preset


def test_hw16_needs_calibration_and_bad_presets_are_named():
    m = build_model("tiny", seed=0)
    x = images(m.cfg, batch=1)
    with pytest.raises(ValueError, match="calibrat"):
        backbone_forward(m, x, 0, "hw16")
    with pytest.raises(ValueError, match="unknown numerics preset"):
        backbone_forward(m, x, 0, "int4")


def test_saturation_is_counted_not_hidden(model):
    tight = FixedFormat.parse("ap_fixed<8,1,AP_RND_CONV,AP_SAT>")
    base = get_preset("edgemoe")
    preset = NumericsPreset("tight", "fixed", {**base.formats, "resid": tight})
    res = backbone_forward(model, images(model.cfg, batch=1), 0, preset)
    assert res.overflow["embed"]["overflow"] > 0
    assert bool((res.raw <= tight.raw_max).all() and (res.raw >= tight.raw_min).all())


@pytest.mark.parametrize("router", ["task", "single"])
def test_other_routers_in_fixed_point(router):
    m = build_model("tiny", seed=1, router=router, renormalize_gates=(router == "single"))
    x = images(m.cfg, batch=1)
    ref = backbone_forward(m, x, 0, "float").tokens
    res = backbone_forward(m, x, 0, "edgemoe")
    assert (res.tokens - ref).abs().max() / ref.abs().max() < 2e-2


def test_model_forward_with_numerics(model):
    x = images(model.cfg, batch=1)
    for preset in ("float", "approx", "edgemoe", "hw16"):
        y = model(x, "depth", numerics=preset)
        assert y.shape == (1, 1, 48, 64) and y.dtype == torch.float32


@pytest.mark.parametrize("preset", ["edgemoe", "hw16"])
def test_overflow_counts_are_the_same_in_every_call(model, preset):
    """Weights are quantised once and cached, but their saturation is reported in every
    forward; recording layers does not change the integers or the counts."""
    x = images(model.cfg, batch=3, seed=11)
    first = backbone_forward(model, x, 1, preset)
    again = backbone_forward(model, x, 1, preset)
    recorded = backbone_forward(model, x, 1, preset, record=True)
    assert torch.equal(again.raw, recorded.raw)
    assert first.overflow == again.overflow == recorded.overflow
    assert "patch.w" in again.overflow
