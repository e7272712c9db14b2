"""Design-space exploration: sweep the engine's synthesis parameters under a board's budget.

Every point of the grid is evaluated with the performance model on the target
workloads and with the resource model on the board; points that do not fit
(with the margin) are dropped, the Pareto front of (latency, DSP) is kept, and
the pick is the fastest fitting point on the primary workload whose other
workloads meet their latency limits (ties: fewer DSPs, then fewer LUTs). The
package's default :class:`~pymodel.export.design.Design` is the pick for the
ZCU104 (``tests/test_perf.py`` checks it on a grid around it). MODELLED.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..config import PRESETS, ModelConfig
from ..export.design import Design
from .ddr import Ddr
from .model import Widths, estimate
from .resources import fit, resources

#: The sweep: each parameter's candidate values (the default design's values included).
GRID: dict[str, tuple[int, ...]] = {
    "mac_rows": (4, 8),
    "mac_in": (16, 32),
    "mac_out": (8, 16),
    "token_block": (136, 144),
    "query_block": (24, 48, 72),
    "softmax_lanes": (24, 48, 72),
    "prob_lanes": (32, 64, 128),
    "ln_lanes": (16, 32),
    "weight_ports": (2, 3, 4),
}


@dataclass(frozen=True)
class Workload:
    """A model, its numerics widths, and a latency limit (ms) it must meet."""

    name: str
    cfg: ModelConfig
    widths: Widths
    limit_ms: float | None = None


def widths_for(numerics: str) -> Widths:
    """The datapath widths of a numerics preset's default formats."""
    from ..numerics.presets import get_preset

    p = get_preset(numerics)
    if p.kind != "fixed":
        raise ValueError(f"numerics {numerics!r} has no hardware widths (fixed point only)")
    f = p.formats
    weights = ("w", "b", "attn_b", "norm_w", "norm_b", "patch_w", "patch_b", "gate_w")
    act = max(v.width for k, v in f.items() if k not in weights)
    return Widths(
        act_w=16 if act <= 16 else 32,
        input=f["input"].width,
        ln_out=f["ln_out"].width,
        q=f["q"].width,
        kv=f["kv"].width,
        prob=f["prob"].width,
        attn=f["attn"].width,
        gelu=f["gelu"].width,
        weights=max(f["w"].width, f["gate_w"].width),
    )


def default_workloads() -> list[Workload]:
    """The issue's targets: M3ViT-S on PASCAL in hw8 (<= 70 ms) is primary; Edge-MoE's
    model in hw16 must stay within 8 ms."""
    return [
        Workload("m3vit-s-pascal hw8", PRESETS["m3vit-s-pascal"], widths_for("hw8"), 70.0),
        Workload("edgemoe-t hw16", PRESETS["edgemoe-t"], widths_for("hw16"), 8.0),
    ]


def grid_points(base: Design, grid: Mapping[str, Sequence[int]]) -> Iterable[Design]:
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        kw = dict(zip(keys, values))
        try:
            yield replace(base, **kw)
        except ValueError:  # an inconsistent combination (e.g. blocks not whole row groups)
            continue


def evaluate(
    d: Design, workloads: Sequence[Workload], board: str, ddr: Ddr, margin: float
) -> dict[str, Any]:
    act_w = max(w.widths.act_w for w in workloads)
    usage = resources(d, act_w, board)
    fitted = fit(usage, board, margin)
    lat = {w.name: estimate(w.cfg, d, w.widths, ddr=ddr).latency_ms for w in workloads}
    meets = all(w.limit_ms is None or lat[w.name] <= w.limit_ms for w in workloads[1:])
    return {
        "design": d,
        "latency_ms": lat,
        "resources": fitted["used"],
        "fraction": fitted["fraction"],
        "fits": fitted["fits"],
        "meets": meets,
    }


def pareto(points: list[dict], key: str) -> list[dict]:
    """Points not dominated in (latency of ``key``, DSP)."""
    pts = sorted(points, key=lambda p: (p["resources"]["dsp"], p["latency_ms"][key]))
    front, best = [], float("inf")
    for p in pts:
        if p["latency_ms"][key] < best:
            front.append(p)
            best = p["latency_ms"][key]
    return front


def explore(
    workloads: Sequence[Workload] | None = None,
    *,
    base: Design | None = None,
    grid: Mapping[str, Sequence[int]] | None = None,
    board: str = "zcu104",
    ddr: Ddr | None = None,
    margin: float = 0.10,
    progress: bool = False,
) -> dict[str, Any]:
    """Sweep ``grid`` around ``base``; returns every evaluated point, the fitting ones,
    the Pareto front on the primary workload and the pick."""
    workloads = list(workloads or default_workloads())
    base, grid, ddr = base or Design(), grid or GRID, ddr or Ddr()
    points = list(grid_points(base, grid))
    it: Iterable[Design] = points
    if progress:
        from tqdm import tqdm

        it = tqdm(points, desc="dse", unit="design")
    evaluated = [evaluate(d, workloads, board, ddr, margin) for d in it]
    key = workloads[0].name
    ok = [p for p in evaluated if p["fits"]]
    eligible = [p for p in ok if p["meets"]]
    pick = min(
        eligible,
        key=lambda p: (
            round(p["latency_ms"][key], 3),
            p["resources"]["dsp"],
            p["resources"]["lut"],
        ),
        default=None,
    )
    return {
        "label": "modelled",
        "board": board,
        "primary": key,
        "workloads": [{"name": w.name, "limit_ms": w.limit_ms} for w in workloads],
        "evaluated": evaluated,
        "fitting": ok,
        "front": pareto(ok, key),
        "pick": pick,
    }
