"""The hardware half of ``make demo``: export, the simulated board, the CPU baseline, the model.

After :mod:`pymodel.demo` has trained and calibrated the model, :func:`run_hardware`

1. exports it for the accelerator in each fixed-point preset the engine runs
   (:data:`BOARD_NUMERICS`: hw16, and hw8 where the presets have it and it
   exports on the model), on the default design with room for the model's tasks;
2. runs every task on a few validation frames through the host runtime
   (:class:`host.Accelerator`) on the simulated board, whose logic is the C
   simulation of the HLS engine, and compares the tokens it reads back with the
   golden fixed-point forward (:func:`pymodel.numerics.forward.backbone_forward`)
   integer for integer, counting the differing words;
3. times the float model on this CPU (:func:`host.baseline.baseline`, energy
   from RAPL when readable, else latency only);
4. takes the ZCU104 latency of each export from the performance model (the
   export's ``report.json``, MODELLED).

Each writes a result file (:mod:`pymodel.results` envelope) under
``results/``, so the demo's report is the comparison report of
:mod:`pymodel.reports.comparison` over those files, with the demo's own
sections (:func:`render_bit_exactness`) added.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from host.baseline import latency_stats

from .export import Design, HlsExportError, export_hls
from .export.writer import sha256_file
from .numerics.forward import backbone_forward
from .numerics.presets import PRESETS
from .results import envelope, machine, write_result

#: The fixed-point presets exported and run on the simulated board (hw8 when it exists).
BOARD_NUMERICS: tuple[str, ...] = tuple(n for n in ("hw16", "hw8") if n in PRESETS)
SIM_BOARD = "ZCU104 (simulated)"
SIM_NOTE = (
    "simulated board: the host runtime drives the g++ C simulation of the HLS engine "
    "through pynq; its times are this machine's simulation wall time, not FPGA latency"
)
#: A factory of the simulated board's PL for an export directory (None: the C simulation).
PLFactory = Callable[[Path], Any]


def demo_design(cfg: Any) -> Design:
    """The default design, with the synthesis maxima widened to the model's task count."""
    d = Design()
    return d.with_(tasks=cfg.num_tasks) if cfg.num_tasks > d.maxima.tasks else d


def export_model(
    model: Any,
    numerics: str,
    out_dir: str | Path,
    *,
    checkpoint: str | Path,
    golden_image: torch.Tensor,
    calibration: str,
    design: Design,
) -> Path:
    """Export the calibrated ``model`` in ``numerics``; the manifest names the checkpoint
    (with its sha256, so the baseline rebuilds exactly this model) and ``golden/`` holds
    ``golden_image`` with every task's golden output."""
    ckpt = Path(checkpoint)
    info = {"path": str(ckpt), "sha256": sha256_file(ckpt), "calibrated_on": calibration}
    return export_hls(
        model, numerics, out_dir, checkpoint_info=info, golden_image=golden_image, design=design
    )


def check_board(
    export_dir: str | Path,
    model: Any,
    images: torch.Tensor,
    *,
    pl: PLFactory | None = None,
    source: str = "edgemoe demo (pymodel.demo_hw.check_board)",
) -> dict[str, Any]:
    """Run every task of the export on each image (N, C, H, W) on the simulated board.

    The tokens read back are compared with the golden fixed-point forward of
    ``model`` in the export's numerics as int64 arrays; the counts of differing
    words per task are in ``checks``. Returns a ``host-run`` result (label
    measured; its times are simulation wall time). ``pl`` replaces the board's
    logic (e.g. a corrupting one in a test).
    """
    from host import Accelerator

    export_dir = Path(export_dir)
    manifest = json.loads((export_dir / "manifest.json").read_text())
    numerics = manifest["numerics"]["name"]
    tasks = list(manifest["tasks"])
    checks: dict[str, dict[str, Any]] = {}
    total, kernel = [], []
    kwargs = {} if pl is None else {"pl": pl(export_dir)}
    with Accelerator.open(backend="csim", export=export_dir, **kwargs) as acc:
        acc.load(export_dir)
        for task in tasks:
            diffs, words = [], 0
            for image in images:
                result = acc.run(image.numpy().astype(np.float32), task, head=False)
                golden = backbone_forward(model, image[None], task, numerics).raw[0].numpy()
                if result.raw.shape != golden.shape:
                    raise ValueError(
                        f"{export_dir}: the board returned tokens {result.raw.shape}, the "
                        f"golden forward {golden.shape}"
                    )
                diffs.append(int((result.raw != golden.astype(np.int64)).sum()))
                words += int(golden.size)
                total.append(sum(result.timings.values()))
                kernel.append(result.timings["kernel"])
            checks[task] = {
                "frames": len(diffs),
                "words": words,
                "differing": sum(diffs),
                "worst_frame_differing": max(diffs),
                "bit_exact": not any(diffs),
            }
    frames = sum(c["frames"] for c in checks.values())
    payload = {
        "backend": "csim",
        "preset": manifest["preset"],
        "task": "all" if len(tasks) > 1 else tasks[0],
        "tasks": tasks,
        "numerics": numerics,
        "export": str(export_dir),
        "frames": frames,
        "latency": latency_stats(total),
        "kernel_ms": latency_stats(kernel),
        "kernel_time": "C-simulation wall time",
        "energy": None,
        "bit_exact": all(c["bit_exact"] for c in checks.values()),
        "checks": checks,
        "image": f"{len(images)} validation image(s) per task, quantised by the host runtime",
        "note": SIM_NOTE,
    }
    return envelope("host-run", "measured", source, machine_info=_board_machine(), **payload)


def _board_machine() -> dict[str, Any]:
    m = machine()
    m["board"] = SIM_BOARD
    return m


def perf_result(export_dir: str | Path) -> dict[str, Any]:
    """The export's MODELLED ZCU104 latency (its ``report.json``) as a ``perf-model`` result."""
    export_dir = Path(export_dir)
    report = json.loads((export_dir / "report.json").read_text())
    payload = {k: v for k, v in report.items() if k not in ("kind", "label")}
    source = f"pymodel.perf (export_hls wrote {export_dir}/report.json)"
    return envelope("perf-model", "modelled", source, **payload)


def cpu_baseline(
    export_dir: str | Path,
    *,
    seconds: float,
    threads: int | None = 1,
    warmup: int = 3,
    idle_seconds: float = 2.0,
) -> dict[str, Any]:
    """The float model of the export timed on this CPU, batch 1 (a ``baseline`` result).

    ``threads``: torch CPU threads for the timing (restored afterwards; None: torch's
    default). One by default: a batch-1 forward of a small model is a chain of short
    parallel regions, and on a shared machine a second thread waiting for a busy core
    stalls every one of them, so one thread measures the model, not the neighbours.
    """
    from host.baseline import baseline

    before = torch.get_num_threads()
    try:
        return baseline(
            device="cpu",
            export=export_dir,
            seconds=seconds,
            warmup=warmup,
            idle_seconds=idle_seconds,
            threads=threads,
            source=f"edgemoe demo (host.baseline.baseline --device cpu --export {export_dir}"
            + (f" --threads {threads})" if threads else ")"),
            progress=False,
        )
    finally:
        torch.set_num_threads(before)


def run_hardware(
    model: Any,
    out_dir: str | Path,
    *,
    checkpoint: str | Path,
    golden_image: torch.Tensor,
    calibration: str,
    frames: torch.Tensor,
    numerics: Sequence[str] = BOARD_NUMERICS,
    baseline_seconds: float = 3.0,
    baseline_threads: int | None = 1,
    pl: PLFactory | None = None,
    say: Callable[..., Any] = print,
) -> dict[str, Any]:
    """Export, check on the simulated board, baseline and model; write the result files.

    ``model`` is calibrated in every preset of ``numerics``. Returns the summary
    that goes into metrics.json: the design, each export (or why it was
    skipped), the per-task checks, and the result files (relative to
    ``out_dir``) the report is rendered from.
    """
    out = Path(out_dir)
    res_dir = out / "results"
    design = demo_design(model.cfg)
    exports: dict[str, str] = {}
    skipped: dict[str, str] = {}
    checks: dict[str, Any] = {}
    files: list[str] = []

    def save(name: str, data: dict[str, Any]) -> None:
        files.append(str(write_result(res_dir / name, data).relative_to(out)))

    for n in numerics:
        try:
            d = export_model(
                model,
                n,
                out / "export" / f"{model.cfg.name}-{n}",
                checkpoint=checkpoint,
                golden_image=golden_image,
                calibration=calibration,
                design=design,
            )
        except HlsExportError as exc:
            skipped[n] = str(exc)
            say(f"      {n:8s} not exported: {exc}")
            continue
        exports[n] = str(d.relative_to(out))
        run = check_board(d, model, frames, pl=pl)
        checks[n] = run["checks"]
        bad = sum(c["differing"] for c in run["checks"].values())
        say(
            f"      {n:8s} exported to {d}; {run['frames']} frames on the simulated board: "
            f"{'bit-exact' if run['bit_exact'] else f'{bad} words DIFFER'}"
        )
        save(f"host-run-{model.cfg.name}-{n}.json", run)
        save(f"perf-model-{model.cfg.name}-{n}.json", perf_result(d))
    base = None
    if exports:
        first = out / next(iter(exports.values()))
        base = cpu_baseline(first, seconds=baseline_seconds, threads=baseline_threads)
        save(f"baseline-cpu-{model.cfg.name}.json", base)
        meter = base["energy_meter"]
        p50 = base["runs"][0]["latency"]["p50_ms"]
        energy = "with energy" if meter["available"] else f"latency only ({meter['reason']})"
        say(f"      CPU baseline: backbone p50 {p50:.2f} ms, {energy}")
    # no export at all is a failure too: nothing was checked
    bit_exact = bool(checks) and all(
        c["bit_exact"] for per in checks.values() for c in per.values()
    )
    return {
        "design": design.to_dict(),
        "frames_per_task": int(frames.shape[0]),
        "exports": exports,
        "skipped": skipped,
        "checks": checks,
        "bit_exact": bit_exact,
        "cpu_energy": None if base is None else base["energy_meter"],
        "result_files": files,
    }


def render_bit_exactness(hw: dict[str, Any]) -> str:
    """The demo's bit-exactness section (markdown) from :func:`run_hardware`'s summary."""
    lines = [
        "## Bit-exactness on the simulated board",
        "",
        "Every task of each export run through the host runtime (`host.Accelerator`, "
        "pynq) on the simulated board, whose logic is the C simulation of the HLS engine; the "
        "output tokens compared with the golden fixed-point forward as integers. Label: "
        "measured (simulation), source: the host-run result file of the export.",
        "",
        "| numerics | task | frames | words compared | differing words | bit-exact | label "
        "| source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, per in hw["checks"].items():
        src = Path(hw["exports"][n]).name
        for task, c in per.items():
            lines.append(
                f"| `{n}` | {task} | {c['frames']} | {c['words']} | {c['differing']} | "
                f"{'yes' if c['bit_exact'] else 'NO'} | measured | `host-run-{src}.json` |"
            )
    for n, why in hw["skipped"].items():
        lines.append(f"| `{n}` | – | – | – | – | not exported: {why} | – | – |")
    verdict = (
        "Every task of every export is bit-exact."
        if hw["bit_exact"]
        else "NOT bit-exact: the simulated board's tokens differ from the golden forward."
    )
    design = hw["design"]
    lines += [
        "",
        f"**{verdict}**",
        "",
        f"Design: the default engine design point with synthesis maxima of "
        f"{design['maxima']['tasks']} tasks (`pymodel.export.Design`), at "
        f"{design['clock_mhz']:g} MHz; exports in "
        + ", ".join(f"`{p}`" for p in hw["exports"].values())
        + ".",
    ]
    meter = hw.get("cpu_energy")
    if meter is not None and not meter["available"]:
        lines += [
            "",
            f"CPU baseline: latency only; energy not measured ({meter['reason']}).",
        ]
    return "\n".join(lines)
