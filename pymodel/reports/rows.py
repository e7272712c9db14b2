"""Result files as table rows: platforms, FPGA-vs-GPU/CPU ratios, per-layer cycles.

Each result kind becomes rows with their provenance (label, source file,
machine). Which numbers are compared: the accelerator computes the backbone
(the heads run on the host), so FPGA-vs-GPU/CPU ratios pair each FPGA figure
(a board run's kernel time and energy, the performance model's latency, the
RTL engine's cycles) with the baseline's batch-1 ``backbone`` run of the same
preset. Simulated-board runs are shown with their bit-exactness, but their
times are a simulator's, so they enter no ratio. A ratio takes the weakest
label of its inputs (published < modelled < measured) and names both sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import LABELS, ResultError, read_result
from .anchors import PUBLISHED_RATIOS, PUBLISHED_RUNS, PublishedRun

DASH = "–"
FPGA_BACKENDS = ("board",)  # host-run backends that are real hardware
MAX_JSON_BYTES = 20 << 20  # find_results: larger JSON files are not result files


# ------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class Result:
    """A result file as read: its path and validated contents."""

    path: Path
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def label(self) -> str:
        return self.data["label"]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def machine(self) -> str:
        return machine_text(self.data["machine"])

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def machine_text(m: dict[str, Any]) -> str:
    """A short name of the machine of a result: board, GPU (driver), CPU."""
    parts = []
    if m.get("board"):
        parts.append(str(m["board"]))
    if m.get("gpu"):
        parts.append(f"{m['gpu']} (driver {m['driver']})" if m.get("driver") else str(m["gpu"]))
    if m.get("cpu"):
        parts.append(str(m["cpu"]))
    return ", ".join(parts) or DASH


def load_results(files: Iterable[str | Path]) -> list[Result]:
    """Read and validate every file (:class:`~pymodel.results.ResultError` on a foreign one)."""
    return [Result(Path(f), read_result(f)) for f in files]


def find_results(
    root: str | Path, exclude: str | Path | None = None
) -> tuple[list[Path], list[Path]]:
    """(result files, other JSON files) under ``root``, skipping the folder ``exclude``."""
    root = Path(root)
    skip = Path(exclude).resolve() if exclude else None
    found, other = [], []
    for path in sorted(root.rglob("*.json")):
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        try:
            if path.stat().st_size > MAX_JSON_BYTES:
                raise ResultError("too large")
            read_result(path)
        except (ResultError, OSError):
            other.append(path)
            continue
        found.append(path)
    return found, other


# ------------------------------------------------------------------ rows
def weakest(labels: Iterable[str]) -> str:
    """The label of a number derived from numbers with ``labels``."""
    labels = set(labels)
    for label in ("published", "modelled", "measured"):
        if label in labels:
            return label
    raise ValueError("no labels")


@dataclass
class Row:
    """One platform's latency (and energy) per frame, with its provenance."""

    platform: str
    role: str  # fpga | gpu | cpu | sim
    preset: str
    task: str
    scope: str
    label: str
    source: str
    machine: str
    batch: int | None = 1
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    energy_j: float | None = None  # per frame, idle subtracted
    total_j: float | None = None  # per frame, idle included
    idle_w: float | None = None
    note: str = ""
    short: str = ""  # a shorter name for plots


def _lat(lat: Any) -> tuple[float | None, float | None, float | None]:
    if isinstance(lat, dict):
        return lat.get("p50_ms"), lat.get("p90_ms"), lat.get("p99_ms")
    if isinstance(lat, (int, float)):
        return float(lat), None, None
    return None, None, None


def _energy(e: Any) -> tuple[float | None, float | None, float | None]:
    if not isinstance(e, dict):
        return None, None, None
    return e.get("net_j_per_frame"), e.get("j_per_frame"), e.get("idle_w")


def _host_rows(r: Result) -> list[Row]:
    real = r.get("backend") in FPGA_BACKENDS
    board = r.data["machine"].get("board") or "board"
    numerics = r.get("numerics")
    if real:
        platform = f"{board} FPGA" + (f" ({numerics})" if numerics else "")
    else:
        platform = f"simulated board ({', '.join(x for x in (r.get('backend'), numerics) if x)})"
    net, total, idle = _energy(r.get("energy"))
    common = dict(
        role="fpga" if real else "sim",
        preset=r.get("preset"),
        task=r.get("task"),
        label=r.label,
        source=r.name,
        machine=r.machine,
        energy_j=net,
        total_j=total,
        idle_w=idle,
        note="" if real else "a simulator's wall time, not FPGA latency",
    )
    p50, p90, p99 = _lat(r.get("latency"))
    rows = [Row(platform, scope="host, end to end", p50_ms=p50, p90_ms=p90, p99_ms=p99, **common)]
    if r.get("kernel_ms") is not None:
        p50, p90, p99 = _lat(r.get("kernel_ms"))
        rows.append(
            Row(platform, scope="accelerator kernel", p50_ms=p50, p90_ms=p90, p99_ms=p99, **common)
        )
    return rows


def _baseline_rows(r: Result) -> list[Row]:
    m, dtype = r.data["machine"], r.get("dtype", "fp32")
    cuda = r.get("device") == "cuda"
    if cuda:
        platform = f"GPU {m.get('gpu') or 'CUDA'} ({dtype})"
    else:
        n = r.get("threads", m.get("threads"))
        platform = f"CPU {m.get('cpu', '')} ({n} thread{'' if n == 1 else 's'}, {dtype})"
    load = r.get("loadavg_before")
    load_note = f"1-min load {load[0]:.1f} at start" if load else ""
    rows = []
    for run in r.get("runs", []):
        p50, p90, p99 = _lat(run.get("latency"))
        net, total, idle = _energy(run.get("energy"))
        rows.append(
            Row(
                platform,
                role="gpu" if cuda else "cpu",
                preset=r.get("preset"),
                task=r.get("task"),
                scope="backbone" if run.get("mode") == "backbone" else "backbone + head",
                label=r.label,
                source=r.name,
                machine=r.machine,
                batch=run.get("batch"),
                p50_ms=p50,
                p90_ms=p90,
                p99_ms=p99,
                energy_j=net,
                total_j=total,
                idle_w=idle,
                note="; ".join(
                    x for x in ("" if run.get("energy") else "energy not measured", load_note) if x
                ),
            )
        )
    return rows


def _kernel_row(r: Result, platform: str, ms: float) -> Row:
    """The accelerator-kernel latency of a model or simulation result."""
    return Row(
        platform,
        role="fpga",
        preset=r.get("preset") or DASH,
        task=r.get("task") or DASH,
        scope="accelerator kernel",
        label=r.label,
        source=r.name,
        machine=r.machine,
        p50_ms=ms,
    )


def _perf_rows(r: Result) -> list[Row]:
    board = str(r.get("board")).upper() if r.get("board") else "FPGA"
    ms = float(r.get("latency_ms"))
    numerics = f" ({r.get('numerics')})" if r.get("numerics") else ""
    return [_kernel_row(r, f"{board} model at {r.get('clock_mhz'):g} MHz{numerics}", ms)]


def _rtl_rows(r: Result) -> list[Row]:
    ms = r.get("ms")
    ms = float(ms) if ms is not None else float(r.get("cycles")) / (r.get("clock_mhz") * 1e3)
    return [_kernel_row(r, f"RTL engine sim at {r.get('clock_mhz'):g} MHz", ms)]


ROW_MAKERS = {
    "host-run": _host_rows,
    "baseline": _baseline_rows,
    "perf-model": _perf_rows,
    "rtl-engine": _rtl_rows,
}


def platform_rows(results: Sequence[Result]) -> list[Row]:
    """One row per platform, scope and batch size of every result."""
    return [row for r in results for row in ROW_MAKERS[r.kind](r)]


def published_rows(presets: Iterable[str] | None = None) -> list[Row]:
    """The published runs as rows (only those of ``presets`` when given)."""
    keep = set(presets) if presets is not None else None
    rows = []
    for p in PUBLISHED_RUNS:
        if keep is not None and p.preset not in keep:
            continue
        rows.append(published_row(p))
    return rows


def published_row(p: PublishedRun) -> Row:
    return Row(
        f"{p.work}: {p.platform}, {p.model}",
        role=p.role,
        preset=p.preset or DASH,
        task=DASH,
        scope=p.note or DASH,
        label="published",
        source=p.citation,
        machine=p.platform,
        p50_ms=p.latency_ms,
        energy_j=p.energy_j,
        short=f"{p.work}: {p.platform.split(',')[0]}, {p.model}",
    )


@dataclass
class Ratio:
    """An FPGA figure against another platform's: how many times better the FPGA is."""

    fpga: str
    versus: str
    preset: str
    metric: str  # speed-up (latency) | energy efficiency (J per frame)
    value: float
    label: str
    source: str
    machine: str
    exact: bool = False  # a published factor, shown as published

    @property
    def versus_role(self) -> str:
        return "gpu" if "GPU" in self.versus else "cpu" if "CPU" in self.versus else "fpga"


def _same_model(a: str, b: str, known: set[str]) -> bool:
    """Two rows are about the same model: equal presets, or one unknown and one preset in all."""
    if a == b:
        return True
    return DASH in (a, b) and len(known) <= 1


def fpga_ratios(rows: Sequence[Row]) -> list[Ratio]:
    """FPGA (board kernel, performance model, RTL engine) vs batch-1 GPU/CPU backbone runs."""
    known = {r.preset for r in rows if r.preset != DASH}
    fpga = [r for r in rows if r.role == "fpga" and r.scope == "accelerator kernel"]
    base = [r for r in rows if r.role in ("gpu", "cpu") and r.scope == "backbone" and r.batch == 1]
    out = []
    for f in fpga:
        for b in base:
            if not _same_model(f.preset, b.preset, known):
                continue
            common = dict(
                fpga=f.platform,
                versus=b.platform,
                preset=b.preset,
                label=weakest([f.label, b.label]),
                source=f"{f.source} vs {b.source}",
                machine=f"{f.machine} vs {b.machine}",
            )
            if f.p50_ms and b.p50_ms:
                out.append(Ratio(metric="speed-up", value=b.p50_ms / f.p50_ms, **common))
            if f.energy_j and b.energy_j:
                out.append(
                    Ratio(metric="energy efficiency", value=b.energy_j / f.energy_j, **common)
                )
    return out


def published_ratio_rows() -> list[Ratio]:
    """The published claims, and M3ViT's FPGA-vs-GPU energy ratio from its own table."""
    out = [
        Ratio(
            fpga=p.work + (f" ({p.note})" if p.note else ""),
            versus=p.versus,
            preset=DASH,
            metric=p.metric,
            value=p.ratio,
            label="published",
            source=p.citation,
            machine="as published",
            exact=True,
        )
        for p in PUBLISHED_RATIOS
    ]
    by_key = {(p.preset, p.model): p for p in PUBLISHED_RUNS if p.work == "M3ViT"}
    for preset in sorted({p.preset for p in PUBLISHED_RUNS if p.work == "M3ViT"}):
        fpga = by_key.get((preset, "MoE-ViT-S, with patch reordering"))
        gpu = by_key.get((preset, "MoE-ViT-S"))
        if fpga and gpu and fpga.energy_j and gpu.energy_j:
            out.append(
                Ratio(
                    fpga=f"M3ViT {fpga.platform} ({fpga.model})",
                    versus=f"{gpu.platform} ({gpu.model})",
                    preset=preset,
                    metric="energy efficiency",
                    value=gpu.energy_j / fpga.energy_j,
                    label="published",
                    source=f"{fpga.citation} (ratio of its table's energies)",
                    machine=f"{fpga.platform} vs {gpu.platform}",
                )
            )
    return out


@dataclass
class LayerRow:
    layer: str
    cycles: int
    ms: float
    label: str
    source: str
    machine: str


def layer_rows(results: Sequence[Result]) -> list[LayerRow]:
    """Per-layer cycles: the performance model's and the RTL engine's, in one long table."""
    rows = []
    for r in results:
        clock = float(r.get("clock_mhz") or 0) or None
        if r.kind == "perf-model":
            items = [(str(x.get("name")), x.get("cycles")) for x in r.get("layers") or []]
        elif r.kind == "rtl-engine":
            items = [(str(k), v) for k, v in (r.get("cycles_per_layer") or {}).items()]
        else:
            continue
        for name, cycles in items:
            if cycles is None:
                continue
            ms = float(cycles) / (clock * 1e3) if clock else float("nan")
            rows.append(LayerRow(name, int(cycles), ms, r.label, r.name, r.machine))
    # the model's layer order first, RTL-only layers after; modelled before measured
    order = {}
    for row in rows:
        order.setdefault(row.layer, len(order))
    return sorted(rows, key=lambda x: (order[x.layer], LABELS.index(x.label)))
