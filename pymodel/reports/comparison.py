"""The comparison report: FPGA against the GPU/CPU baseline and the published anchors.

``write_report(result_files, out_dir)`` reads result files (any mix of the
kinds in :data:`pymodel.results.KINDS`: host runs on the board or the
simulated board, baselines, the performance model, RTL-engine cycles) and
writes ``out_dir/report.md`` with PNG plots beside it; ``summary(...)`` is
the one-screen text of the same numbers. Numbers are never typed here: they
come from the result files or from :mod:`pymodel.reports.anchors`.

Every table row carries its ``label`` (measured, modelled, published), its
``source`` (the result file's name, or the citation) and its ``machine``
(:mod:`pymodel.reports.rows` makes the rows and pairs the ratios). Prose
lines hold no numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..results import LABELS, read_result
from .anchors import PUBLISHED_RUNS, REFERENCES
from .plots import Bar, bar_plot, clip, layer_plot
from .rows import (
    DASH,
    LayerRow,
    Ratio,
    Result,
    Row,
    find_results,
    fpga_ratios,
    layer_rows,
    load_results,
    platform_rows,
    published_ratio_rows,
    published_row,
    published_rows,
)

__all__ = ["DASH", "INTRO", "find_results", "fmt", "summary", "write_report"]

INTRO = (
    "Rendered by `edgemoe report` from result files (never from typed numbers; the "
    "published rows come from pymodel/reports/anchors.py, each citing its paper). Every "
    "row says whether its numbers are measured, modelled or published, the file or paper "
    "they come from, and the machine."
)


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
    rows = [published_row(p) for p in PUBLISHED_RUNS]
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
    return bar_plot(
        {"FPGA vs GPU/CPU (colour: the platform compared with)": bars},
        "times better (log scale; dashed: equal)",
        "FPGA-vs-GPU/CPU efficiency ratios",
        path,
        ref=1.0,
    )


def _layer_plot(rows: Sequence[LayerRow], path: Path) -> Path | None:
    if not rows:
        return None
    series: dict[tuple[str, str], dict[str, float]] = {}
    for r in sorted(rows, key=lambda x: LABELS.index(x.label), reverse=True):  # modelled first
        series.setdefault((r.source, r.label), {})[r.layer] = r.ms * 1e3
    return layer_plot(list(dict.fromkeys(r.layer for r in rows)), series, path)


# ------------------------------------------------------------------ entry points
def write_report(
    result_files: Iterable[str | Path],
    out_dir: str | Path = "build/report",
    *,
    title: str = "edgemoe: FPGA vs GPU/CPU comparison",
    intro: str = INTRO,
    lead_sections: Sequence[str] = (),
    extra_sections: Sequence[str] = (),
) -> Path:
    """Render ``out_dir/report.md`` and its PNG plots from result files; return its path.

    ``lead_sections`` (markdown) go after the ``intro`` paragraph, before the
    tables of the result files; ``extra_sections`` are appended at the end. A
    caller such as the demo adds its own this way (accuracy per numerics
    preset, bit-exactness per task), labelling its numbers the same way.
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
        bar_plot(latency, "ms per frame (log scale)", "Latency per platform, batch one",
                  out / "latency.png") if latency else None
    )  # fmt: skip
    energy = _by_preset(shown, "energy_j")
    plots["energy per frame"] = (
        bar_plot(energy, "J per frame, idle subtracted (log scale)", "Energy per frame",
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
        intro,
        "",
    ]
    for section in lead_sections:
        lines += [section.strip(), ""]
    lines += [
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
            f"  {clip(r.platform, 34):<34} {clip(r.scope, 18):<18} p50 {fmt(r.p50_ms):>7} ms"
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
            f"  {clip(x.fpga, 34)} vs {clip(x.versus, 30)}: {x.metric} {fmt(x.value)}x [{x.label}]"[
                :width
            ]
        )
    if not ratios:
        lines.append("no FPGA-vs-GPU/CPU ratio: needs an FPGA figure and a baseline of one preset")
    return "\n".join(lines)
