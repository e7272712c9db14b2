"""Report figures and tables: predictions next to labels, expert utilisation, metric tables.

Figures are drawn with matplotlib's Agg canvas directly (no global backend
change, no display needed) and written as PNG. The metric table takes results
per numerics preset (any names, e.g. ``float``, ``approx``, ``edgemoe``,
``hw16``) and compares each with a reference preset by delta_m.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .data import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD, collate
from .metrics import PRIMARY, delta_m

TASK_TITLES = {
    "semseg": "semantic seg.",
    "human_parts": "parts",
    "sal": "saliency",
    "normals": "normals",
    "edge": "edges",
    "depth": "depth",
}


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=fig.dpi)
    return path


def _palette(n: int) -> np.ndarray:
    """n distinct RGB colours (tab20, then golden-ratio hues); index 255 is black."""
    from matplotlib import colormaps

    base = colormaps["tab20"](np.arange(20))[:, :3]
    if n > 20:
        import colorsys

        extra = [colorsys.hsv_to_rgb((i * 0.618034) % 1, 0.8, 0.9) for i in range(n - 20)]
        base = np.concatenate([base, np.array(extra)])
    return base[:n]


def _labels_rgb(labels: np.ndarray, n: int) -> np.ndarray:
    pal = _palette(max(n, 1))
    out = np.zeros((*labels.shape, 3))
    ok = (labels >= 0) & (labels < n)
    out[ok] = pal[labels[ok]]
    return out


def _normals_rgb(n: np.ndarray) -> np.ndarray:
    """(3, H, W) normals -> (H, W, 3) colours (n + 1) / 2; invalid (255) pixels black."""
    valid = ~(n == IGNORE_INDEX).all(axis=0)
    v = n / np.maximum(np.linalg.norm(n, axis=0, keepdims=True), 1e-12)
    rgb = np.clip((v.transpose(1, 2, 0) + 1) / 2, 0, 1)
    rgb[~valid] = 0
    return rgb


def _image_rgb(x: torch.Tensor) -> np.ndarray:
    img = x.detach().cpu().numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(img, 0, 1)


def _show(ax: Any, task: str, value: np.ndarray, channels: int, depth_range: tuple) -> None:
    if task in ("semseg", "human_parts"):
        ax.imshow(_labels_rgb(value.astype(np.int64), channels), interpolation="nearest")
    elif task == "normals":
        ax.imshow(_normals_rgb(value), interpolation="nearest")
    elif task == "depth":
        d = np.where(value == IGNORE_INDEX, np.nan, value)
        ax.imshow(d, cmap="viridis", vmin=depth_range[0], vmax=depth_range[1])
    else:
        ax.imshow(np.where(value == IGNORE_INDEX, 0, value), cmap="gray", vmin=0, vmax=1)


@torch.no_grad()
def plot_predictions(
    model: torch.nn.Module,
    dataset: Any,
    path: str | Path,
    tasks: Sequence[str] | None = None,
    num_samples: int = 3,
    indices: Sequence[int] | None = None,
    device: str | torch.device = "cpu",
    numerics: Any = None,
    title: str | None = None,
) -> Path:
    """A grid of samples: per sample a label row (image, then each task's label) and a
    prediction row (each task's prediction: argmax classes, sigmoid maps,
    normalised normals, depth on the label's colour scale). Returns the PNG path."""
    tasks = tuple(tasks or model.cfg.tasks)
    idx = list(indices) if indices is not None else list(range(min(num_samples, len(dataset))))
    if not idx:
        raise ValueError("plot_predictions needs at least one sample")
    b = collate([dataset[i] for i in idx])
    was_training = model.training
    model.eval()
    try:
        images = b["image"].to(device)
        kw = {} if numerics is None else {"numerics": numerics}
        outs = {t: model(images, t, **kw).float().cpu() for t in tasks}
    finally:
        model.train(was_training)
    cols = 1 + len(tasks)
    fig = Figure(figsize=(2.2 * cols, 1.7 * 2 * len(idx) * 0.9), dpi=100)
    axes = fig.subplots(2 * len(idx), cols, squeeze=False)
    channels = model.cfg.task_channels
    for r in range(len(idx)):
        ax_l, ax_p = axes[2 * r], axes[2 * r + 1]
        ax_l[0].imshow(_image_rgb(b["image"][r]))
        ax_l[0].set_ylabel("labels", fontsize=8)
        ax_p[0].axis("off")
        ax_p[0].text(0.5, 0.5, "predictions", ha="center", va="center", fontsize=9)
        for c, t in enumerate(tasks, start=1):
            label = b[t][r].numpy()
            label = label[0] if label.ndim == 3 and t != "normals" else label
            out = outs[t][r]
            if t in ("semseg", "human_parts"):
                pred = out.argmax(0).numpy()
            elif t in ("sal", "edge"):
                pred = torch.sigmoid(out[0]).numpy()
            elif t == "depth":
                pred = out[0].numpy()
            else:
                pred = out.numpy()
            valid = label[label != IGNORE_INDEX] if t == "depth" else np.array([0.0, 1.0])
            rng = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
            _show(ax_l[c], t, label, channels.get(t, 1), rng)
            _show(ax_p[c], t, pred, channels.get(t, 1), rng)
            if r == 0:
                ax_l[c].set_title(TASK_TITLES.get(t, t), fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_expert_utilisation(
    utilisation: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Heatmaps of the share of tokens each expert receives, one panel per task
    (rows: MoE layers, columns: experts), from :func:`pymodel.train.expert_utilisation`
    results given as a list or a dict keyed by task. Returns the PNG path."""
    items = list(utilisation.values()) if isinstance(utilisation, Mapping) else list(utilisation)
    if not items:
        raise ValueError("plot_expert_utilisation needs at least one task's utilisation")
    mats = []
    for u in items:
        layers = u["layers"]
        if not layers:
            raise ValueError(f"utilisation of task {u.get('task')!r} has no MoE layers")
        counts = np.array([layer["tokens_per_expert"] for layer in layers], dtype=np.float64)
        mats.append(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1))
    vmax = max(float(m.max()) for m in mats)
    n_layers, n_exp = mats[0].shape
    ncols = min(3, len(items))
    nrows = math.ceil(len(items) / ncols)
    panel = (max(2.8, 0.4 * n_exp + 1.6), max(1.8, 0.4 * n_layers + 1.2))
    fig = Figure(figsize=(panel[0] * ncols + 1.2, panel[1] * nrows + 0.4), dpi=100)
    grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in grid[len(items) :]:
        ax.axis("off")
    axes = grid[: len(items)]
    im = None
    for ax, u, m in zip(axes, items, mats):
        im = ax.imshow(m, cmap="magma", vmin=0, vmax=vmax, aspect="auto")
        ax.set_title(str(u.get("task", "")), fontsize=9)
        ax.set_xlabel("expert", fontsize=8)
        ax.set_yticks(range(m.shape[0]))
        ax.set_yticklabels([f"block {layer['block']}" for layer in u["layers"]], fontsize=7)
        ax.set_xticks(range(m.shape[1]))
        ax.tick_params(axis="x", labelsize=7)
        if m.size <= 128:
            for (i, j), v in np.ndenumerate(m):
                color = "black" if v > 0.6 * vmax else "white"
                ax.text(j, i, f"{v * 100:.0f}", ha="center", va="center", fontsize=6, color=color)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    cax = fig.add_axes((0.92, 0.15, 0.015, 0.7))
    fig.colorbar(im, cax=cax, label="share of tokens")
    return _save(fig, path)


def plot_history(history: Sequence[Mapping[str, float]], path: str | Path) -> Path:
    """Training curves (total and per-task losses, log scale) from a training history."""
    if not history:
        raise ValueError("plot_history needs a non-empty history")
    steps = [h["step"] for h in history]
    keys = [k for k in history[0] if k != "step"]
    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.subplots()
    for k in keys:
        vals = [max(h.get(k, math.nan), 1e-8) for h in history]
        ax.plot(steps, vals, label=k, linewidth=2 if k == "loss" else 1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def _fmt(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.2f}"


def metrics_table(
    results: Mapping[str, Mapping[str, Mapping[str, Any]]],
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    reference: str | None = None,
    extra: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Markdown table: one row per numerics preset (in the given order), one column per
    task's primary metric (plus ``extra`` metrics per task, default saliency maxF),
    and delta_m (%) against ``reference`` (default ``float`` if present, else
    the first preset); a last row for the trivial baselines."""
    if not results:
        raise ValueError("metrics_table needs results for at least one preset")
    names = list(results)
    if reference is None:
        reference = "float" if "float" in results else names[0]
    if reference not in results:
        raise ValueError(f"reference preset {reference!r} not among {names}")
    tasks = list(results[reference])
    extra = {"sal": ["maxF"]} if extra is None else extra
    cols: list[tuple[str, str, bool]] = []
    for t in tasks:
        name, higher = PRIMARY[t]
        cols.append((t, name, higher))
        for m in extra.get(t, []):
            if m != name:
                cols.append((t, m, higher))
    head = ["numerics"] + [f"{t} {m} {'↑' if h else '↓'}" for t, m, h in cols]
    head.append(f"Δm vs {reference} (%) ↑")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        res = results[name]
        missing = [t for t in tasks if t not in res]
        if missing:
            raise ValueError(f"preset {name!r} has no metrics for tasks {missing}")
        row = [f"`{name}`"] + [_fmt(res[t].get(m)) for t, m, _ in cols]
        row.append(_fmt(delta_m({t: res[t] for t in tasks}, results[reference])))
        lines.append("| " + " | ".join(row) + " |")
    if baselines:
        row = ["trivial baseline"]
        row += [_fmt(baselines[t].get(m)) if t in baselines else "n/a" for t, m, _ in cols]
        have = all(t in baselines for t in tasks)
        row.append(
            _fmt(delta_m({t: baselines[t] for t in tasks}, results[reference])) if have else "n/a"
        )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def write_metrics_table(
    path: str | Path,
    results: Mapping[str, Mapping[str, Mapping[str, Any]]],
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    reference: str | None = None,
    title: str = "Metrics per numerics preset",
) -> Path:
    """Write :func:`metrics_table` as a markdown file with a title and a legend."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    legend = (
        "Primary metrics: semseg/human_parts mIoU (%), sal mIoU and maxF (%), normals mean "
        "angular error (deg), edge odsF (%), depth RMSE (m). Δm: mean over tasks of the "
        "relative change of the primary metric against the reference preset, sign flipped "
        "where lower is better."
    )
    table = metrics_table(results, baselines, reference)
    path.write_text(f"# {title}\n\n{table}\n{legend}\n")
    return path
