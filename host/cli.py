"""``edgemoe run`` and ``edgemoe check-bitstream``: the host runtime from the command line.

``pymodel.cli`` adds these subcommands with :func:`add_commands`; they import
neither torch nor the model, so they work on a board (``python -m host.cli``
runs them without pymodel's other commands).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .errors import HostError, MismatchError, PowerUnavailable

STAGES = ("upload", "kernel", "download", "head")
CSIM_NOTE = (
    "backend csim: the simulated board's kernel time is C-simulation wall time on this "
    "machine, not hardware latency"
)
RTL_NOTE = (
    "backend rtl: the simulated board's logic is the RTL engine in Verilator; kernel time is "
    "simulation wall time, the engine's cycles are measured in RTL simulation"
)
NOTES = {"csim": CSIM_NOTE, "rtl": RTL_NOTE}
KERNEL_TIME = {"csim": "C-simulation wall time", "rtl": "RTL-simulation wall time"}


def _image(args: argparse.Namespace, export: Any) -> tuple:
    """(description, float image or None, raw image or None) for the run."""
    c, h, w = export.image_shape
    if args.golden:
        golden = export.golden(args.task)
        if golden is None:
            raise HostError(
                f"{export.path} has no golden/ vectors for task {args.task}: export with "
                "--golden (edgemoe export-hls ... --golden)"
            )
        return f"{export.path}/golden/image.bin (the export's golden input)", None, golden
    if args.image:
        from .image import load_image

        return str(args.image), load_image(args.image, (h, w), c), None
    rng = np.random.default_rng(args.seed)
    image = rng.standard_normal((c, h, w)).astype(np.float32)
    return f"seeded standard-normal image (seed {args.seed})", image, None


def cmd_run(args: argparse.Namespace) -> int:
    """Run an export on the board or the simulated board; print and optionally save stats."""
    from . import Accelerator
    from .export import Export
    from .results import envelope, latency_stats, write_json

    backend = args.backend or ("board" if args.bitstream else "csim")
    if args.repeat < 1:
        print("edgemoe run: error: --repeat must be at least 1", file=sys.stderr)
        return 2
    try:
        if args.power:
            from .power import get_rails

            get_rails()  # fail fast, before anything is opened
        export = Export.open(args.export)
        if args.task.isdigit() and int(args.task) < len(export.tasks):
            args.task = export.tasks[int(args.task)]  # an index names its task
        export.task_index(args.task)
        what, image, golden = _image(args, export)
        with Accelerator.open(
            args.bitstream, backend=backend, export=args.export, timeout_s=args.timeout
        ) as acc:
            acc.load(args.export)
            head = not args.no_head
            results = []
            for _ in range(args.repeat):
                if golden is not None:
                    results.append(acc.run_raw(golden[0], args.task, head=head))
                else:
                    results.append(acc.run(image, args.task, head=head))
            energy = None
            if args.power:
                from .power import measure

                def frame() -> None:
                    if golden is not None:
                        acc.run_raw(golden[0], args.task, head=head)
                    else:
                        acc.run(image, args.task, head=head)

                energy = measure(frame, min_frames=args.repeat)
    except (HostError, ValueError, FileNotFoundError) as exc:
        kind = "error" if not isinstance(exc, PowerUnavailable) else "power unavailable"
        print(f"edgemoe run: {kind}: {exc}", file=sys.stderr)
        return 2
    first = results[0]
    stats = {s: latency_stats([r.timings[s] for r in results]) for s in STAGES}
    stats["total"] = latency_stats([sum(r.timings.values()) for r in results])
    print(
        f"backend {backend}: {acc.bitstream.bit.name} ({acc.bitstream.engine} engine), export "
        f"{export.path} ({export.preset}, {export.numerics}), task {first.task}"
    )
    if backend in NOTES:
        print(f"note: {NOTES[backend]}")
    rtl = acc.sim.pl.last if backend == "rtl" and acc.sim is not None else None
    if rtl is not None and rtl.get("cycles") is not None:
        mhz = float(acc.bitstream.manifest.get("clock_mhz") or export.design["clock_mhz"])
        print(
            f"engine cycles (last frame, MEASURED in RTL simulation): {rtl['cycles']} = "
            f"{rtl['cycles'] / mhz / 1e3:.3f} ms at {mhz:g} MHz"
        )
    print(f"image: {what}")
    head_shape = "none" if first.head is None else "x".join(map(str, first.head.shape))
    print(
        f"{len(results)} frame(s): status {first.status}, tokens "
        f"{'x'.join(map(str, first.raw.shape))}, head {head_shape}"
    )
    print(f"{'latency ms':<12}{'p50':>10}{'p90':>10}{'p99':>10}")
    for s, v in stats.items():
        if v:
            print(f"  {s:<10}{v['p50']:>10.3f}{v['p90']:>10.3f}{v['p99']:>10.3f}")
    bit_exact: bool | None = None
    if golden is not None:
        diffs = [int((r.raw != golden[1]).sum()) for r in results]
        bit_exact = not any(diffs)
        print(
            f"bit-exact vs golden/expected_task{export.task_index(args.task)}.bin: "
            f"{'yes' if bit_exact else 'NO'} (worst frame: {max(diffs)} of {golden[1].size} "
            "values differ)"
        )
    if energy is not None:
        for rail, e in energy["rails"].items():
            print(
                f"energy {rail}: {e['energy_per_frame_j'] * 1e3:.2f} mJ/frame above idle "
                f"({e['idle_w']:.2f} W idle, {e['run_w']:.2f} W running), "
                f"{e['total_energy_per_frame_j'] * 1e3:.2f} mJ/frame total"
            )
    if args.json:
        payload: dict[str, Any] = {
            "backend": backend,
            "kernel_time": KERNEL_TIME.get(backend, "hardware"),
            "note": NOTES.get(backend),
            "rtl_cycles": rtl.get("cycles") if rtl is not None else None,
            "bitstream": {
                "path": str(acc.bitstream.bit),
                "engine": acc.bitstream.engine,
                "clock_mhz": acc.bitstream.manifest.get("clock_mhz"),
                "interface_hash": acc.bitstream.interface.get("hash"),
            },
            "export": str(export.path),
            "preset": export.preset,
            "numerics": export.numerics,
            "task": first.task,
            "image": what,
            "frames": len(results),
            "status": first.status,
            "latency_ms": stats,
            # the shared result format (pymodel.results KINDS): host to host, and the kernel
            "latency": {f"{k}_ms": v for k, v in stats["total"].items()},
            "kernel_ms": {f"{k}_ms": v for k, v in stats["kernel"].items()},
            "energy": energy,
            "result": first.to_json(),
        }
        if bit_exact is not None:
            payload["bit_exact"] = bit_exact
        board = "ZCU104" if backend == "board" else "ZCU104 (simulated)"
        out = write_json(args.json, envelope("host-run", "measured", payload, board))
        print(f"wrote {out}")
    return 0 if bit_exact is not False else 1


def cmd_check_bitstream(args: argparse.Namespace) -> int:
    """Check a .bit/.hwh against an export: engine IP present, registers at the same offsets."""
    from .bitstream import Bitstream, check_export
    from .export import Export
    from .hwh import check_registers, read_engine

    path = Path(args.bitstream)
    hwh = path if path.suffix == ".hwh" else path.with_suffix(".hwh")
    try:
        export = Export.open(args.export)
    except HostError as exc:
        print(f"edgemoe check-bitstream: error: {exc}", file=sys.stderr)
        return 2
    vlnv = f"xilinx.com:hls:{export.interface['top']}:1.0"
    try:
        if not hwh.is_file():
            raise MismatchError(f"{hwh} is missing (pynq.Overlay needs it beside the .bit)")
        name, ip = read_engine(hwh, vlnv, args.ip or "")
        problems: list[str] = check_registers(ip["registers"], export.interface)
        if problems:
            raise MismatchError(f"{hwh.name}: {'; '.join(problems)}")
        checked = "registers"
        bit = hwh.with_suffix(".bit")
        if (hwh.parent / "manifest.json").is_file() and bit.is_file():
            check_export(export, Bitstream.open(bit))
            checked += ", act_w, interface hash, maxima and design (manifest.json)"
    except HostError as exc:
        print(f"FAIL: {exc}")
        return 1
    print(
        f"OK: {hwh} has {name} ({vlnv}) at {ip['phys_addr']:#x} with the export's "
        f"{len(export.interface['register_map'])} registers; checked {checked}"
    )
    return 0


def add_commands(sub: Any) -> None:
    """Add ``run`` and ``check-bitstream`` to an argparse subparsers object."""
    q = sub.add_parser("run", help="run an export on the ZCU104 or the simulated board")
    q.add_argument("export", help="export directory (edgemoe export-hls --out DIR)")
    q.add_argument("--task", required=True, help="task name (or index)")
    q.add_argument("--image", help="PNG/JPEG (normalised as in training) or .npy (C, H, W)")
    q.add_argument(
        "--golden",
        action="store_true",
        help="run the export's golden input and compare with golden/ bit for bit",
    )
    q.add_argument(
        "--backend",
        choices=("board", "csim", "rtl"),
        help="board (needs --bitstream), csim (the HLS engine in C simulation; default "
        "without --bitstream) or rtl (the RTL engine in Verilator, much slower)",
    )
    q.add_argument("--bitstream", help="FILE.bit with its .hwh and manifest.json beside it")
    q.add_argument("--repeat", type=int, default=1, help="frames to run (default 1)")
    q.add_argument(
        "--power",
        action="store_true",
        help="energy per frame from the PMBus rails (ZCU104 running PYNQ)",
    )
    q.add_argument("--no-head", action="store_true", help="backbone only (skip the task head)")
    q.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for ap_done")
    q.add_argument("--seed", type=int, default=0, help="seed of the random image")
    q.add_argument("--json", help="write the result file (host-run envelope) here")
    q.set_defaults(func=cmd_run)

    q = sub.add_parser("check-bitstream", help="check a .bit/.hwh against an export")
    q.add_argument("bitstream", help="FILE.bit or FILE.hwh")
    q.add_argument("--export", required=True, help="export directory")
    q.add_argument("--ip", help="engine instance name (default: found by VLNV)")
    q.set_defaults(func=cmd_check_bitstream)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host.cli", description=__doc__)
    add_commands(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
