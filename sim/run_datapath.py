"""Bring-up bench of the RTL engine's datapath: which layer differs first.

    python -m sim.run_datapath --export DIR [--task T] [--seed S] [--latency LO HI]
                               [--gaps P] [--out DIR]

``edgemoe_datapath`` alone (no AXI shell: ``sim/cocotb/test_datapath.py`` serves
its dp_* ports from a Python DDR model) runs one seeded random image of the
export. At each sequencer state where a layer is complete, the chip buffer that
holds it is compared, word by word, with the C simulation's trace of that layer
(``sim.csim.CSim.run(..., layers=True)``): the first row with differing words
names the layer to look at. The checkpoints assume a resident model (one token
block: tiny). Prints one line per checkpoint and the output's differing words;
exit 0 when everything matches, 1 otherwise. A debugging tool: ``make test``
runs the whole engine through ``sim.engine`` instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from sim.engine import BUILD, build, tables_dir
from sim.rtl import cocotb_test

TOP = "edgemoe_datapath"


def run(
    export: Path,
    task: int,
    out: Path,
    seed: int = 3,
    latency: tuple[int, int] = (1, 1),
    gaps: float = 0.0,
    watch: dict | None = None,
) -> dict:
    """Build (or reuse) the datapath, run one image; the testbench's result with the
    output's ``differing`` words against the C simulation added."""
    import torch

    from sim.csim import CSim

    cs = CSim(export)
    out.mkdir(parents=True, exist_ok=True)
    cfgm = cs.manifest["config"]
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((cfgm["in_chans"], *cfgm["img_size"])).astype(np.float32)
    raw = cs.quantize(torch.as_tensor(image))
    io = cs.new_io()
    cs.write_image(io, raw)
    (out / "io_in.bin").write_bytes(io.tobytes())
    ref = cs.run_raw(raw, task, layers=True)
    np.savez(out / "ref.npz", **ref)
    pkg = (tables_dir() / "edgemoe_regs_pkg.sv").read_text()
    runner, bdir, _ = build(cs.act_w, BUILD, top=TOP)
    gd_count = int(re.search(r"GD_COUNT = (\d+)", pkg).group(1))  # type: ignore[union-attr]
    cfg = {
        "params": str(export / "params.bin"),
        "io": str(out / "io_in.bin"),
        "task": task,
        "result": str(out / "result.json"),
        "io_out": str(out / "io_out.bin"),
        "gd_count": gd_count,
        "off_blocks": cs.desc["off_blocks"],
        "block_beats": cs.desc["block_beats"],
        "ref": str(out / "ref.npz"),
        "dump": str(out / "buffers.npz"),
        "act_w": cs.act_w,
        "latency": list(latency),
        "gaps": gaps,
        "seed": seed,
        "watch": watch,
    }
    (out / "result.json").unlink(missing_ok=True)
    cocotb_test(runner, "sim.cocotb.test_datapath", TOP, bdir, tables_dir(), cfg)
    if not (out / "result.json").exists():
        raise RuntimeError(f"the datapath testbench wrote no result; see {bdir / 'sim.log'}")
    res = json.loads((out / "result.json").read_text())
    got = cs.read(np.fromfile(out / "io_out.bin", dtype=np.uint8), "io_x", *ref["output"].shape)
    res["differing"] = int((got != ref["output"]).sum())
    res["log"] = str(bdir / "sim.log")
    return res


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="python -m sim.run_datapath", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--export", required=True, type=Path, help="pymodel.export output dir")
    ap.add_argument("--task", type=int, default=0, help="task index")
    ap.add_argument("--seed", type=int, default=3, help="seed of the random image")
    ap.add_argument("--latency", type=int, nargs=2, default=(1, 1), help="DDR cycles lo hi")
    ap.add_argument("--gaps", type=float, default=0.0, help="probability of a beat gap")
    ap.add_argument("--out", type=Path, default=BUILD / "datapath")
    ap.add_argument(
        "--watch",
        type=json.loads,
        help='log signals while one holds a value: \'{"cond": ["ln.st", 3], "signals": '
        '["ln.ir", "ln.x_rdata"], "max": 20}\' (lines in the sim.log)',
    )
    a = ap.parse_args(argv)
    if not (a.export / "manifest.json").is_file():
        print(f"error: {a.export} is not an export (no manifest.json)", file=sys.stderr)
        return 2
    print(f"building / running {TOP} on {a.export} task {a.task} ...", flush=True)
    r = run(a.export.resolve(), a.task, a.out, a.seed, tuple(a.latency), a.gaps, a.watch)
    for c in r["checkpoints"]:
        first = f"  first {c['first'][0]}" if c.get("first") else ""
        print(f"  {c['at']:<18} {c['buffer']:<5} {c['differing']:>5} of {c['of']} differ{first}")
    print(f"done {r['done']}, {r['cycles']} cycles; output: {r['differing']} words differ")
    print(f"buffers at each checkpoint: {a.out / 'buffers.npz'}; log: {r['log']}")
    ok = r["done"] and r["differing"] == 0 and not any(c["differing"] for c in r["checkpoints"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
