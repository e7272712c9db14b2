"""bench/bench_rtl.py's kind mapping, scaling and comparison on fake results (no simulation)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_rtl.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_bench_rtl", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_modelled_layer_of_edgemoe_t_maps_to_an_rtl_kind(bench):
    """Every layer of the performance model's edgemoe-t breakdown has a kind, and the
    per-kind sums keep the total; an unknown layer name is refused."""
    from pymodel.config import PRESETS
    from pymodel.perf.report import perf_report
    from sim.cocotb.test_engine import layer_kinds

    r = perf_report(PRESETS["edgemoe-t"])
    kinds = bench.model_kinds(r["layers"], layer_kinds())
    assert sum(kinds.values()) == r["cycles"]
    assert set(kinds) == set(layer_kinds())
    assert kinds["mlp"] > 0 and kinds["experts"] > 0 and kinds["attn"] > 0
    with pytest.raises(ValueError, match="blocks.0.mlp.fc3"):
        bench.model_kind("blocks.0.mlp.fc3")


def test_reduced_depth_and_scale_factors(bench):
    """edgemoe-t (MoE blocks 1, 3, ..., 11) needs 2 blocks, every factor 6; a model whose
    first MoE block is 2 needs 3 blocks: shared kinds x 8/3, dense x 6/2, MoE x 4/1."""
    moe = [1, 3, 5, 7, 9, 11]
    assert bench.smallest_mixed_depth(12, moe) == 2
    f = bench.scale_factors(12, moe, 2)
    assert f["embed"] == f["output"] == 1.0
    assert all(f[k] == 6.0 for k in ("attn", "mlp", "experts", "top"))
    assert bench.smallest_mixed_depth(8, [2, 5, 6, 7]) == 3
    g = bench.scale_factors(8, [2, 5, 6, 7], 3)
    assert (g["attn"], g["mlp"], g["experts"]) == (8 / 3, 2.0, 4.0)
    with pytest.raises(ValueError):
        bench.smallest_mixed_depth(4, [])


def test_comparison_folds_the_shell_into_top_and_flags_kinds_off_by_more_than_15pc(bench):
    """top = shell + K_TOP; a kind 20 % over is flagged, 10 % is not; the total row sums."""
    measured = {"top": 10, "shell": 90, "attn": 1000, "mlp": 500}
    model = {"top": 105, "attn": 1200, "mlp": 550}
    rows = {r["kind"]: r for r in bench.comparison(measured, model)}
    assert "shell" not in rows
    assert rows["top"]["measured"] == 100 and rows["top"]["within"]
    assert rows["attn"]["ratio"] == pytest.approx(1.2) and not rows["attn"]["within"]
    assert rows["mlp"]["within"]
    assert rows["total"]["measured"] == 1600 and rows["total"]["modelled"] == 1855
    full = bench.scaled_full({"embed": 7, "attn": 1000}, {"embed": 1.0, "attn": 6.0}, 400)
    assert full == {"embed": 7, "attn": 6000, "shell": 400}


def test_markdown_labels_measured_scaled_and_modelled_figures(bench):
    """The doc section is rendered from the JSON alone, with each figure's label."""
    measured = {"top": 10, "shell": 90, "attn": 1000}
    rows = bench.comparison(measured, {"top": 100, "attn": 1000})
    result = {
        "numerics": "hw16", "task": 0, "depth": 12, "moe_blocks": [1], "reduced_depth": 2,
        "read_latency": 20, "write_latency": 20, "bandwidth_beats_per_cycle": 3.2,
        "runs": {"reduced": {"sim_s": 12.0, "expected_source": "sim.csim C simulation"}},
        "reduced": {"measured_cycles": 1100, "measured_ms": 1100 / 3e5, "rows": rows},
        "full": {"scaled_cycles": 6600, "scaled_ms": 0.022, "modelled_cycles": 6000,
                 "modelled_ms": 0.02, "rows": rows},
        "targets": {"kinds_within_reduced": True, "kinds_within_full": False,
                    "ms_target": True, "ms_goal": True},
    }  # fmt: skip
    md = bench.markdown({"results": [result]})
    assert "**MEASURED** 1,100 cycles" in md and "**SCALED** 6,600 cycles" in md
    assert "MODELLED" in md and "| attn | 1,000 | 1,000 | 1.00 | yes |" in md
    assert "scaled **no**" in md
