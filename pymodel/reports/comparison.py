"""The comparison report: FPGA against the GPU/CPU baseline and the published anchors.

``write_report(result_files, out_dir)`` reads result files (any mix of the
kinds in :data:`pymodel.results.KINDS`: host runs on the board or the
simulated board, baselines, the performance model, RTL-engine cycles) and
writes ``out_dir/report.md`` with PNG plots beside it; ``summary(...)`` is
the one-screen text of the same numbers. Numbers are never typed here: they
come from the result files or from :mod:`pymodel.reports.anchors`.

Every table row carries its ``label`` (measured, modelled, published), its
``source`` (the result file's name, or the citation) and its ``machine``; a
number derived from several (a ratio) takes the weakest label of its inputs
(published < modelled < measured) and names every source. Prose lines hold
no numbers.

Which numbers are compared: the accelerator computes the backbone (the heads
run on the host), so FPGA-vs-GPU/CPU ratios pair each FPGA figure (a board
run's kernel time and energy, the performance model's latency, the RTL
engine's cycles) with the baseline's batch-1 ``backbone`` run of the same
preset. Simulated-board runs are shown with their bit-exactness but their
times are a simulator's, so they enter no ratio.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..results import LABELS, ResultError, read_result
from .anchors import PUBLISHED_RATIOS, PUBLISHED_RUNS, REFERENCES, PublishedRun

DASH = "–"
FPGA_BACKENDS = ("board",)  # host-run backends that are real hardware
ROLE_COLOURS = {"fpga": "tab:green", "gpu": "tab:blue", "cpu": "tab:orange", "sim": "tab:gray"}
LABEL_HATCH = {"measured": "", "modelled": "//", "published": "xx"}
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
    batch: int | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    energy_j: float | None  # per frame, idle subtracted
    total_j: float | None  # per frame, idle included
    idle_w: float | None
    label: str
    source: str
    machine: str
    note: str = ""
    result: Result | None = field(default=None, repr=False)
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
    backend = r.get("backend")
    real = backend in FPGA_BACKENDS
    board = r.data["machine"].get("board") or "board"
    platform = f"{board} FPGA" if real else f"simulated board ({backend})"
    note = "" if real else "a simulator's wall time, not FPGA latency"
    common = dict(
        role="fpga" if real else "sim",
        preset=r.get("preset"),
        task=r.get("task"),
        batch=1,
        label=r.label,
        source=r.name,
        machine=r.machine,
        result=r,
    )
    energy = _energy(r.get("energy"))
    rows = [
        Row(platform, scope="host, end to end", p50_ms=_lat(r.get("latency"))[0],
            p90_ms=_lat(r.get("latency"))[1], p99_ms=_lat(r.get("latency"))[2],
            energy_j=energy[0], total_j=energy[1], idle_w=energy[2], note=note, **common)
    ]  # fmt: skip
    if r.get("kernel_ms") is not None:
        p50, p90, p99 = _lat(r.get("kernel_ms"))
        rows.append(
            Row(platform, scope="accelerator kernel", p50_ms=p50, p90_ms=p90, p99_ms=p99,
                energy_j=energy[0], total_j=energy[1], idle_w=energy[2], note=note, **common)
        )  # fmt: skip
    return rows


def _baseline_rows(r: Result) -> list[Row]:
    device = r.get("device")
    m = r.data["machine"]
    if device == "cuda":
        platform = f"GPU {m.get('gpu') or 'CUDA'} ({r.get('dtype', 'fp32')})"
    else:
        platform = f"CPU {m.get('cpu', '')} ({r.get('threads', m.get('threads'))} threads, "
        platform += f"{r.get('dtype', 'fp32')})"
    rows = []
    for run in r.get("runs", []):
        p50, p90, p99 = _lat(run.get("latency"))
        energy = _energy(run.get("energy"))
        rows.append(
            Row(
                platform,
                role="gpu" if device == "cuda" else "cpu",
                preset=r.get("preset"),
                task=r.get("task"),
                scope="backbone" if run.get("mode") == "backbone" else "backbone + head",
                batch=run.get("batch"),
                p50_ms=p50,
                p90_ms=p90,
                p99_ms=p99,
                energy_j=energy[0],
                total_j=energy[1],
                idle_w=energy[2],
                label=r.label,
                source=r.name,
                machine=r.machine,
                note="" if run.get("energy") else "energy not measured",
                result=r,
            )
        )
    return rows


def _perf_rows(r: Result) -> list[Row]:
    board = str(r.get("board") or "FPGA").upper() if r.get("board") else "FPGA"
    return [
        Row(
            f"{board} model at {r.get('clock_mhz'):g} MHz",
            role="fpga",
            preset=r.get("preset") or DASH,
            task=r.get("task") or DASH,
            scope="accelerator kernel",
            batch=1,
            p50_ms=float(r.get("latency_ms")),
            p90_ms=None,
            p99_ms=None,
            energy_j=None,
            total_j=None,
            idle_w=None,
            label=r.label,
            source=r.name,
            machine=r.machine,
            result=r,
        )
    ]


def _rtl_ms(r: Result) -> float:
    if r.get("ms") is not None:
        return float(r.get("ms"))
    return float(r.get("cycles")) / (float(r.get("clock_mhz")) * 1e3)


def _rtl_rows(r: Result) -> list[Row]:
    return [
        Row(
            f"RTL engine sim at {r.get('clock_mhz'):g} MHz",
            role="fpga",
            preset=r.get("preset") or DASH,
            task=r.get("task") or DASH,
            scope="accelerator kernel",
            batch=1,
            p50_ms=_rtl_ms(r),
            p90_ms=None,
            p99_ms=None,
            energy_j=None,
            total_j=None,
            idle_w=None,
            label=r.label,
            source=r.name,
            machine=r.machine,
            result=r,
        )
    ]


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
        rows.append(_published_row(p))
    return rows


def _published_row(p: PublishedRun) -> Row:
    return Row(
        f"{p.work}: {p.platform}, {p.model}",
        short=f"{p.work}: {p.platform.split(',')[0]}, {p.model}",
        role=p.role,
        preset=p.preset or DASH,
        task=DASH,
        scope=p.note or DASH,
        batch=1,
        p50_ms=p.latency_ms,
        p90_ms=None,
        p99_ms=None,
        energy_j=p.energy_j,
        total_j=None,
        idle_w=None,
        label="published",
        source=p.citation,
        machine=p.platform,
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


# ------------------------------------------------------------------ markdown
def fmt(x: float | None, exact: bool = False) -> str:
    """A number for a table: 4 significant digits at most (``exact``: as given), a dash
    when absent."""
    if x is None or x != x:
        return DASH
    if exact:
        return f"{x:g}"
    ax = abs(x)
    if ax >= 100:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _inputs_section(results: Sequence[Result]) -> list[str]:
    rows = [
        (f"`{r.name}`", r.kind, r.get("created"), f"`{r.get('source')}`", r.label, r.name,
         r.machine)
        for r in results
    ]  # fmt: skip
    return [
        "## Inputs",
        "",
        "The result files this report was rendered from (see docs/RESULTS.md for their format).",
        "",
        *_table(("file", "kind", "created", "written by", "label", "source", "machine"), rows),
    ]


def _platform_section(rows: Sequence[Row]) -> list[str]:
    header = ("platform", "preset", "task", "scope", "batch", "p50 ms", "p90 ms", "p99 ms",
              "energy J/frame (idle subtracted)", "energy J/frame (total)", "idle W", "note",
              "label", "source", "machine")  # fmt: skip
    body = [
        (r.platform, r.preset, r.task, r.scope, r.batch, *(fmt(x, r.label == "published")
         for x in (r.p50_ms, r.p90_ms, r.p99_ms, r.energy_j, r.total_j, r.idle_w)),
         r.note or DASH, r.label, r.source, r.machine)
        for r in rows
    ]  # fmt: skip
    return [
        "## Latency and energy per frame",
        "",
        "Latency percentiles per iteration; energy per frame from energy counters with the "
        "idle power measured first and subtracted, and in total. A dash: not in the inputs.",
        "",
        *_table(header, body),
    ]


def _host_section(results: Sequence[Result]) -> list[str]:
    host = [r for r in results if r.kind == "host-run"]
    if not host:
        return []
    body = []
    for r in host:
        exact = r.get("bit_exact")
        exact = DASH if exact is None else ("yes" if exact else "NO")
        body.append(
            (r.get("backend"), r.get("preset"), r.get("numerics", DASH), r.get("task"),
             r.get("frames", DASH), exact, r.label, r.name, r.machine)
        )  # fmt: skip
    return [
        "## Host runs: bit-exactness",
        "",
        "Whether the accelerator's output tokens equal the golden forward's, integer for "
        "integer, on every frame run.",
        "",
        *_table(
            (
                "backend",
                "preset",
                "numerics",
                "task",
                "frames",
                "bit-exact",
                "label",
                "source",
                "machine",
            ),
            body,
        ),  # fmt: skip
    ]


def _ratio_section(ours: Sequence[Ratio], published: Sequence[Ratio]) -> list[str]:
    lines = [
        "## FPGA against GPU and CPU",
        "",
        "How many times better the FPGA figure is: speed-up is the baseline's p50 latency over "
        "the FPGA's, energy efficiency the baseline's energy per frame over the FPGA's (idle "
        "subtracted on both). Our rows pair accelerator-kernel figures with the baseline's "
        "backbone runs at batch one; a ratio carries the weakest label of its two inputs.",
        "",
    ]
    header = ("FPGA", "versus", "preset", "metric", "times better", "label", "source", "machine")
    body = [
        (
            x.fpga,
            x.versus,
            x.preset,
            x.metric,
            f"{fmt(x.value, x.exact)}x",
            x.label,
            x.source,
            x.machine,
        )
        for x in [*ours, *published]
    ]
    lines += _table(header, body)
    if not any(x.metric == "energy efficiency" for x in ours):
        lines += [
            "",
            "No energy-efficiency ratio of our own: that needs a measured FPGA energy (a board "
            "host run with energy) and a baseline run with energy of the same preset.",
        ]
    return lines


def _perf_section(results: Sequence[Result]) -> list[str]:
    perf = [r for r in results if r.kind == "perf-model"]
    if not perf:
        return []
    body = []
    for r in perf:
        res, bounds = r.get("resources") or {}, r.get("bounds") or {}
        fits = r.get("fits")
        body.append(
            (r.get("board", DASH), r.get("preset", DASH), fmt(r.get("latency_ms")),
             fmt(bounds.get("compute_ms")), fmt(bounds.get("weights_ms")),
             *(res.get(k, DASH) for k in ("dsp", "bram36", "uram", "lut")),
             DASH if fits is None else ("yes" if fits else "NO"), r.label, r.name, r.machine)
        )  # fmt: skip
    return [
        "## Performance model",
        "",
        "Latency against the compute and weight-streaming lower bounds, and resources.",
        "",
        *_table(("board", "preset", "latency ms", "compute bound ms", "weights bound ms", "DSP",
                 "BRAM36", "URAM", "LUT", "fits", "label", "source", "machine"), body),
    ]  # fmt: skip


def _layer_section(rows: Sequence[LayerRow]) -> list[str]:
    if not rows:
        return []
    return [
        "## Per-layer latency",
        "",
        "Cycles per layer from the performance model (modelled) and the RTL engine "
        "(measured in cycle-level simulation), at each file's clock.",
        "",
        *_table(
            ("layer", "cycles", "ms", "label", "source", "machine"),
            ((x.layer, x.cycles, fmt(x.ms), x.label, x.source, x.machine) for x in rows),
        ),
    ]


def _references_section() -> list[str]:
    return ["## References", "", *(f"- {short}: {full}" for short, full in REFERENCES.items())]


def _published_section() -> list[str]:
    rows = [_published_row(p) for p in PUBLISHED_RUNS]
    return [
        "## Published anchors",
        "",
        "Numbers from the papers, on their boards and models (not re-measured here).",
        "",
        *_table(
            (
                "work",
                "platform",
                "model",
                "our preset",
                "ms/frame",
                "J/frame",
                "note",
                "label",
                "source",
                "machine",
            ),
            (
                (
                    p.work,
                    p.platform,
                    p.model,
                    r.preset,
                    fmt(r.p50_ms, True),
                    fmt(r.energy_j, True),
                    p.note or DASH,
                    r.label,
                    r.source,
                    r.machine,
                )
                for p, r in zip(PUBLISHED_RUNS, rows)
            ),
        ),  # fmt: skip
    ]


# ------------------------------------------------------------------ plots
def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


class Bar(NamedTuple):
    name: str
    value: float
    role: str  # fpga | gpu | cpu | sim: the colour
    label: str  # measured | modelled | published: the hatching
    text: str  # the value as the tables show it


def _bar_plot(
    groups: dict[str, list[Bar]], xlabel: str, title: str, path: Path, ref: float | None = None
) -> Path:
    """Horizontal bars per group (preset), log scale; ``ref`` draws a vertical line."""
    heights = [max(1, len(v)) for v in groups.values()]
    height = 1.6 + 0.34 * sum(heights) + 0.6 * len(groups)
    fig = Figure(figsize=(12, height))
    axes = fig.subplots(len(groups), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, (group, bars) in zip(axes[:, 0], groups.items()):
        ax.barh(
            range(len(bars)),
            [b.value for b in bars],
            color=[ROLE_COLOURS.get(b.role, "tab:purple") for b in bars],
            edgecolor="black",
        )
        for patch, b in zip(ax.patches, bars):
            patch.set_hatch(LABEL_HATCH.get(b.label, ""))
        for i, b in enumerate(bars):
            ax.text(b.value, i, f" {b.text}", va="center", fontsize=8)
        ax.set_yticks(range(len(bars)), [f"{_clip(b.name, 64)} [{b.label}]" for b in bars],
                      fontsize=8)  # fmt: skip
        ax.invert_yaxis()
        ax.set_xscale("log")
        if ref is not None:
            ax.axvline(ref, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(group, fontsize=9, loc="left")
        ax.margins(x=0.15)
        ax.set_xlabel(xlabel, fontsize=8)
    fig.suptitle(
        title + "; colour: green FPGA, blue GPU, orange CPU, grey simulator; "
        "hatching: // modelled, xx published",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.42, right=0.95, hspace=0.6, top=1 - 0.7 / height,
                        bottom=0.55 / height)  # fmt: skip
    return _save(fig, path)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _by_preset(rows: Sequence[Row], value: str) -> dict[str, list[Bar]]:
    groups: dict[str, list[Bar]] = {}
    for r in rows:
        v = getattr(r, value)
        if v is None or v <= 0 or r.batch not in (1, None):
            continue
        name = r.short or f"{r.platform}, {r.scope}"
        groups.setdefault(f"preset {r.preset}", []).append(
            Bar(name, v, r.role, r.label, fmt(v, r.label == "published"))
        )
    return groups


def _ratio_plot(ours: Sequence[Ratio], published: Sequence[Ratio], path: Path) -> Path | None:
    """Our FPGA-vs-GPU/CPU ratios beside the published ones against a GPU or CPU."""
    versus_gpu_cpu = [x for x in published if x.versus in ("GPU", "CPU") or x.preset != DASH]
    bars = [
        Bar(f"{x.fpga} vs {x.versus} ({x.metric})", x.value, x.versus_role, x.label,
            f"{fmt(x.value, x.exact)}x")
        for x in [*ours, *versus_gpu_cpu]
    ]  # fmt: skip
    if not bars:
        return None
    return _bar_plot(
        {"FPGA vs GPU/CPU (colour: the platform compared with)": bars},
        "times better (log scale; dashed: equal)",
        "FPGA-vs-GPU/CPU efficiency ratios",
        path,
        ref=1.0,
    )


def _layer_plot(rows: Sequence[LayerRow], path: Path) -> Path | None:
    if not rows:
        return None
    layers = list(dict.fromkeys(r.layer for r in rows))
    series: dict[tuple[str, str], dict[str, float]] = {}
    for r in sorted(rows, key=lambda x: LABELS.index(x.label), reverse=True):  # modelled first
        series.setdefault((r.source, r.label), {})[r.layer] = r.ms * 1e3
    fig = Figure(figsize=(max(6, 0.35 * len(layers) + 3), 4.5))
    ax = fig.subplots()
    width = 0.8 / len(series)
    for i, ((source, label), values) in enumerate(series.items()):
        xs = [j + i * width for j, name in enumerate(layers) if name in values]
        ys = [values[name] for name in layers if name in values]
        ax.bar(xs, ys, width, label=f"{source} [{label}]", hatch=LABEL_HATCH.get(label, ""),
               edgecolor="black")  # fmt: skip
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(layers))], layers, rotation=90,
                  fontsize=7)  # fmt: skip
    ax.set_ylabel("µs per frame")
    ax.set_title("Per-layer latency: modelled vs RTL-measured", fontsize=10, pad=28)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.06), ncol=2)
    fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------ entry points
def write_report(
    result_files: Iterable[str | Path],
    out_dir: str | Path = "build/report",
    *,
    title: str = "edgemoe: FPGA vs GPU/CPU comparison",
    extra_sections: Sequence[str] = (),
) -> Path:
    """Render ``out_dir/report.md`` and its PNG plots from result files; return its path.

    ``extra_sections`` (markdown) are appended as they are: a caller such as
    the demo adds its own (accuracy per numerics preset), labelling its numbers
    the same way.
    """
    results = load_results(result_files)
    if not results:
        raise ValueError("no result files to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = platform_rows(results)
    presets = {r.preset for r in rows if r.preset != DASH}
    shown = [*rows, *published_rows(presets)]
    ours, published = fpga_ratios(rows), published_ratio_rows()
    layers = layer_rows(results)

    plots: dict[str, Path | None] = {}
    latency = _by_preset(shown, "p50_ms")
    plots["latency per frame, p50"] = (
        _bar_plot(latency, "ms per frame (log scale)", "Latency per platform, batch one",
                  out / "latency.png") if latency else None
    )  # fmt: skip
    energy = _by_preset(shown, "energy_j")
    plots["energy per frame"] = (
        _bar_plot(energy, "J per frame, idle subtracted (log scale)", "Energy per frame",
                  out / "energy.png") if energy else None
    )  # fmt: skip
    plots["FPGA-vs-GPU/CPU ratios"] = _ratio_plot(ours, published, out / "ratios.png")
    plots["per-layer latency"] = _layer_plot(layers, out / "layers.png")
    for stale, name in (("latency.png", "latency per frame, p50"), ("energy.png",
                        "energy per frame"), ("ratios.png", "FPGA-vs-GPU/CPU ratios"),
                        ("layers.png", "per-layer latency")):  # fmt: skip
        if plots[name] is None and (out / stale).exists():
            (out / stale).unlink()  # not left over from an earlier report

    lines = [
        f"# {title}",
        "",
        "Rendered by `edgemoe report` from result files (never from typed numbers; the "
        "published rows come from pymodel/reports/anchors.py, each citing its paper). Every "
        "row says whether its numbers are measured, modelled or published, the file or paper "
        "they come from, and the machine.",
        "",
        *_inputs_section(results),
        "",
        *_platform_section(shown),
    ]
    for section in (
        _host_section(results),
        _ratio_section(ours, published),
        _perf_section(results),
        _layer_section(layers),
        _published_section(),
        _references_section(),
    ):
        if section:
            lines += ["", *section]
    drawn = [(name, p) for name, p in plots.items() if p is not None]
    if drawn:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({p.name})" for name, p in drawn]
    missing = [name for name, p in plots.items() if p is None]
    if missing:
        lines += ["", "Not plotted, for want of inputs: " + ", ".join(missing) + "."]
    for section in extra_sections:
        lines += ["", section.strip()]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def summary(
    results: Iterable[str | Path | Result], report: str | Path | None = None, width: int = 100
) -> str:
    """One screen of text: where the report is, batch-1 latency and energy, the ratios."""
    loaded = [x if isinstance(x, Result) else Result(Path(x), read_result(x)) for x in results]
    kinds: dict[str, int] = {}
    for r in loaded:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    lines = []
    if report is not None:
        plots = sorted(p.name for p in Path(report).parent.glob("*.png"))
        lines.append(f"report: {report}")
        if plots:
            lines.append(f"plots: {', '.join(plots)}")
    lines.append(
        f"inputs: {len(loaded)} result file(s): "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    )
    rows = [r for r in platform_rows(loaded) if r.batch in (1, None)]
    for r in rows[:12]:
        energy = f"{fmt(r.energy_j)} J/frame" if r.energy_j is not None else "energy n/a"
        line = (
            f"  {_clip(r.platform, 34):<34} {_clip(r.scope, 18):<18} p50 {fmt(r.p50_ms):>7} ms"
            f"  {energy:<17} [{r.label}]"
        )
        lines.append(line[:width])
    if len(rows) > 12:
        lines.append(f"  ... {len(rows) - 12} more rows in the report")
    exact = [r for r in loaded if r.kind == "host-run" and r.get("bit_exact") is not None]
    if exact:
        ok = sum(bool(r.get("bit_exact")) for r in exact)
        lines.append(f"bit-exact host runs: {ok} of {len(exact)}")
    ratios = fpga_ratios(platform_rows(loaded))
    for x in ratios[:6]:  # the rest are in the report
        lines.append(
            f"  {_clip(x.fpga, 34)} vs {_clip(x.versus, 30)}: {x.metric} {fmt(x.value)}x "
            f"[{x.label}]"[:width]
        )
    if not ratios:
        lines.append("no FPGA-vs-GPU/CPU ratio: needs an FPGA figure and a baseline of one preset")
    return "\n".join(lines)
