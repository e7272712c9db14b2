"""``make hls``: export a preset and run the Vitis HLS flow (csim, csynth, cosim, export).

Stops with a message naming what is missing, and a non-zero exit code, when
``vitis_hls`` is not on PATH (bit-exact C simulation without Vitis: ``make csim``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TCL = ROOT / "hls" / "tcl" / "run_hls.tcl"
STAGES = ("csim", "csynth", "cosim", "export")
MISSING = 3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.hls_flow", description=__doc__)
    p.add_argument("--preset", default="tiny", help="model preset (default tiny: cosim is slow)")
    p.add_argument("--numerics", default="hw16", choices=("hw16", "edgemoe"))
    p.add_argument("--checkpoint", help="weights (default: seeded random)")
    p.add_argument("--stages", nargs="+", default=["csim", "csynth"], choices=STAGES)
    p.add_argument("--export-dir", help="reuse this export instead of writing one")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    vitis = shutil.which("vitis_hls")
    if vitis is None:
        print(
            "make hls: vitis_hls not found on PATH. Install AMD Vitis HLS (2022.2 or newer) and "
            "source its settings64.sh; it runs csim/csynth/cosim/export of hls/tcl/run_hls.tcl. "
            "Without it, `make csim` runs the bit-exact C simulation with g++.",
            file=sys.stderr,
        )
        return MISSING
    out = Path(args.export_dir or ROOT / "build" / "hls" / f"export-{args.preset}-{args.numerics}")
    if not args.export_dir:
        from pymodel.export import export_from_cli

        export_from_cli(
            args.preset, out, checkpoint=args.checkpoint, numerics=args.numerics, seed=args.seed,
            golden=True,
        )  # fmt: skip
        print(f"exported {args.preset} ({args.numerics}) to {out}")
    cmd = [vitis, "-f", str(TCL), "-tclargs", str(out), *args.stages]
    print(" ".join(cmd))
    return subprocess.run(cmd, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
