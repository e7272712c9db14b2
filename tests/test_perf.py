"""The performance and resource models (MODELLED figures) against hand-computed cases."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from pymodel.config import PRESETS
from pymodel.export.design import Design, HlsMaxima
from pymodel.perf.ddr import Ddr
from pymodel.perf.dse import GRID, default_workloads, explore, widths_for
from pymodel.perf.model import Widths, estimate
from pymodel.perf.resources import BOARDS, fit, resources
from pymodel.perf.units import DEPTH, SM_STALL, LinearSpec, linear, linear_jobs, softmax_statistics

SMALL = Design(
    mac_rows=8, mac_in=16, mac_out=8, token_block=16, query_block=8, softmax_lanes=8,
    prob_lanes=16, epilogue_lanes=64, weight_ports=1, hidden_chunk=32,
)  # fmt: skip


def test_one_linear_layer_by_hand():
    """16 rows x 32 inputs -> 16 outputs, 16-bit, one weight port, DDR latency 128.

    Tiles of TO = 8 outputs: 2 tiles; row groups of 8: 2 groups; 32 / 16 = 2 MAC
    cycles per group (the epilogue's 8 x 8 / 64 = 1 cycle hides under them);
    pipeline fetch 2 + MAC 4 + epilogue 2 = 8 cycles per tile: a tile computes in
    2 x 2 + 8 = 12 cycles. A weight row is 32 words = 4 beats, a tile 8 rows = 32
    beats; the port sustains one beat per cycle (16 bursts x 64 beats outstanding
    cover the 128-cycle latency), so tile 0 arrives at 128 + 32 = 160 and tile 1 at
    192. The region starts at 8 (handshakes), the bias takes 16 / 8 = 2 beats:
    tile 0 runs 160..172, tile 1 waits for its weights 192..204; plus the region's
    8 cycles of handshakes on the first job: 204 - 8 + 8 = 204.
    """
    ddr = Ddr(latency_cycles=128)
    c = linear(LinearSpec("fc", rows=16, in_features=32, out_features=16, x_bits=16, w_bits=16),
               SMALL, ddr)  # fmt: skip
    assert (c.tiles, c.groups, c.packed) == (2, 2, False)
    assert c.compute_cycles == 2 * 2 * 2
    assert c.weight_beats == 16 * 4
    assert c.cycles == 204


def test_packed_mode_doubles_the_outputs_per_tile():
    ddr = Ddr()
    wide = linear(LinearSpec("a", 64, 256, 64, 16, 16), SMALL, ddr)
    packed = linear(LinearSpec("a", 64, 256, 64, 8, 8), SMALL, ddr)
    assert packed.packed and not wide.packed
    assert (wide.tiles, packed.tiles) == (8, 4)
    assert packed.compute_cycles * 2 == wide.compute_cycles
    assert packed.weight_beats * 2 == wide.weight_beats  # 8-bit weight words


def test_job_list_hides_the_latency_of_later_jobs():
    ddr = Ddr(latency_cycles=400)
    spec = LinearSpec("e", 8, 64, 32, 16, 16)
    alone = linear(spec, SMALL, ddr).cycles
    listed = linear_jobs([spec, spec, spec], SMALL, ddr)
    assert listed[0].cycles == alone
    assert all(c.cycles < alone - 300 for c in listed[1:])  # latency paid once per list


def test_one_attention_head_by_hand():
    """A head of 13 tokens, head_dim 16, one query block of 8 rows, 16-bit.

    Scores: x = 13 key rows (2 row groups) of 16 inputs (1 MAC cycle per group),
    w = a tile of the 8 queries filled at 16 words per cycle (8 cycles): 8 + 2 x 1
    + 8 (pipeline) = 18 cycles, plus the region's 8 = 26. Values: x = 16 head
    columns (2 groups) of 13 keys padded to 16 (1 MAC cycle), w = the 8 queries'
    probabilities, prefilled: 2 x 1 + 8 + 8 = 18. Statistics: 8 rows on 8 lanes,
    13 keys, SM_STALL cycles per running-max update (2 here), exp and reciprocal.
    """
    ddr = Ddr()
    s = linear(LinearSpec("s", 13, 16, 8, 16, 16, "queries", bias=False), SMALL, ddr)
    v = linear(LinearSpec("v", 16, 13, 8, 16, 16, "prob", bias=False, prefilled=True), SMALL, ddr)
    assert s.cycles == 8 + (2 * 1 + 8) + DEPTH["region"]
    assert v.cycles == (2 * 1 + 8) + DEPTH["region"]
    st = softmax_statistics(8, 13, SMALL, 2.0)
    assert st == 13 + 2 * SM_STALL + DEPTH["exp"] + DEPTH["recip"]


def _lat(cfg, design=None, ddr=None, numerics="hw16"):
    return estimate(cfg, design or Design(), widths_for(numerics), ddr=ddr).latency_ms


def test_latency_grows_with_tokens_dim_and_ddr_latency():
    tiny = PRESETS["tiny"]
    bigger = replace(tiny, img_size=(96, 128))
    wider = replace(tiny, dim=64, num_heads=4)
    assert _lat(bigger) > _lat(tiny)
    assert _lat(wider) > _lat(tiny)
    cfg = PRESETS["edgemoe-t"]
    slow = _lat(cfg, ddr=Ddr(latency_cycles=1024))
    assert slow > _lat(cfg, ddr=Ddr(latency_cycles=128)) > _lat(cfg, ddr=Ddr(latency_cycles=0))
    assert _lat(cfg, ddr=Ddr(efficiency=0.4)) > _lat(cfg)


def test_modelled_latency_stays_above_both_bounds():
    for name in ("edgemoe-t", "m3vit-s-pascal"):
        for numerics in ("hw16", "hw8"):
            est = estimate(PRESETS[name], Design(), widths_for(numerics))
            b = est.bounds()
            assert est.latency_ms > b["compute_ms"] and est.latency_ms > b["weights_ms"]


def test_targets_of_the_default_design():
    """The engine-performance issue's targets, MODELLED with DDR effects at 300 MHz."""
    assert _lat(PRESETS["edgemoe-t"], numerics="hw16") <= 8.0
    assert _lat(PRESETS["m3vit-s-pascal"], numerics="hw8") <= 70.0
    f = fit(resources(Design(), 16), "zcu104", margin=0.10)
    assert f["fits"], f


def test_resource_model_refuses_what_does_not_fit_and_names_it():
    big = Design(mac_rows=16, token_block=144, query_block=48)
    f = fit(resources(big, 16), "zcu104")
    assert not f["fits"] and "dsp" in f["over"]
    assert not fit(resources(Design(), 16), "kv260")["fits"]
    # No URAM on the ZCU102: the buffers map to block RAM.
    u = resources(Design(), 16, "zcu102")
    assert u.uram == 0 and u.bram36 > resources(Design(), 16, "zcu104").bram36
    assert BOARDS["zcu104"].dsp == 1728


def test_dse_picks_the_default_design_on_a_grid_around_it():
    d = Design()
    grid = {k: tuple(sorted({getattr(d, k), *GRID[k][:1]})) for k in
            ("mac_out", "prob_lanes", "weight_ports")}  # fmt: skip
    result = explore(default_workloads(), grid=grid)
    assert result["pick"]["design"] == d
    assert result["front"] and all(p["fits"] for p in result["front"])


def test_perf_cli_json_keys(tmp_path):
    out = tmp_path / "perf.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pymodel.cli", "perf", "edgemoe-t", "--numerics", "hw16",
         "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert r["kind"] == "perf-model" and r["label"] == "modelled"
    for key in ("latency_ms", "clock_mhz", "board", "fits", "resources", "bounds", "layers"):
        assert key in r
    assert set(r["resources"]) >= {"dsp", "bram36", "uram", "lut"}
    assert set(r["bounds"]) == {"compute_ms", "weights_ms"}
    assert all({"name", "cycles"} <= set(x) for x in r["layers"])
    bad = subprocess.run(
        [sys.executable, "-m", "pymodel.cli", "perf", "tiny", "--set", "mac_rows=7"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode != 0 and "invalid design" in bad.stderr


def test_maxima_limit_the_kv_store():
    small = Design(maxima=HlsMaxima(tokens=200))
    assert resources(small, 16).uram < resources(Design(), 16).uram


@pytest.mark.parametrize("numerics", ["hw16", "hw8", "edgemoe"])
def test_widths_of_the_numerics_presets(numerics):
    w = widths_for(numerics)
    assert w.act_w == (32 if numerics == "edgemoe" else 16)
    assert (w.weights <= 8) == (numerics == "hw8")
    assert isinstance(w, Widths)
