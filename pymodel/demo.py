"""The package's main job (``make demo``): train, evaluate, export, run on the board, report.

On a fresh machine, in minutes on two CPU cores: train a small M3ViT (six
tasks, task-gated MoE) on the synthetic multi-task scenes, calibrate the
hardware's fixed-point formats, evaluate every task in the ``float``,
``approx``, ``edgemoe``, ``hw16`` (and ``hw8``) numerics, compare with trivial
baselines, measure how routing differs between tasks; then (:mod:`.demo_hw`)
export the model for the accelerator in hw16 and hw8, run every task through
the host runtime on the simulated board and check its tokens against the
golden fixed-point forward bit for bit, time the float model on this CPU and
take the ZCU104 latency from the performance model. One report,
``report.md`` (the comparison report of :mod:`pymodel.reports.comparison`
over the result files, with the demo's sections), ``metrics.json`` and PNG
plots go into ``build/demo/``.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import torch

from .checkpoint import load_checkpoint
from .config import ModelConfig, get_config
from .data import collate, make_dataset
from .demo_hw import BOARD_NUMERICS, PLFactory, render_bit_exactness, run_hardware
from .metrics import PRIMARY, delta_m, trivial_baselines
from .numerics import calibrate
from .numerics.presets import CALIBRATED, PRESETS
from .report import metrics_table, plot_expert_utilisation, plot_history, plot_predictions
from .reports.comparison import summary, write_report
from .results import machine, write_json
from .train import evaluate, expert_utilisation, train

NUMERICS = tuple(n for n in ("float", "approx", "edgemoe", "hw16", "hw8") if n in PRESETS)
CALIB_IMAGES = 16


def demo_config() -> ModelConfig:
    """A small six-task M3ViT: 24 patches, MoE on odd blocks, 4 experts top-2."""
    return get_config(
        "tiny",
        name="demo",
        img_size=(64, 96),
        dim=64,
        num_heads=4,
        depth=4,
        num_experts=4,
        top_k=2,
        expert_hidden=128,
        head_channels=32,
        tasks=("semseg", "human_parts", "sal", "normals", "edge", "depth"),
        task_channels={"semseg": 6},
    )


def routing_divergence(model, dataset, max_images: int = 64) -> dict[str, Any]:
    """How differently the tasks' routers send the same tokens.

    For every pair of tasks and MoE layer: the share of tokens whose top-k
    expert *set* differs, over the first ``max_images`` images.
    """
    n = min(len(dataset), max_images)
    images = collate([dataset[i] for i in range(n)])["image"]
    sets: dict[str, dict[int, torch.Tensor]] = {}
    with torch.no_grad():
        for task in model.cfg.tasks:
            model.backbone(images, task)
            sets[task] = {
                i: torch.sort(m.last_routing.indices, dim=-1).values.clone()
                for i, m in model.backbone.moe_layers()
            }
    pairs = {}
    for a, b in itertools.combinations(model.cfg.tasks, 2):
        pairs[f"{a}/{b}"] = {
            str(i): float((sets[a][i] != sets[b][i]).any(-1).double().mean()) for i in sets[a]
        }
    values = [v for layer in pairs.values() for v in layer.values()]
    return {
        "images": n,
        "pairs": pairs,
        "mean": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
    }


def beats_baseline(metrics: dict[str, Any], baselines: dict[str, Any]) -> dict[str, Any]:
    """Per task: the primary metric, the baseline's, and whether the model is better."""
    out = {}
    for task, res in metrics.items():
        name, higher = PRIMARY[task]
        m, b = float(res[name]), float(baselines[task][name])
        out[task] = {
            "metric": name,
            "higher_is_better": higher,
            "model": m,
            "baseline": b,
            "better": m > b if higher else m < b,
        }
    return out


def run_demo(
    out_dir: str | Path = "build/demo",
    *,
    steps: int = 300,
    batch: int = 16,
    lr: float = 2e-3,
    seed: int = 0,
    train_scenes: int = 512,
    val_scenes: int = 64,
    numerics: tuple[str, ...] = NUMERICS,
    config: ModelConfig | None = None,
    frames: int = 2,
    board_numerics: tuple[str, ...] = BOARD_NUMERICS,
    baseline_seconds: float = 3.0,
    baseline_threads: int | None = 1,
    pl: PLFactory | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, evaluate in each numerics preset, export, check on the simulated board,
    baseline, model, plot and write the report; return the results (metrics.json).

    ``frames`` validation images run per task and export on the simulated board;
    ``baseline_seconds`` is the CPU baseline's timed window per mode and
    ``baseline_threads`` its torch threads (None: torch's default); ``pl``
    replaces the simulated board's logic (tests).
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = config or demo_config()
    say = print if progress else (lambda *a, **k: None)
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")

    say(
        f"[1/5] training {cfg.name} ({', '.join(cfg.tasks)}) for {steps} steps on "
        f"{train_scenes} synthetic scenes ..."
    )
    trained = train(
        cfg,
        "synthetic",
        steps=steps,
        lr=lr,
        batch=batch,
        seed=seed,
        out_dir=out / "train",
        num_scenes=train_scenes,
        evaluate_at_end=False,
        progress=progress,
    )
    model = load_checkpoint(trained["checkpoint"]).eval()
    train_set = make_dataset("synthetic", cfg, split="train", seed=seed, num_scenes=train_scenes)
    val_set = make_dataset("synthetic", cfg, split="val", seed=seed, num_scenes=val_scenes)

    calibrated = [n for n in dict.fromkeys((*numerics, *board_numerics)) if n in CALIBRATED]
    n_calib = min(CALIB_IMAGES, len(train_set))
    say(
        f"[2/5] calibrating {', '.join(calibrated)} formats on {n_calib} training images and "
        f"evaluating {', '.join(numerics)} on {val_scenes} validation scenes ..."
    )
    calib = collate([train_set[i] for i in range(n_calib)])["image"]
    for preset in calibrated:
        calibrate(model, calib, preset)
    results, eval_s = {}, {}
    for preset in numerics:
        t0 = time.perf_counter()
        results[preset] = evaluate(model, val_set, batch=16, numerics=preset)
        eval_s[preset] = time.perf_counter() - t0
        say(f"      {preset:8s} {eval_s[preset]:6.1f} s")
    baselines = trivial_baselines(val_set, cfg.tasks, cfg.task_channels, stats_dataset=train_set)
    versus = beats_baseline(results["float"], baselines)

    say("[3/5] routing statistics and plots ...")
    utilisation = {t: expert_utilisation(model, val_set, t) for t in cfg.tasks}
    divergence = routing_divergence(model, val_set)
    plots = {
        "predictions_float": plot_predictions(
            model, val_set, out / "predictions_float.png", num_samples=3, title="float model"
        ),
        "predictions_hw16": plot_predictions(
            model,
            val_set,
            out / "predictions_hw16.png",
            num_samples=3,
            numerics="hw16",
            title="hw16 fixed-point backbone",
        ),
        "experts": plot_expert_utilisation(utilisation, out / "experts.png"),
        "training": plot_history(trained["history"], out / "training.png"),
    }

    n_frames = min(frames, len(val_set))
    say(
        f"[4/5] exporting ({', '.join(board_numerics)}), running every task on {n_frames} "
        "validation frame(s) on the simulated board, CPU baseline, performance model ..."
    )
    t0 = time.perf_counter()
    hardware = run_hardware(
        model,
        out,
        checkpoint=trained["checkpoint"],
        golden_image=calib[0],
        calibration=f"the first {n_calib} images of the synthetic training split (seed {seed})",
        frames=collate([val_set[i] for i in range(n_frames)])["image"],
        numerics=board_numerics,
        baseline_seconds=baseline_seconds,
        baseline_threads=baseline_threads,
        pl=pl,
        say=say,
    )
    hardware["wall_s"] = time.perf_counter() - t0
    wall = time.perf_counter() - t_start
    data = {
        "machine": machine(),
        "config": cfg.to_dict(),
        "train": {k: trained[k] for k in ("steps", "seed", "wall_s", "s_per_step", "checkpoint")},
        "train_args": {
            "steps": steps,
            "batch": batch,
            "lr": lr,
            "train_scenes": train_scenes,
            "val_scenes": val_scenes,
        },
        "metrics": results,
        "baselines": baselines,
        "float_vs_baseline": versus,
        "eval_s": eval_s,
        "expert_utilisation": utilisation,
        "routing_divergence": divergence,
        "hw16_formats": model.numerics_presets["hw16"].to_dict()["overrides"],
        "calibrated": calibrated,
        "calib_images": n_calib,
        "hardware": hardware,
        "plots": {k: p.name for k, p in plots.items()},
        "wall_s": wall,
    }
    write_json(out / "metrics.json", data)
    say("[5/5] writing the report ...")
    report = render_report(data, out)
    say("")
    say(demo_summary(data, out, report))
    return data


def exit_status(data: dict[str, Any]) -> int:
    """``edgemoe demo``'s exit status: 1 when a bit-exactness check failed (or no export
    ran) or a task does not beat its trivial baseline, else 0."""
    if not data["hardware"]["bit_exact"]:
        return 1
    return 0 if all(v["better"] for v in data["float_vs_baseline"].values()) else 1


def demo_summary(data: dict[str, Any], out_dir: str | Path, report: str | Path) -> str:
    """One screen: the report's place, accuracy per preset, bit-exactness, latency rows."""
    out = Path(out_dir)
    files = [out / f for f in data["hardware"]["result_files"]]
    metrics = data["metrics"]
    ref = metrics["float"] if "float" in metrics else next(iter(metrics.values()))
    lines = [
        summary(files, report),
        "accuracy (measured, metrics.json; primary metric per task, delta_m vs float):",
        "  " + f"{'':8s}" + "".join(f"{t[:11]:>12s}" for t in ref) + f"{'Δm %':>9s}",
    ]
    for preset, res in metrics.items():
        cells = "".join(f"{float(res[t][PRIMARY[t][0]]):12.2f}" for t in ref)
        lines.append(f"  {preset:8s}{cells}{delta_m(res, ref):9.2f}")
    hw = data["hardware"]
    for n, per in hw["checks"].items():
        bad = sum(c["differing"] for c in per.values())
        words = sum(c["words"] for c in per.values())
        lines.append(
            f"simulated board {n}: {len(per)} tasks x {hw['frames_per_task']} frames, "
            f"{bad} of {words} words differ -> {'bit-exact' if bad == 0 else 'NOT bit-exact'}"
        )
    for n, why in hw["skipped"].items():
        lines.append(f"simulated board {n}: not exported ({why})"[:100])
    if not hw["bit_exact"]:
        lines.append("FAIL: the simulated board's tokens differ from the golden forward")
    lines.append(f"total wall time {data['wall_s']:.0f} s (measured)")
    return "\n".join(lines)


INTRO = (
    "Rendered by `edgemoe demo` from its `metrics.json` and the result files under "
    "`results/` (never from typed numbers; published rows come from "
    "pymodel/reports/anchors.py, each citing its paper). Every number says whether it is "
    "measured, modelled or published and where it comes from."
)


def render_report(data: dict[str, Any], out_dir: str | Path) -> Path:
    """``out_dir/report.md`` and its plots, from the metrics.json dictionary and the result
    files it names (relative to ``out_dir``); returns the report's path."""
    out = Path(out_dir)
    files = [out / f for f in data["hardware"]["result_files"]]
    lead = [_header_section(data), _metrics_section(data), render_bit_exactness(data["hardware"])]
    return write_report(
        files,
        out,
        title="edgemoe demo report",
        intro=INTRO,
        lead_sections=lead,
        extra_sections=[_model_sections(data)],
    )


def _header_section(data: dict[str, Any]) -> str:
    cfg, m = data["config"], data["machine"]
    return "\n".join(
        [
            f"Measured on {m['cpu']}, torch {m['torch']}, {m['date']}; total wall time "
            f"{data['wall_s']:.0f} s (training {data['train']['wall_s']:.0f} s, "
            f"{data['train']['s_per_step']:.2f} s/step; export, simulated board, baseline and "
            f"model {data['hardware']['wall_s']:.0f} s).",
            "",
            f"Model: M3ViT `{cfg['name']}`, input {cfg['img_size'][0]}x{cfg['img_size'][1]}, "
            f"dim {cfg['dim']}, {cfg['num_heads']} heads, depth {cfg['depth']}, MoE blocks "
            f"{cfg['moe_blocks']}, {cfg['num_experts']} experts top-{cfg['top_k']}, router "
            f"`{cfg['router']}`; tasks {', '.join(cfg['tasks'])}. Trained "
            f"{data['train_args']['steps']} steps (batch {data['train_args']['batch']}, lr "
            f"{data['train_args']['lr']}) on {data['train_args']['train_scenes']} synthetic "
            f"scenes; evaluated on {data['train_args']['val_scenes']} held-out scenes; "
            f"{', '.join(data['calibrated'])} calibrated on {data['calib_images']} training "
            "images.",
        ]
    )


def _metrics_section(data: dict[str, Any]) -> str:
    versus = data["float_vs_baseline"]
    ok = all(v["better"] for v in versus.values())
    lines = [
        "## Accuracy per numerics preset",
        "",
        "The backbone runs in each preset (`float` reference; `approx` float with the "
        "hardware approximations; `edgemoe` Edge-MoE's fixed-point formats; `hw16` 16-bit "
        "calibrated formats; `hw8` hw16 with 8-bit matrix-product operands); the heads run in "
        "float. Label: measured on the held-out synthetic scenes, source `metrics.json`.",
        "",
        metrics_table(data["metrics"], data["baselines"]).rstrip(),
        "",
        "Primary metrics: semseg/human_parts mIoU (%), sal mIoU (%) (maxF too), normals mean "
        "angular error (deg), edge odsF (%), depth RMSE. Δm: mean relative change of the "
        "primary metrics against float (sign flipped where lower is better).",
        "",
        "### Better than a trivial baseline?",
        "",
        "| task | metric | trained (float) | trivial baseline | better |",
        "|---|---|---|---|---|",
    ]
    for task, v in versus.items():
        arrow = "↑" if v["higher_is_better"] else "↓"
        lines.append(
            f"| {task} | {v['metric']} {arrow} | {v['model']:.2f} | "
            f"{v['baseline']:.2f} | {'yes' if v['better'] else 'no'} |"
        )
    lines += [
        "",
        "Baselines: majority class (semseg, human_parts), mean depth, mean normal, the better "
        "of all/none (sal, edge). **"
        + ("Every task beats its baseline." if ok else "NOT every task beats its baseline.")
        + "**",
    ]
    return "\n".join(lines)


def _model_sections(data: dict[str, Any]) -> str:
    cfg = data["config"]
    div = data["routing_divergence"]
    blocks = next(iter(div["pairs"].values()))
    lines = [
        "## Routing differs between tasks",
        "",
        f"Share of tokens whose top-{cfg['top_k']} expert set differs between two tasks' "
        f"routers (same images, {div['images']} scenes): mean {100 * div['mean']:.1f}%, "
        f"min {100 * div['min']:.1f}%, max {100 * div['max']:.1f}% over task pairs and MoE "
        "layers (measured).",
        "",
        "| task pair | " + " | ".join(f"block {b}" for b in blocks) + " |",
        "|---|" + "---|" * len(blocks),
    ]
    for pair, layers in div["pairs"].items():
        lines.append(f"| {pair} | " + " | ".join(f"{100 * v:.1f}%" for v in layers.values()) + " |")
    lines += [
        "",
        "![expert utilisation](experts.png)",
        "",
        "## Predictions",
        "",
        "![float predictions](predictions_float.png)",
        "",
        "![hw16 predictions](predictions_hw16.png)",
        "",
        "## Training",
        "",
        "![training curves](training.png)",
        "",
        "Evaluation time per preset (s, measured): "
        + ", ".join(f"{k} {v:.1f}" for k, v in data["eval_s"].items())
        + ".",
    ]
    return "\n".join(lines)
