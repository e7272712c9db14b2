"""Report plots: horizontal bar charts per group and per-layer grouped bars (Agg, PNG).

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global
backend, no display). Colour says the platform (FPGA, GPU, CPU, simulator),
hatching the label (measured: none, modelled ``//``, published ``xx``); every
bar's name ends in its label as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ROLE_COLOURS = {"fpga": "tab:green", "gpu": "tab:blue", "cpu": "tab:orange", "sim": "tab:gray"}
LABEL_HATCH = {"measured": "", "modelled": "//", "published": "xx"}
LEGEND = (
    "colour: green FPGA, blue GPU, orange CPU, grey simulator; hatching: // modelled, xx published"
)


class Bar(NamedTuple):
    name: str
    value: float
    role: str  # fpga | gpu | cpu | sim: the colour
    label: str  # measured | modelled | published: the hatching
    text: str  # the value as the tables show it


def clip(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis."""
    return text if len(text) <= n else text[: n - 1] + "…"


def save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


def bar_plot(
    groups: Mapping[str, Sequence[Bar]],
    xlabel: str,
    title: str,
    path: Path,
    ref: float | None = None,
) -> Path:
    """Horizontal bars, one axis per group, log scale; ``ref`` draws a dashed vertical line."""
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
        names = [f"{clip(b.name, 64)} [{b.label}]" for b in bars]
        ax.set_yticks(range(len(bars)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        if ref is not None:
            ax.axvline(ref, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(group, fontsize=9, loc="left")
        ax.margins(x=0.15)
        ax.set_xlabel(xlabel, fontsize=8)
    fig.suptitle(f"{title}; {LEGEND}", fontsize=9)
    fig.subplots_adjust(
        left=0.42, right=0.95, hspace=0.6, top=1 - 0.7 / height, bottom=0.55 / height
    )
    return save(fig, path)


def layer_plot(
    layers: Sequence[str], series: Mapping[tuple[str, str], Mapping[str, float]], path: Path
) -> Path:
    """Grouped bars per layer: ``series`` maps (source, label) -> {layer: microseconds}."""
    fig = Figure(figsize=(max(8, 0.35 * len(layers) + 6), 4.5))
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    for i, ((source, label), values) in enumerate(series.items()):
        xs = [j + i * width for j, name in enumerate(layers) if name in values]
        ys = [values[name] for name in layers if name in values]
        ax.bar(
            xs,
            ys,
            width,
            label=f"{source} [{label}]",
            hatch=LABEL_HATCH.get(label, ""),
            edgecolor="black",
        )
    ticks = [j + 0.4 - width / 2 for j in range(len(layers))]
    ax.set_xticks(ticks, layers, rotation=90, fontsize=7)
    ax.set_ylabel("µs per frame")
    ax.set_title("Per-layer latency: modelled vs RTL-measured", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return save(fig, path)
