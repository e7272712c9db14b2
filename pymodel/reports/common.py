"""Shared pieces of the generated documents: the one number formatter, error statistics,
markdown tables, the "measured here" line and the command-line options every generator takes.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..results import REPO

#: Where the generators write their JSON measurements and which documents they update.
OUT_DIR = REPO / "build" / "numerics"
DOCS_DIR = REPO / "docs"
#: The marked section of docs/NUMERICS.md and docs/ACCURACY.md the generators own.
SECTION = "numerics-report"


def num(x: Any) -> str:
    """The one number formatter of both documents (the tests re-derive numbers with it)."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(float(x), ".4g")


def f64(t: torch.Tensor) -> torch.Tensor:
    """``t`` detached, as float64."""
    return t.detach().double()


def error_stats(
    got: torch.Tensor,
    ref: torch.Tensor,
    *,
    rel: bool = False,
    lsb: float | None = None,
    inputs: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Max / mean absolute (and relative) error of ``got`` against ``ref`` (float64).

    ``lsb`` adds the max error in output LSBs; ``inputs`` the input at the worst point.
    """
    got, ref = f64(got).reshape(-1), f64(ref).reshape(-1)
    err = (got - ref).abs()
    i = int(err.argmax())
    out: dict[str, Any] = {
        "n": err.numel(),
        "max_abs": float(err[i]),
        "mean_abs": float(err.mean()),
        "rms": float(err.square().mean().sqrt()),
        "max_rel": None,
        "mean_rel": None,
        "max_lsb": None if lsb is None else float(err[i]) / lsb,
        "worst_input": None if inputs is None else float(f64(inputs).reshape(-1)[i]),
    }
    if rel:
        r = err / ref.abs()
        out["max_rel"], out["mean_rel"] = float(r.max()), float(r.mean())
    return out


def gen(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (every random input of the documents)."""
    return torch.Generator().manual_seed(seed)


def deq(raw: torch.Tensor, frac: int) -> torch.Tensor:
    """Raw integers with ``frac`` fraction bits as float64 values."""
    return raw.double() * 2.0**-frac


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table; non-string cells go through :func:`num`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(c if isinstance(c, str) else num(c) for c in r) + " |" for r in rows
    ]
    return "\n".join(lines)


def measured_line(data: Mapping[str, Any]) -> str:
    """Where, when and by which command a measurement was taken (from its JSON)."""
    m = data["machine"]
    return (
        f"Measured here by `{data['generator']}` on {m['date']}: {m['cpu']}, "
        f"{m['threads']} torch thread(s), torch {m['torch']}, Python {m['python']}; "
        f"runtime {num(data['runtime_s'])} s."
    )


class Threads:
    """Run with ``n`` torch threads, restoring the previous count (small tensors: one thread
    avoids synchronisation overhead, many times faster on a shared machine)."""

    def __init__(self, n: int) -> None:
        self.n, self.prev = n, torch.get_num_threads()

    def __enter__(self) -> None:
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.prev)


def rel(p: Path) -> str:
    """``p`` relative to the repository when it lies inside it (for messages)."""
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every document generator takes (``--quick``, where files go)."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--quick", action="store_true", help="small sweeps, tiny model only (tests)")
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the JSON files go")
    ap.add_argument("--docs-dir", type=Path, default=DOCS_DIR, help="where the documents go")
    return ap
