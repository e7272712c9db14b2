"""The arithmetic contract: torch requantisation, hardware math, integer invariants."""

import math

import numpy as np
import pytest
import torch

from pymodel.numerics import FixedFormat, NumericsError
from pymodel.numerics.hwmath import (
    SPEC,
    approx_exp,
    approx_gelu,
    approx_online_softmax,
    approx_recip,
    approx_rsqrt,
    exp_fixed,
    gelu_fixed,
    layernorm_fixed,
    online_softmax_fixed,
    pseudo_to_float,
    recip_fixed,
    rsqrt_fixed,
    tables,
    topk_fixed,
)
from pymodel.numerics.qtorch import (
    F64_REQUANT,
    OverflowCounter,
    exact_matmul,
    f64_requant_ok,
    requant,
    requant_f64,
)

QUANTS = [
    "AP_RND",
    "AP_RND_ZERO",
    "AP_RND_MIN_INF",
    "AP_RND_INF",
    "AP_RND_CONV",
    "AP_TRN",
    "AP_TRN_ZERO",
]
OVERFLOWS = ["AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM"]


def test_requant_matches_the_verified_numpy_emulation():
    """torch requantisation == FixedFormat.convert (itself checked against g++)."""
    rng = np.random.default_rng(0)
    cases = 0
    for _ in range(300):
        w = int(rng.integers(1, 33))
        i = int(rng.integers(-4, w + 5))
        signed = bool(rng.integers(0, 2))
        q, o = rng.choice(QUANTS), rng.choice(OVERFLOWS)
        dst = FixedFormat(w, i, signed, q, o)
        sw = int(rng.integers(8, 48))
        src = FixedFormat(sw, int(rng.integers(-6, sw + 6)), True)
        raw = rng.integers(src.raw_min, src.raw_max + 1, size=200, dtype=np.int64)
        # ties and extremes
        raw[:4] = [src.raw_min, src.raw_max, 0, -1]
        half = 1 << max(0, src.frac_bits - dst.frac_bits - 1)
        raw[4:10] = np.clip(
            [half, -half, 3 * half, -3 * half, 5 * half, -5 * half], src.raw_min, src.raw_max
        )
        want = dst.convert(raw, src)
        got = requant(torch.from_numpy(raw), src.frac_bits, dst).numpy()
        assert np.array_equal(got, want), (str(src), str(dst))
        cases += raw.size
    assert cases == 60_000


def test_float64_requant_matches_the_verified_emulation():
    """requant_f64 (the linear unit's fused path) == FixedFormat.convert, counts included."""
    rng = np.random.default_rng(1)
    cases = 0
    for trial in range(400):
        w = int(rng.integers(1, 53))
        dst = FixedFormat(
            w,
            int(rng.integers(-4, w + 5)),
            bool(rng.integers(0, 2)),
            QUANTS[trial % len(QUANTS)],
            OVERFLOWS[(trial // len(QUANTS)) % len(OVERFLOWS)],
        )
        frac = dst.frac_bits + int(rng.integers(1, 40))
        assert f64_requant_ok(frac, dst)
        bits = int(rng.integers(1, 53))
        raw = rng.integers(-(1 << bits) + 1, 1 << bits, size=150, dtype=np.int64)
        sh = frac - dst.frac_bits
        half = 1 << (sh - 1)
        top = F64_REQUANT - 1
        edges = [0, -1, 1, top, -top, half, -half, 3 * half, -3 * half, half - 1, -half + 1]
        edges += [dst.raw_max << sh, (dst.raw_max + 1) << sh, dst.raw_min << sh]
        edges += [(dst.raw_min << sh) - half, (dst.raw_max << sh) + half]
        raw[: len(edges)] = np.clip(edges, -top, top)
        src = FixedFormat(53, 53 - frac, True)  # any format holding every raw
        want = dst.convert(raw, src)
        c_int, c_f64 = OverflowCounter(), OverflowCounter()
        got_int = requant(torch.from_numpy(raw), frac, dst, c_int, "x")
        got, got64 = requant_f64(torch.from_numpy(raw).double(), frac, dst, c_f64, "x")
        assert np.array_equal(got.numpy(), want), (str(dst), frac)
        assert torch.equal(got, got_int) and torch.equal(got64, got.double())
        assert c_f64.to_dict() == c_int.to_dict()
        cases += raw.size
    assert cases == 60_000
    assert not f64_requant_ok(10, FixedFormat(16, 6))  # no right shift: the int64 path
    assert not f64_requant_ok(40, FixedFormat(53, 20))


def test_overflow_is_counted():
    c = OverflowCounter()
    fmt = FixedFormat.parse("ap_fixed<8,4,AP_RND,AP_SAT>")
    out = requant(torch.tensor([0, 7 * 16, 9 * 16, -9 * 16]), 4, fmt, c, "x")
    assert out.tolist() == [0, 112, 127, -128]
    assert c.to_dict() == {"x": {"overflow": 2, "values": 4}}


def test_exact_matmul_splits_when_float64_would_round():
    a = torch.tensor([[2**40 + 1, 3]], dtype=torch.int64)
    b = torch.tensor([[2**15 + 1], [7]], dtype=torch.int64)
    want = (2**40 + 1) * (2**15 + 1) + 21
    assert exact_matmul(a, b).item() == want  # 2**55: beyond float64's exact range
    with pytest.raises(NumericsError, match="int64"):
        exact_matmul(torch.tensor([[2**50]]), torch.tensor([[2**20]]))
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-(2**15), 2**15, (7, 300), generator=g)
    w = torch.randint(-(2**15), 2**15, (300, 5), generator=g)
    ref = (x.unsqueeze(-1) * w.unsqueeze(0)).sum(1)
    assert torch.equal(exact_matmul(x, w), ref)


def test_tables_are_generated_once_and_exact_at_anchors():
    t = tables()
    one = 1 << SPEC.mant_frac
    assert t["exp2"][0] == one and t["exp2"][-1] == 2 * one
    assert t["recip"][0] == one and t["recip"][-1] == one // 2
    assert t["rsqrt_even"][0] == one and t["gelu"][0] == 0
    assert len(t["gelu"]) == SPEC.gelu_range * 2**SPEC.gelu_step_log2 + 1
    assert tables() is tables()


def test_exp_accuracy_and_exact_one():
    d = torch.arange(-16 * 2**10, 1)
    e = exp_fixed(d, 10)
    assert e[-1].item() == 1 << SPEC.exp_out_frac  # e**0 == 1 exactly
    assert bool((e[1:] >= e[:-1]).all())  # monotonic
    err = (e.double() / 2**16 - torch.exp(d.double() / 2**10)).abs().max().item()
    assert err < 3e-5
    assert (approx_exp(d.double() / 2**10) - torch.exp(d.double() / 2**10)).abs().max() < 2e-5
    with pytest.raises(NumericsError):
        exp_fixed(torch.tensor([1]), 4)


@pytest.mark.parametrize("frac", [0, 8, 20])
def test_recip_and_rsqrt_accuracy(frac):
    v = torch.unique(
        torch.cat(
            [torch.arange(1, 5000), torch.randint(1, 2**40, (5000,)), 2 ** torch.arange(0, 40)]
        )
    )
    m, s = recip_fixed(v, frac)
    got = pseudo_to_float(m, s)
    ref = 2.0**frac / v.double()
    assert ((got - ref) / ref).abs().max() < 1e-4
    m, s = rsqrt_fixed(v, frac)
    got = pseudo_to_float(m, s)
    ref = 1 / torch.sqrt(v.double() / 2.0**frac)
    assert ((got - ref) / ref).abs().max() < 5e-5
    assert ((approx_recip(v.double()) - 1 / v.double()) * v.double()).abs().max() < 1e-4
    assert ((approx_rsqrt(v.double()) * torch.sqrt(v.double())) - 1).abs().max() < 5e-5
    with pytest.raises(NumericsError):
        recip_fixed(torch.tensor([0]), 0)


def test_gelu_definition():
    fmt = FixedFormat.parse("ap_fixed<32,10,AP_RND,AP_SAT>")
    x = torch.arange(-12 * 2**12, 12 * 2**12, 7)
    y = gelu_fixed(x, 12, fmt).double() / 2**fmt.frac_bits
    ref = torch.nn.functional.gelu(x.double() / 2**12)
    assert (y - ref).abs().max() < 1.5e-4
    big = torch.tensor([9 * 2**12, -9 * 2**12])
    assert gelu_fixed(big, 12, fmt).tolist() == [9 << 22, 0]  # d = 0 beyond the range
    assert (approx_gelu(x.double() / 2**12) - ref).abs().max() < 1.5e-4


def _online_reference(row: list[int], frac: int) -> int:
    """The recurrence one score at a time, in Python ints (the contract's words)."""
    m, s = row[0], 1 << SPEC.softmax_sum_frac
    for x in row[1:]:
        if x > m:
            f = int(exp_fixed(torch.tensor([m - x]), frac))
            prod = s * f
            s = (prod + (1 << (SPEC.exp_out_frac - 1))) >> SPEC.exp_out_frac
            s += 1 << SPEC.softmax_sum_frac
            m = x
        else:
            s += int(exp_fixed(torch.tensor([x - m]), frac))
    return s


def test_online_softmax_is_the_sequential_recurrence():
    g = torch.Generator().manual_seed(1)
    rows = torch.randint(-(2**12), 2**12, (40, 50), generator=g)
    rows[0] = torch.arange(50)  # max updates at every score
    rows[1] = torch.arange(50).flip(0)  # none
    rows[2] = 7  # all equal
    from pymodel.numerics.hwmath import _online_sum

    _, s = _online_sum(rows, 8, SPEC, exact=True)
    for r in range(rows.shape[0]):
        assert s[r, 0].item() == _online_reference(rows[r].tolist(), 8), r
    pf = FixedFormat.parse("ap_ufixed<16,0,AP_RND,AP_SAT>")
    p = online_softmax_fixed(rows, 8, pf).double() / 2**16
    ref = torch.softmax(rows.double() / 2**8, -1)
    assert (p - ref).abs().max() < 1e-4
    assert (approx_online_softmax(rows.double() / 2**8) - ref).abs().max() < 5e-5
    # One row that never updates its max (one segment): the
    # vectorised path once scattered into a view of its own input here.
    flat = rows[1:2].clone()  # one row: its (1, 1) max view counts as contiguous
    _, s = _online_sum(flat, 8, SPEC, exact=True)
    assert [v.item() for v in s[:, 0]] == [_online_reference(r.tolist(), 8) for r in flat]


def test_layernorm_one_pass():
    g = torch.Generator().manual_seed(2)
    x = torch.randint(-(2**16), 2**16, (16, 96), generator=g)
    x[0] = 5  # zero variance: eps keeps the rsqrt finite
    gamma = torch.randint(2**9, 2**11, (96,), generator=g)
    beta = torch.randint(-(2**9), 2**9, (96,), generator=g)
    nf = FixedFormat.parse("ap_fixed<24,8,AP_RND_CONV,AP_SAT>")
    of = FixedFormat.parse("ap_fixed<16,6,AP_RND_CONV,AP_SAT>")
    y = layernorm_fixed(x, 12, gamma, 10, beta, 10, nf, of)
    ref = torch.nn.functional.layer_norm(
        x.double() / 2**12, (96,), gamma.double() / 2**10, beta.double() / 2**10, 1e-6
    )
    assert (y.double() / 2**10 - ref)[1:].abs().max() < 2e-3
    assert torch.equal(y[0], beta)  # x - mean == 0 exactly


def test_topk_ties_to_lower_index():
    logits = torch.tensor([[3, 5, 5, 1, 5], [0, 0, 0, 0, 0], [-1, 2, -3, 2, 9]])
    assert topk_fixed(logits, 3).tolist() == [[1, 2, 4], [0, 1, 2], [4, 1, 3]]


def test_contract_bound_errors_are_clear():
    with pytest.raises(NumericsError, match="positive"):
        rsqrt_fixed(torch.tensor([-3]), 0)
    assert math.isfinite(pseudo_to_float(*rsqrt_fixed(torch.tensor([1]), 60)).item())


@pytest.mark.parametrize("fmt_in, frac", [("ap_fixed<16,3>", 13), ("ap_fixed<32,10>", 22)])
def test_layernorm_variance_is_exact_for_offset_rows(fmt_in, frac):
    """Rows whose mean dwarfs their spread: the variance must not cancel badly."""
    g = torch.Generator().manual_seed(7)
    vals = 3.0 + 0.02 * torch.randn(8, 192, generator=g, dtype=torch.float64)
    x = torch.round(vals * 2**frac).long()
    one = torch.full((192,), 1 << 10)
    zero = torch.zeros(192, dtype=torch.int64)
    nf = FixedFormat.parse("ap_fixed<24,8,AP_RND_CONV,AP_SAT>")
    y = layernorm_fixed(x, frac, one, 10, zero, 10, nf, nf).double() / 2**nf.frac_bits
    ref = torch.nn.functional.layer_norm(x.double() / 2**frac, (192,), eps=1e-6)
    assert (y - ref).abs().max() < 5e-3


def test_layernorm_eps_has_one_owner(tmp_path):
    """The eps formula lives in hwmath; the export descriptor and the RTL package use it."""
    from pathlib import Path

    from pymodel.export import descriptor
    from pymodel.numerics import hwmath, rtl_export
    from pymodel.numerics.hwmath import MathSpec, ln_eps_raw, ln_eps_sq

    assert descriptor.ln_eps_raw is ln_eps_raw
    assert not hasattr(rtl_export, "ln_eps_raw")
    spec = MathSpec(ln_eps=3e-5)
    pkg = rtl_export.write_rtl_tables(tmp_path, spec)["package"].read_text()
    for fq in range(rtl_export.LN_EPS_MAX_FQ + 1):
        assert f"{fq}: ln_eps_raw = 64'd{ln_eps_sq(fq, spec)};" in pkg
    # x keeps at most ln_sq_frac fraction bits for the squares
    assert ln_eps_raw(20, spec) == ln_eps_sq(spec.ln_sq_frac, spec) == round(3e-5 * 2**24)
    assert ln_eps_raw(3, spec) == 1  # at least one LSB
    # Nowhere else in the Python sources is the formula written out again.
    root = Path(hwmath.__file__).resolve().parents[1]
    owners = [p for p in root.rglob("*.py") if "ln_eps * 2.0 **" in p.read_text()]
    assert owners == [Path(hwmath.__file__).resolve()]


def _exp_reference(d: int, d_frac: int) -> int:
    """exp_fixed's definition for one value, in Python integers (no fused tables)."""
    s, tab = SPEC, tables()
    k = d_frac + s.log2e_frac - s.exp_in_frac
    t = (d * tab["log2e"][0] + (1 << (k - 1))) >> k
    n, f = t >> s.exp_in_frac, t & ((1 << s.exp_in_frac) - 1)
    u_bits = s.exp_in_frac - s.exp_table_bits
    i, u = f >> u_bits, f & ((1 << u_bits) - 1)
    y = (tab["exp2"][i] << u_bits) + (tab["exp2"][i + 1] - tab["exp2"][i]) * u
    sh = min(s.mant_frac + u_bits - s.exp_out_frac - n, 62)
    return (y + (1 << (sh - 1))) >> sh


def _gelu_reference(x: int, x_frac: int) -> int:
    """gelu_fixed's wide value before requantisation, in Python integers."""
    s, tab = SPEC, tables()["gelu"]
    n = s.gelu_range << s.gelu_step_log2
    ax = abs(x)
    if x_frac >= s.gelu_step_log2:
        u_bits = x_frac - s.gelu_step_log2
        i, u = ax >> u_bits, ax & ((1 << u_bits) - 1)
    else:
        u_bits, i, u = 0, ax << (s.gelu_step_log2 - x_frac), 0
    d = (tab[i] << u_bits) + (tab[i + 1] - tab[i]) * u if i < n else 0
    return (max(x, 0) << (s.gelu_frac + u_bits - x_frac)) - d


def test_fused_tables_equal_the_definitions():
    """exp's table of rounded results and GELU's tabulated d(|x|) are the definitions."""
    rng = np.random.default_rng(5)
    for d_frac in (0, 4, 10, 16, 22):
        d = -rng.integers(0, 40 << d_frac, 400)
        d[:3] = [0, -1, -(1 << (d_frac + 5))]
        got = exp_fixed(torch.from_numpy(d), d_frac).tolist()
        assert got == [_exp_reference(int(v), d_frac) for v in d], d_frac
    for x_frac in (0, 3, 5, 9, 12, 15, 16, 22):
        x = rng.integers(-(12 << x_frac), 12 << x_frac, 400)
        x[:4] = [0, 1, -1, 8 << x_frac]
        u_bits = max(0, x_frac - SPEC.gelu_step_log2)
        fmt = FixedFormat(62, 62 - SPEC.gelu_frac - u_bits)  # requantisation is the identity
        got = gelu_fixed(torch.from_numpy(x), x_frac, fmt).tolist()
        assert got == [_gelu_reference(int(v), x_frac) for v in x], x_frac
