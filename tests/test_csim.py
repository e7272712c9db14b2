"""C simulation of the HLS engine (g++) against the golden fixed-point Python, bit for bit.

Every arithmetic unit alone (requantisation, exp, reciprocal, rsqrt, GELU,
online softmax, LayerNorm, top-k, the linear unit), every stage of a block on
golden inputs (patch embedding, LayerNorm, Q/K/V, attention, projection, dense
MLP, MoE with its router), whole forwards of ``tiny`` (both numerics, every
task, every router kind) and ``edgemoe-t`` (both numerics, one task each;
``make csim`` runs every task), refused descriptors, and the C++ testbench. Comparisons are
on raw integers: the count of differing values must be zero.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from pymodel import backbone_forward, build_model, calibrate, perturb_untrained
from pymodel.export import (
    GLOBAL_FIELDS,
    STATUS_CODES,
    encode_format,
    export_hls,
    ln_eps_raw,
)
from pymodel.numerics import FixedFormat, NumericsPreset, OverflowCounter
from pymodel.numerics.forward import FixedArith, Q
from pymodel.numerics.hwmath import (
    exp_fixed,
    gelu_fixed,
    layernorm_fixed,
    online_softmax_fixed,
    recip_fixed,
    rsqrt_fixed,
    topk_fixed,
)
from pymodel.numerics.qtorch import requant

from .conftest import require

QUANTS = (
    "AP_TRN",
    "AP_TRN_ZERO",
    "AP_RND",
    "AP_RND_ZERO",
    "AP_RND_MIN_INF",
    "AP_RND_INF",
    "AP_RND_CONV",
)
OVERFLOWS = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")


# ---------------------------------------------------------------------- fixtures
def _toolchain() -> None:
    from sim.csim import ap_types_dir, find_cxx

    require(find_cxx() is not None, "g++")
    require(ap_types_dir() is not None, "ap_types headers (pip install --no-deps hls4ml)")


def image(cfg, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, cfg.in_chans, *cfg.img_size, generator=g)


class Case:
    """A model, an image, an export and its C simulation for one numerics preset."""

    def __init__(
        self,
        root: Path,
        preset: str,
        numerics: str,
        seed: int = 5,
        golden: bool = False,
        **overrides,
    ) -> None:
        from sim.csim import CSim

        self.model = build_model(preset, seed=seed, **overrides)
        perturb_untrained(self.model, seed)
        self.x = image(self.model.cfg, seed + 1)
        if numerics == "hw16":
            calib = torch.cat([self.x, image(self.model.cfg, seed + 2)])
            calibrate(self.model, calib, "hw16")
        self.numerics = numerics
        out = root / f"{preset}-{numerics}"
        self.dir = export_hls(self.model, numerics, out, golden_image=self.x[0] if golden else None)
        self.sim = CSim(self.dir)
        self._golden: dict[int, object] = {}

    def golden(self, task: int):
        if task not in self._golden:
            self._golden[task] = backbone_forward(
                self.model, self.x, task, self.numerics, record=True
            )
        return self._golden[task]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Case]:
    _toolchain()
    root = tmp_path_factory.mktemp("csim-tiny")
    return {n: Case(root, "tiny", n, golden=True) for n in ("edgemoe", "hw16")}


def mismatches(a, b) -> int:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return int((a != b).sum())


# ------------------------------------------------------------------ math units
def test_requant_all_modes(tiny):
    sim = tiny["edgemoe"].sim
    rng = np.random.default_rng(1)
    cases = 0
    for q in QUANTS:
        for o in OVERFLOWS:
            for _ in range(6):
                w = int(rng.integers(2, 40))
                fmt = FixedFormat(w, int(rng.integers(-8, w + 8)), bool(rng.integers(2)), q, o)
                frac = int(rng.integers(-4, 50))
                raw = np.concatenate(
                    [rng.integers(-(2**50), 2**50, 200), rng.integers(-300, 300, 200), [0, 1, -1]]
                )
                ref = requant(torch.from_numpy(raw), frac, fmt).numpy()
                assert mismatches(sim.requant(raw, frac, fmt), ref) == 0, (fmt, frac)
                cases += raw.size
    assert cases > 10_000


@pytest.mark.parametrize("d_frac", [-3, 0, 8, 16, 22, 30])
def test_exp(tiny, d_frac):
    sim = tiny["edgemoe"].sim
    rng = np.random.default_rng(d_frac + 10)
    lim = 2 ** min(40, d_frac + 8) if d_frac > 0 else 40
    d = -np.concatenate([rng.integers(0, lim, 3000), np.arange(64)])
    ref = exp_fixed(torch.from_numpy(d), d_frac).numpy()
    assert mismatches(sim.exp(d, d_frac), ref) == 0


@pytest.mark.parametrize("frac", [0, 16, 24, 40])
def test_recip_and_rsqrt(tiny, frac):
    sim = tiny["edgemoe"].sim
    rng = np.random.default_rng(frac)
    v = np.concatenate(
        [rng.integers(1, 2**50, 3000), 2 ** np.arange(50), 2 ** np.arange(1, 50) - 1]
    )
    for golden, unit in ((recip_fixed, sim.recip), (rsqrt_fixed, sim.rsqrt)):
        mant, shift = golden(torch.from_numpy(v), frac)
        cm, cs = unit(v, frac)
        assert mismatches(cm, mant.numpy()) == 0 and mismatches(cs, shift.numpy()) == 0


@pytest.mark.parametrize("x_frac", [2, 5, 11, 22])
def test_gelu(tiny, x_frac):
    sim = tiny["edgemoe"].sim
    rng = np.random.default_rng(x_frac)
    x = np.concatenate(
        [rng.integers(-(2**31), 2**31, 3000), rng.integers(-(9 << x_frac), 9 << x_frac, 3000)]
    )
    for fmt in (
        "ap_fixed<32,10>",
        "ap_fixed<16,4,AP_RND_CONV,AP_SAT>",
        "ap_fixed<16,-1,AP_RND,AP_SAT_SYM>",
    ):
        f = FixedFormat.parse(fmt)
        ref = gelu_fixed(torch.from_numpy(x), x_frac, f).numpy()
        assert mismatches(sim.gelu(x, x_frac, f), ref) == 0, fmt


@pytest.mark.parametrize("x_frac", [0, 9, 22])
def test_online_softmax(tiny, x_frac):
    sim = tiny["edgemoe"].sim
    rng = np.random.default_rng(x_frac)
    rows = [rng.integers(-(8 << x_frac), 8 << x_frac, (40, 129))]
    rows.append(
        np.sort(rng.integers(-(4 << x_frac), 4 << x_frac, (10, 129)), axis=1)
    )  # max updates
    rows.append(rng.integers(-2, 2, (10, 129)) << max(0, x_frac - 1))  # ties
    x = np.concatenate(rows)
    for fmt in (
        "ap_ufixed<16,0,AP_RND_CONV,AP_SAT>",
        "ap_fixed<32,10>",
        "ap_ufixed<12,1,AP_RND,AP_SAT>",
    ):
        f = FixedFormat.parse(fmt)
        ref = online_softmax_fixed(torch.from_numpy(x), x_frac, f).numpy()
        assert mismatches(sim.softmax(x, x_frac, f), ref) == 0, fmt


@pytest.mark.parametrize(
    "numerics, x_frac, zfmt, ofmt",
    [
        ("edgemoe", 22, "ap_fixed<32,10>", "ap_fixed<32,10>"),
        ("hw16", 11, "ap_fixed<16,5,AP_RND_CONV,AP_SAT>", "ap_fixed<16,4,AP_RND_CONV,AP_SAT>"),
        ("hw16", 14, "ap_fixed<16,4,AP_RND_CONV,AP_SAT>", "ap_fixed<16,3,AP_RND_CONV,AP_SAT>"),
    ],
)
def test_layernorm(tiny, numerics, x_frac, zfmt, ofmt):
    sim = tiny[numerics].sim
    rng = np.random.default_rng(x_frac)
    w = sim.act_w
    x = rng.integers(-(2 ** (w - 2)), 2 ** (w - 2), (24, 96)) >> rng.integers(0, 8, (24, 1))
    gamma, beta = rng.integers(-(2**15), 2**15, 96), rng.integers(-(2**15), 2**15, 96)
    zf, of = FixedFormat.parse(zfmt), FixedFormat.parse(ofmt)
    t = torch.from_numpy
    ref = layernorm_fixed(t(x), x_frac, t(gamma), 12, t(beta), 11, zf, of).numpy()
    out = sim.layernorm(x, x_frac, gamma, 12, beta, 11, ln_eps_raw(x_frac), zf, of)
    assert mismatches(out, ref) == 0


@pytest.mark.parametrize("k", [1, 2, 4])
def test_topk_ties_to_lower_index(tiny, k):
    sim = tiny["edgemoe"].sim
    rng = np.random.default_rng(k)
    logits = np.concatenate(
        [rng.integers(-3, 3, (300, 16)), rng.integers(-(2**30), 2**30, (100, 16))]
    )
    ref = topk_fixed(torch.from_numpy(logits), k).numpy()
    assert mismatches(sim.topk(logits, k), ref) == 0


@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
def test_linear_unit(tiny, numerics):
    """Several token blocks (rows > TB), partial tiles (N, K not multiples of TO/TI),
    bias and residual alignment, requantisation with every mode, fused GELU."""
    sim = tiny[numerics].sim
    rng = np.random.default_rng(7)
    act = sim.act_w
    for trial, (q, o) in enumerate(zip(QUANTS, OVERFLOWS * 2)):
        rows, k, n = 140 + trial, 37 + 8 * trial, 21 + 5 * trial
        xf = FixedFormat(act, act // 3)
        wf, bf, rf = FixedFormat(16, 2), FixedFormat(16, 6), FixedFormat(act, act // 3 + 1)
        yf = FixedFormat(act, act // 3 + 1, True, q, o)
        gf = FixedFormat(act, act // 3 + 2, True, QUANTS[-1 - trial], OVERFLOWS[trial % 4])
        x = rng.integers(-(2 ** (act - 1)), 2 ** (act - 1), (rows, k)) >> (act // 4)
        w = rng.integers(-(2**15), 2**15, (n, k))
        b = rng.integers(-(2**15), 2**15, n)
        r = rng.integers(-(2 ** (act - 1)), 2 ** (act - 1), (rows, n))
        A = FixedArith({}, NumericsPreset("t", "fixed", {"hidden": yf}), OverflowCounter())
        t = torch.from_numpy
        res = None if trial % 2 else Q(t(r), rf)
        ref = A._linear("t", Q(t(x), xf), t(w), wf, Q(t(b), bf), "hidden", res).raw
        rr = None if res is None else r
        out = sim.linear(x, xf, w, wf, yf, b, bf, rr, rf)
        assert mismatches(out, ref.numpy()) == 0, (q, o)
        gelu_ref = gelu_fixed(ref, yf.frac_bits, gf).numpy()
        out = sim.linear(x, xf, w, wf, yf, b, bf, rr, rf, gelu_fmt=gf)
        assert mismatches(out, gelu_ref) == 0, (q, o, "gelu")


def test_linear_unit_packed_8bit(tiny):
    """x and w both 8 bits wide: two MACs per DSP and 8-bit weight words, still exact,
    including the extremes (-128 * -128) and unsigned 8-bit x (probabilities)."""
    sim = tiny["hw16"].sim
    rng = np.random.default_rng(9)
    t = torch.from_numpy
    for signed in (True, False):
        rows, k, n = 150, 70, 45
        xf = FixedFormat(8, 3, signed)
        wf, bf = FixedFormat(8, 1), FixedFormat(16, 6)
        yf = FixedFormat(16, 8, True, "AP_RND_CONV", "AP_SAT")
        lo, hi = (-128, 128) if signed else (0, 256)
        x = rng.integers(lo, hi, (rows, k))
        x[:3] = lo if signed else hi - 1  # extremes
        w = rng.integers(-128, 128, (n, k))
        w[:, :5] = -128
        b = rng.integers(-(2**15), 2**15, n)
        A = FixedArith({}, NumericsPreset("t", "fixed", {"hidden": yf}), OverflowCounter())
        ref = A._linear("t", Q(t(x), xf), t(w), wf, Q(t(b), bf), "hidden").raw.numpy()
        assert mismatches(sim.linear(x, xf, w, wf, yf, b, bf), ref) == 0, signed


def test_dsp_packing_is_exact(tiny):
    """Every 8-bit w_hi, w_lo pair against x in the signed and unsigned 8-bit ranges."""
    sim = tiny["edgemoe"].sim
    for w in (np.arange(-128, 128), np.arange(0, 256)):  # signed weights, unsigned probs
        hi, lo = np.meshgrid(w, w)
        for x in (-128, -127, -1, 0, 1, 127, 255):
            xs = np.full(hi.size, x)
            ph, pl = sim.pack_mul(xs, hi.ravel(), lo.ravel())
            assert mismatches(ph, x * hi.ravel()) == 0, x
            assert mismatches(pl, x * lo.ravel()) == 0, x


# --------------------------------------------------------------- block stages
def _set(case: Case, **buffers: torch.Tensor) -> None:
    for name, raw in buffers.items():
        case.sim.set_chip(name, np.asarray(raw).reshape(-1, np.shape(raw)[-1]))


@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
def test_stage_patch_embed_and_layernorm(tiny, numerics):
    case = tiny[numerics]
    g = case.golden(0).layers
    io = case.sim.new_io()
    case.sim.write_image(io, case.sim.quantize(case.x[0]))
    case.sim.stage(io, 0, 0, "embed")
    t, d = case.model.cfg.num_tokens, case.model.cfg.dim
    assert mismatches(case.sim.chip("x", t, d), g["embed"][0]) == 0
    case.sim.stage(io, 0, 0, "norm1")
    assert mismatches(case.sim.chip("h", t, d), g["blocks.0.norm1"]) == 0


@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
def test_stage_attention(tiny, numerics):
    """Q/K/V linears, attention (scores, probabilities, output) and projection + residual."""
    case = tiny[numerics]
    g = case.golden(1).layers
    cfg = case.model.cfg
    t, d = cfg.num_tokens, cfg.dim
    io = case.sim.new_io()
    for blk in range(cfg.depth):
        p = f"blocks.{blk}."
        x_in = (
            g["embed"]
            if blk == 0
            else g[f"blocks.{blk - 1}.mlp." + ("combine" if blk - 1 in cfg.moe_blocks else "fc2")]
        )
        _set(case, h=g[p + "norm1"])
        case.sim.stage(io, 1, blk, "qkv")
        for n in ("q", "k", "v"):
            assert mismatches(case.sim.chip(n, t, d), g[p + f"attn.{n}"]) == 0, n
        rec = case.sim.stage(io, 1, blk, "attention", layers=True)
        for n in ("score", "prob", "out"):
            assert mismatches(rec[p + f"attn.{n}"], g[p + f"attn.{n}"]) == 0, (blk, n)
        _set(case, x=x_in)
        case.sim.stage(io, 1, blk, "proj")
        assert mismatches(case.sim.chip("x", t, d), g[p + "attn.proj"]) == 0


@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
def test_stage_dense_mlp(tiny, numerics):
    case = tiny[numerics]
    g = case.golden(0).layers
    cfg = case.model.cfg
    t, d = cfg.num_tokens, cfg.dim
    io = case.sim.new_io()
    _set(case, x=g["blocks.0.attn.proj"])
    case.sim.stage(io, 0, 0, "norm2")
    assert mismatches(case.sim.chip("h", t, d), g["blocks.0.norm2"]) == 0
    rec = case.sim.stage(io, 0, 0, "mlp", layers=True)
    assert mismatches(rec["blocks.0.mlp.gelu"], g["blocks.0.mlp.gelu"]) == 0
    assert mismatches(case.sim.chip("x", t, d), g["blocks.0.mlp.fc2"]) == 0


@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
@pytest.mark.parametrize("task", [0, 1])
def test_stage_moe_router_and_experts(tiny, numerics, task):
    """Router logits, top-k, gate probabilities, per-expert queues, expert-major
    execution and the scatter-add combine of one MoE layer."""
    case = tiny[numerics]
    res = case.golden(task)
    g = res.layers
    cfg = case.model.cfg
    t, d = cfg.num_tokens, cfg.dim
    blk = cfg.moe_blocks[0]
    p = f"blocks.{blk}."
    _set(case, x=g[p + "attn.proj"], h=g[p + "norm2"])
    rec = case.sim.stage(case.sim.new_io(), task, blk, "moe", layers=True)
    assert mismatches(rec[p + "mlp.gate"], g[p + "mlp.gate"]) == 0
    assert mismatches(rec[p + "mlp.route"], res.routing[f"blocks.{blk}"]) == 0
    assert mismatches(rec[p + "mlp.gate_prob"], g[p + "mlp.gate_prob"]) == 0
    assert mismatches(case.sim.chip("x", t, d), g[p + "mlp.combine"]) == 0
    # The last active expert's output is what forward.py records for h4toh.
    flat = res.routing[f"blocks.{blk}"].reshape(-1)
    last = int(flat.max())
    rows = np.nonzero(flat.numpy() == last)[0]
    assert mismatches(rec[p + "mlp.experts.y"][rows], g[p + "mlp.experts.h4toh"]) == 0


# -------------------------------------------------------------- whole forwards
@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
def test_tiny_forward_every_task_every_layer(tiny, numerics):
    case = tiny[numerics]
    for task in range(case.model.cfg.num_tasks):
        res = case.golden(task)
        out = case.sim.run(case.x[0], task, layers=True)
        assert mismatches(out["output"], res.raw[0]) == 0
        compared = 0
        for name, ref in res.layers.items():
            if name in out:
                assert mismatches(out[name], ref) == 0, (task, name)
                compared += 1
        assert compared >= 40


@pytest.mark.parametrize(
    "overrides",
    [
        {"router": "single"},
        {"router": "task"},
        {"renormalize_gates": True, "top_k": 3},
        # 145 tokens > TB: several token blocks per layer (the residual stream goes
        # through io_x between phases) and long expert queues
        {"img_size": (192, 192), "num_experts": 2, "top_k": 2},
    ],
    ids=["single-router", "task-router", "renormalised-top3", "long-queues"],
)
def test_tiny_router_variants(tmp_path, overrides):
    _toolchain()
    for numerics in ("edgemoe", "hw16"):
        case = Case(tmp_path, "tiny", numerics, seed=11, **overrides)
        for task in range(case.model.cfg.num_tasks):
            ref = case.golden(task).raw[0]
            assert mismatches(case.sim.run(case.x[0], task), ref) == 0, (numerics, task)


@pytest.fixture(scope="module")
def edgemoe_t(tmp_path_factory) -> dict[str, Case]:
    _toolchain()
    root = tmp_path_factory.mktemp("csim-edgemoe-t")
    return {n: Case(root, "edgemoe-t", n, seed=3) for n in ("edgemoe", "hw16")}


@pytest.mark.parametrize("numerics, task", [("edgemoe", "semseg"), ("hw16", "depth")])
def test_edgemoe_t_forward(edgemoe_t, numerics, task):
    """Edge-MoE's model (129 tokens, 192 dims, 16 experts top-2): one task per numerics
    here (the golden forward dominates on busy cores); ``make csim`` runs every task."""
    case = edgemoe_t[numerics]
    res = case.golden(case.model.cfg.task_index(task))
    out = case.sim.run(case.x[0], task)
    assert out.shape == (129, 192)
    assert mismatches(out, res.raw[0]) == 0


# ------------------------------------------------------------- refused runs
def _patched(params: np.ndarray, field: str, value: int) -> np.ndarray:
    p = params.copy()
    words = p[: len(GLOBAL_FIELDS) * 4].view("<u4")
    words[GLOBAL_FIELDS.index(field)] = value
    return p


def test_kernel_refuses_bad_descriptors(tiny):
    """Out-of-maxima, inconsistent, foreign or malformed descriptors: a status, no writes."""
    sim = tiny["hw16"].sim
    params = sim.params
    hdr = (sim.export_dir / "edgemoe_config.h").read_text()
    max_tokens = int(hdr.split("#define MAX_TOKENS ")[1].split()[0])
    bad_fmt = encode_format(FixedFormat(24, 8))  # wider than 16-bit activation words
    cases = [
        (_patched(params, "tokens", max_tokens + 1), 0, "OVER_MAXIMA"),
        (_patched(params, "experts", 1000), 0, "OVER_MAXIMA"),
        (_patched(params, "heads", 4), 0, "INCONSISTENT"),
        (_patched(params, "patches", 11), 0, "INCONSISTENT"),
        (_patched(params, "magic", 0x1234), 0, "BAD_MAGIC"),
        (_patched(params, "act_w", 32), 0, "BAD_ACT_W"),
        (_patched(params, "fmt_embed", bad_fmt), 0, "BAD_FORMAT"),
        (_patched(params, "io_beats", 10), 0, "BAD_LAYOUT"),
        # region ends that wrap in 32 bits, and the patch bias (once never checked)
        (_patched(params, "io_in", 0xFFFFFFFF), 0, "BAD_LAYOUT"),
        (_patched(params, "io_x", 0xFFFFFFF0), 0, "BAD_LAYOUT"),
        (_patched(params, "off_patch_b", 0xFFFFFFF0), 0, "BAD_LAYOUT"),
        (params, 2, "BAD_TASK"),
    ]
    for p, task, expected in cases:
        status, io = sim.run_status(p, task)
        assert status == STATUS_CODES[expected], expected
        assert bool((io == 0xA5).all()), f"{expected}: io written"
    status, _ = sim.run_status(params, 1)
    assert status == STATUS_CODES["OK"]


def test_kernel_refuses_unalignable_block_format(tiny):
    """A bias with more fraction bits than its accumulator cannot be added exactly."""
    from pymodel.export import block_fields

    sim = tiny["edgemoe"].sim
    p = sim.params.copy()
    off = sim.desc["off_blocks"] * 16
    words = p[off : off + len(block_fields(5)) * 4].view("<u4")
    words[block_fields(5).index("fmt_q_b")] = encode_format(FixedFormat(16, -40))
    status, io = sim.run_status(p, 0)
    assert status == STATUS_CODES["BAD_FORMAT"] and bool((io == 0xA5).all())


# ------------------------------------------------------------------ testbench
def test_cpp_testbench_passes_and_detects_a_wrong_bit(tiny, tmp_path):
    from sim.csim import testbench

    case = tiny["hw16"]
    exe = testbench(case.dir)
    ok = subprocess.run([str(exe), str(case.dir)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS" in ok.stdout and " 0 differ" in ok.stdout
    bad = tmp_path / "export"
    shutil.copytree(case.dir, bad)
    f = bad / "golden" / "expected_task1.bin"
    raw = np.fromfile(f, dtype="<i8")
    raw[7] ^= 1  # one bit
    raw.tofile(f)
    fail = subprocess.run([str(exe), str(bad)], capture_output=True, text=True, timeout=120)
    assert fail.returncode == 1 and "1 differ" in fail.stdout


# ------------------------------------------------ issue 12: coverage that can fail
def test_five_tasks_top4_every_task_slot(tmp_path):
    """Task slots 2-4 of the per-task descriptors (router 'multi') and top-4 routing."""
    _toolchain()
    tasks = ["semseg", "human_parts", "sal", "normals", "edge"]
    for numerics in ("edgemoe", "hw16"):
        case = Case(tmp_path, "tiny", numerics, seed=13, tasks=tasks, num_experts=8, top_k=4)
        for task in range(5):
            ref = case.golden(task).raw[0]
            assert mismatches(case.sim.run(case.x[0], task), ref) == 0, (numerics, task)


def _overflowed(res) -> int:
    return sum(v["overflow"] for v in res.overflow.values())


@pytest.mark.parametrize("numerics", ["hw16", "edgemoe"])
def test_saturation_and_wrap_stay_bit_exact(tmp_path, numerics):
    """Inputs far hotter than calibration (hw16 saturates) and scaled weights (edgemoe
    wraps); the overflow counters must be non-zero so this cannot pass vacuously."""
    _toolchain()
    case = Case(tmp_path, "tiny", numerics, seed=17)
    with torch.no_grad():
        for name, p in case.model.named_parameters():
            if name.startswith("backbone.") and p.dim() >= 2 and numerics == "edgemoe":
                p.mul_(6.0)  # weights that overflow ap_fixed<16,2> and wrap the activations
    if numerics == "edgemoe":
        case.dir = export_hls(case.model, numerics, tmp_path / "scaled", golden_image=None)
        from sim.csim import CSim

        case.sim = CSim(case.dir)
    hot = case.x * 12.0
    for task in range(case.model.cfg.num_tasks):
        res = backbone_forward(case.model, hot, task, numerics)
        assert _overflowed(res) > 0, "no overflow: the test would be vacuous"
        assert mismatches(case.sim.run(hot[0], task), res.raw[0]) == 0, task


@pytest.mark.parametrize("numerics", ["hw16", "hw8"])
def test_sharp_attention_probabilities_above_one_half(tmp_path, numerics):
    """Probabilities of ap_ufixed<16,0> (hw16) or <8,0> (hw8) at or above 0.5 use the
    top bit: the MAC array's probability operand must hold them unsigned (a signed
    ACT_W-bit operand wrapped them negative)."""
    _toolchain()
    from sim.csim import CSim

    model = build_model("tiny", seed=23)
    perturb_untrained(model, 23)
    x = torch.cat([image(model.cfg, 24), image(model.cfg, 25)])
    dim = model.cfg.dim
    with torch.no_grad():
        for blk in model.backbone.blocks:
            blk.attn.qkv.weight[: 2 * dim].mul_(12.0)  # large scores: peaked softmax rows
    calibrate(model, x, numerics)
    sim = CSim(export_hls(model, numerics, tmp_path / numerics))
    fmt = sim.formats["blocks.0.attn.prob"]
    for task in range(model.cfg.num_tasks):
        res = backbone_forward(model, x[:1], task, numerics, record=True)
        top = max(int(v.max()) for k, v in res.layers.items() if k.endswith("attn.prob"))
        assert top >= 1 << (fmt.width - 1), "no probability >= 0.5: the test would be vacuous"
        assert mismatches(sim.run(x[0], task), res.raw[0]) == 0, task


def test_hw8_packed_forward_and_exact_types_build(tmp_path):
    """hw8 runs the MAC array in packed mode with 8-bit weight words; the build with
    the synthesis types (EDGEMOE_EXACT_TYPES: ap_int adder trees) gives the same bits."""
    _toolchain()
    from sim.csim import CSim

    model = build_model("tiny", seed=19)
    perturb_untrained(model, 19)
    x = image(model.cfg, 20)
    calibrate(model, torch.cat([x, image(model.cfg, 21)]), "hw8")
    out = export_hls(model, "hw8", tmp_path / "hw8")
    manifest = __import__("json").loads((out / "manifest.json").read_text())
    assert manifest["formats"]["blocks.0.attn.q.w"].startswith("ap_fixed<8,")
    fast, exact = CSim(out), CSim(out, exact_types=True)
    assert fast.library != exact.library
    for task in range(model.cfg.num_tasks):
        ref = backbone_forward(model, x, task, "hw8").raw[0]
        assert mismatches(fast.run(x[0], task), ref) == 0
        assert mismatches(exact.run(x[0], task), ref) == 0


@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
def test_synthesis_build_compiles_warning_free(tiny, numerics):
    """The kernel as Vitis compiles it: -std=c++14, no trace define, the synthesis
    datapath types, every warning an error (HLS pragmas and loop labels allowed)."""
    from sim.csim import HLS, KERNEL_SOURCES, ap_types_dir, find_cxx

    hdr = tiny[numerics].dir
    for src in KERNEL_SOURCES:
        proc = subprocess.run(
            [find_cxx(), "-std=c++14", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas",
             "-Wno-unused-label", "-DEDGEMOE_EXACT_TYPES", "-fsyntax-only", "-isystem",
             str(ap_types_dir()), "-I", str(HLS / "include"), "-I", str(hdr),
             str(HLS / "src" / src)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
