"""``make csim``: bit-exact C simulation of the HLS engine for every task of a preset.

For each numerics preset (edgemoe, calibrated hw16 and hw8 by default): build
the model (a checkpoint, or seeded random weights with non-trivial biases,
gains and embeddings), export it, run the g++ C simulation of the HLS top
function for every task on a seeded image that calibration never saw, and
compare every output word with the golden fixed-point forward. Prints a table
and writes ``build/csim/results.json`` (preset, numerics, task, values
compared, differing values, the golden run's saturated/wrapped values, max
|error| against the float model). Exit code 1 if any value differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
NUMERICS = ("edgemoe", "hw16", "hw8")


def test_image(cfg: Any, seed: int) -> torch.Tensor:
    """The (1, C, H, W) image ``make csim`` runs: its own seed stream, never one
    of the calibration images (those are drawn from ``seed`` itself)."""
    gen = torch.Generator().manual_seed(seed + 1_000_003)
    return torch.randn(1, cfg.in_chans, *cfg.img_size, generator=gen)


def compare(
    preset: str,
    numerics: str,
    *,
    checkpoint: str | None = None,
    seed: int = 0,
    tasks: list[str] | None = None,
    out_dir: Path = ROOT / "build" / "csim",
) -> list[dict[str, Any]]:
    """C simulation vs golden for every task of ``preset`` in ``numerics``; one row per task."""
    from pymodel import backbone_forward
    from pymodel.export import export_hls, prepare_model
    from sim.csim import CSim

    model, _, info = prepare_model(
        preset, checkpoint=checkpoint, numerics=numerics, seed=seed, perturb=True
    )
    image = test_image(model.cfg, seed)
    export_dir = export_hls(
        model, numerics, out_dir / f"export-{model.cfg.name}-{numerics}", checkpoint_info=info
    )
    sim = CSim(export_dir)
    fmt = sim.output_format
    rows = []
    for task in tasks or list(model.cfg.tasks):
        t0 = time.perf_counter()
        raw = sim.run(image[0], task)
        csim_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = backbone_forward(model, image, task, numerics)
        golden = res.raw[0].numpy()
        golden_s = time.perf_counter() - t0
        ref = backbone_forward(model, image, task, "float").tokens[0].numpy()
        err = abs(raw * 2.0**-fmt.frac_bits - ref).max()
        rows.append(
            {
                "preset": model.cfg.name,
                "numerics": numerics,
                "task": task,
                "weights": "checkpoint" if checkpoint else "seeded random, perturbed",
                "values": int(raw.size),
                "differing": int((raw != golden).sum()),
                "overflowed": sum(v["overflow"] for v in res.overflow.values()),
                "overflow_tensors": sorted(k for k, v in res.overflow.items() if v["overflow"]),
                "max_abs_err_vs_float": float(err),
                "max_abs_float": float(abs(ref).max()),
                "csim_s": round(csim_s, 3),
                "golden_s": round(golden_s, 3),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.run_csim", description=__doc__)
    p.add_argument("--preset", default="edgemoe-t")
    p.add_argument("--numerics", nargs="+", default=["edgemoe", "hw16", "hw8"], choices=NUMERICS)
    p.add_argument("--checkpoint", help="weights (default: seeded random)")
    p.add_argument("--tasks", nargs="+", help="tasks (default: all of the preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "build" / "csim" / "results.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    print(f"{'preset':<12} {'numerics':<8} {'task':<10} {'values':>8} {'differing':>9} "
          f"{'overflowed':>10} {'max|err| vs float':>18} {'csim s':>7}")  # fmt: skip
    for numerics in args.numerics:
        for r in compare(
            args.preset,
            numerics,
            checkpoint=args.checkpoint,
            seed=args.seed,
            tasks=args.tasks,
            out_dir=out.parent,
        ):
            rows.append(r)
            print(
                f"{r['preset']:<12} {r['numerics']:<8} {r['task']:<10} {r['values']:>8} "
                f"{r['differing']:>9} {r['overflowed']:>10} {r['max_abs_err_vs_float']:>18.3g} "
                f"{r['csim_s']:>7.2f}"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "preset": args.preset,
        "seed": args.seed,
        "checkpoint": args.checkpoint,
        "bit_exact": all(r["differing"] == 0 for r in rows),
        "results": rows,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'PASS' if result['bit_exact'] else 'FAIL'}: wrote {out}")
    return 0 if result["bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
