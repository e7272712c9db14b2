"""The ``edgemoe`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import PRESETS, ConfigError


def _load_model(spec: str, checkpoint: str | None, seed: int):
    from .checkpoint import load_checkpoint
    from .model import build_model

    if checkpoint:
        # A preset fills what an official checkpoint's shapes cannot tell (heads, top-k, size).
        return load_checkpoint(checkpoint, **({"preset": spec} if spec in PRESETS else {}))
    return build_model(spec, seed=seed)


def cmd_info(args: argparse.Namespace) -> int:
    from .info import format_summary, summary

    info = summary(args.preset, bytes_per_weight=args.bytes_per_weight)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_summary(info))
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .onnx_export import check_onnx, export_onnx

    model = _load_model(args.preset, args.checkpoint, args.seed)
    task = args.task or model.cfg.tasks[0]
    out = Path(args.out or f"build/onnx/{model.cfg.name}-{task}.onnx")
    print(f"exporting {model.cfg.name} task {task} to {out} ...", file=sys.stderr)
    export_onnx(model, task, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.check:
        result = check_onnx(model, task, out)
        print(
            f"onnxruntime vs PyTorch: max abs diff {result['max_abs_diff']:.3g} "
            f"(max abs output {result['max_abs_ref']:.3g}); ops: {', '.join(result['ops'])}"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Golden model walk-through: summary, every task in both MoE orders, routing traffic."""
    import time

    import torch

    from .info import format_summary, summary
    from .results import write_json

    model = _load_model(args.preset, args.checkpoint, args.seed)
    print(format_summary(summary(model.cfg)))
    images = torch.randn(
        1,
        model.cfg.in_chans,
        *model.cfg.img_size,
        generator=torch.Generator().manual_seed(args.seed),
    )
    report: dict = {"preset": model.cfg.name, "tasks": {}}
    print(
        f"\n{'task':<12} {'output':<18} {'expert-major ms':>15} {'token-major ms':>14} "
        f"{'max |diff|':>10} {'experts used/layer':>18} {'traffic saving':>14}"
    )
    with torch.inference_mode():
        for task in model.tasks:
            timings, outs = {}, {}
            for path in ("expert", "token"):
                model.set_moe_path(path)
                t0 = time.perf_counter()
                outs[path] = model(images, task)
                timings[path] = (time.perf_counter() - t0) * 1e3
            model.set_moe_path("expert")
            stats = model.routing(images, task, cache_experts=args.cache_experts)
            diff = (outs["expert"] - outs["token"]).abs().max().item()
            used = [layer.active_experts for layer in stats.layers]
            print(
                f"{task:<12} {str(tuple(outs['expert'].shape)):<18} {timings['expert']:>15.1f} "
                f"{timings['token']:>14.1f} {diff:>10.2e} {str(used):>18} "
                f"{stats.traffic_saving:>13.2f}x"
            )
            report["tasks"][task] = {
                "output_shape": list(outs["expert"].shape),
                "ms": timings,
                "max_abs_diff": diff,
                "routing": stats.to_dict(),
            }
    out = write_json(Path(args.out), report)
    print(
        f"\ntraffic saving: expert-weight bytes of token-major order (LRU cache of "
        f"{args.cache_experts} expert(s)) / expert-major order, per image"
    )
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgemoe", description="M3ViT / Edge-MoE hardware co-design toolkit"
    )
    sub = p.add_subparsers(dest="command", required=True)
    presets = ", ".join(PRESETS)

    q = sub.add_parser("info", help="parameters, MACs per task and weight bytes of a model")
    q.add_argument("preset", help=f"preset ({presets}) or a YAML/JSON config file")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.add_argument(
        "--bytes-per-weight",
        type=float,
        default=2.0,
        help="storage per weight for the byte counts (default 2: 16-bit)",
    )
    q.set_defaults(func=cmd_info)

    q = sub.add_parser("export-onnx", help="export one task's forward to ONNX")
    q.add_argument("preset", help=f"preset ({presets}) or a YAML/JSON config file")
    q.add_argument("--task", help="task name (default: the model's first task)")
    q.add_argument("--checkpoint", help="weights to export (default: random, seeded)")
    q.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    q.add_argument("--out", help="output .onnx path (default build/onnx/PRESET-TASK.onnx)")
    q.add_argument(
        "--check", action="store_true", help="run the graph in onnxruntime and compare with PyTorch"
    )
    q.set_defaults(func=cmd_export_onnx)

    q = sub.add_parser("demo", help="golden-model walk-through on the default preset")
    q.add_argument(
        "preset",
        nargs="?",
        default="edgemoe-t",
        help=f"preset ({presets}) or a config file (default edgemoe-t)",
    )
    q.add_argument("--checkpoint", help="weights (default: random, seeded)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument(
        "--cache-experts",
        type=int,
        default=1,
        help="on-chip expert cache of the token-major order (default 1)",
    )
    q.add_argument("--out", default="build/demo/summary.json")
    q.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"edgemoe {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
