"""The ``edgemoe`` command line."""

from __future__ import annotations

import argparse
import json
import os
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


def cmd_inspect(args: argparse.Namespace) -> int:
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


def _parse_overrides(items: list[str] | None) -> dict:
    """``KEY=VALUE`` pairs with YAML values (``dim=64``, ``tasks=[semseg,depth]``)."""
    import yaml

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _print_metrics(metrics: dict, baselines: dict | None = None) -> None:
    from .metrics import PRIMARY

    print(f"{'task':<12} {'metric':<8} {'model':>10} {'baseline':>10}")
    for task, m in metrics.items():
        name, higher = PRIMARY[task]
        base = f"{baselines[task][name]:>10.3f}" if baselines and task in baselines else " " * 10
        arrow = "higher" if higher else "lower"
        print(f"{task:<12} {name:<8} {m[name]:>10.3f} {base}  ({arrow} is better)")


def _data_arg(data: str | None, root: str | None) -> str | None:
    """``--data pascal --root DIR`` is ``pascal:DIR``."""
    if root is None:
        return data
    if data not in ("pascal", "nyud"):
        raise ValueError(f"--root needs --data pascal or --data nyud, got --data {data!r}")
    return f"{data}:{root}"


def cmd_train(args: argparse.Namespace) -> int:
    """Train PRESET on the data, writing checkpoints and metrics.json to --out."""
    from . import distributed

    if distributed.under_torchrun():
        world = int(os.environ["WORLD_SIZE"])
        if args.nproc is not None and args.nproc != world:
            raise ValueError(f"--nproc {args.nproc} under torchrun with WORLD_SIZE={world}")
    elif args.nproc and args.nproc > 1:
        # Re-run this very command in N processes through torch.distributed.run; what
        # would fail in every process fails here first.
        if args.batch is not None:
            distributed.micro_batch(args.batch, args.nproc, args.accum or 1)
        if args.device.startswith("cuda"):
            import torch

            if torch.cuda.device_count() < args.nproc:
                raise ValueError(
                    f"--nproc {args.nproc} --device cuda needs {args.nproc} GPUs, "
                    f"{torch.cuda.device_count()} visible"
                )
        argv = distributed.strip_options(args.argv, ["--nproc", "--master-port"])
        return distributed.launch(argv, args.nproc, args.master_port)
    from .train import train

    result = train(
        None if args.preset == "-" else args.preset,
        _data_arg(args.data, args.root),
        steps=args.steps,
        epochs=args.epochs,
        lr=args.lr,
        batch=args.batch,
        seed=args.seed,
        device=args.device,
        out_dir=args.out,
        resume=args.resume,
        save_every=args.save_every,
        stop_after=args.stop_after,
        num_scenes=args.scenes,
        eval_scenes=args.eval_scenes,
        evaluate_at_end=not args.no_eval,
        overrides=_parse_overrides(args.set),
        recipe=args.recipe,
        optimizer=args.optimizer,
        accum=args.accum,
        amp=args.amp,
        augment=False if args.no_augment else None,
        workers=args.workers,
    )
    if distributed.under_torchrun() and int(os.environ.get("RANK", 0)) != 0:
        return 0  # rank 0 reports
    world = f" on {result['world_size']} processes" if result["world_size"] > 1 else ""
    print(
        f"trained to step {result['step']}/{result['steps']}: {result['steps_run']} steps in "
        f"{result['wall_s']:.1f} s ({result['s_per_step']:.3f} s/step{world}, global batch "
        f"{result['global_batch']}); checkpoint {result['checkpoint']}"
    )
    if "eval" in result:
        _print_metrics(result["eval"], result.get("baselines"))
    out = Path(args.out) / "metrics.json"
    if args.json:
        from .results import write_json

        out = write_json(Path(args.json), result)
    print(f"wrote {out}")
    return 0


def _print_benchmark(report: dict) -> None:
    """Primary metric per task for each numerics preset, Δm, and the reference rows."""
    from .metrics import PRIMARY

    runs = report["numerics"]
    tasks = list(next(iter(runs.values()))["metrics"])
    head = [f"{t} {PRIMARY[t][0]} {'↑' if PRIMARY[t][1] else '↓'}" for t in tasks]
    width = max(12, *(len(h) for h in head))
    rows = [(name, r["metrics"], r["delta_m"]) for name, r in runs.items()]
    if report.get("references"):
        rows.append(("single-task", report["references"]["single_task"], None))
    if report.get("published"):
        rows.append(("M3ViT-S paper", report["published"]["M3ViT-S"], None))
    print(f"{'':<14}" + "".join(f"{h:>{width + 2}}" for h in head) + "  Δm vs single-task %")
    for name, metrics, dm in rows:
        cells = []
        for t in tasks:
            v = metrics.get(t, {}).get(PRIMARY[t][0])
            cells.append(f"{v:>{width + 2}.3f}" if v is not None else f"{'-':>{width + 2}}")
        tail = f"  {dm:+.2f}" if dm is not None else ""
        print(f"{name:<14}" + "".join(cells) + tail)
    if report.get("references"):
        first = next(iter(runs.values()))
        print(
            f"Δm over {', '.join(first['delta_m_tasks'])}; references: "
            f"{report['references']['source']}"
        )


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint on a data split in each numerics preset; metrics, Δm, JSON."""
    from .evaluation import NUMERICS, benchmark, load_for_eval
    from .metrics import trivial_baselines
    from .results import write_json

    hints = {"preset": args.preset} if args.preset else {}
    model, extra = load_for_eval(args.checkpoint, **hints)
    data = _data_arg(args.data, args.root) or extra.get("data")
    if not isinstance(data, str):
        raise ValueError(f"{args.checkpoint} names no data spec; pass --data")
    seed = int(extra.get("seed", 0)) if args.seed is None else args.seed
    numerics = NUMERICS if args.numerics == "all" else tuple(args.numerics.split(","))
    bench = benchmark(
        model,
        data,
        split=args.split,
        numerics=numerics,
        calib_images=args.calib_images,
        batch=args.batch,
        device=args.device,
        seed=seed,
        num_scenes=args.scenes,
        native=not args.model_resolution,
        progress=True,
    )
    first = next(iter(bench["numerics"].values()))
    report = {"checkpoint": args.checkpoint, **bench, "metrics": first["metrics"]}
    if args.baselines:
        from .data import make_dataset

        # Constants from the training split (as many synthetic scenes as trained on).
        n_train = args.scenes or extra.get("train_args", {}).get("num_scenes")
        dataset = make_dataset(data, model.cfg, split=args.split, seed=seed, num_scenes=args.scenes)
        stats = make_dataset(data, model.cfg, split="train", seed=seed, num_scenes=n_train)
        report["baselines"] = trivial_baselines(
            dataset, model.cfg.tasks, model.cfg.task_channels, stats_dataset=stats
        )
        _print_metrics(report["metrics"], report["baselines"])
    _print_benchmark(report)
    if args.json:
        print(f"wrote {write_json(Path(args.json), report)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job; exit 1 when a bit-exactness check fails or a task misses its baseline."""
    from .demo import exit_status, run_demo

    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    data = run_demo(
        args.out,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        train_scenes=args.train_scenes,
        val_scenes=args.val_scenes,
        frames=args.frames,
        baseline_seconds=args.baseline_seconds,
        baseline_threads=args.baseline_threads or None,
    )
    return exit_status(data)


def cmd_export_hls(args: argparse.Namespace) -> int:
    """Export PRESET to the HLS accelerator: DDR image, generated header, manifest."""
    from .export import export_from_cli

    out = export_from_cli(
        args.preset,
        args.out,
        checkpoint=args.checkpoint,
        numerics=args.numerics,
        seed=args.seed,
        calib_images=args.calib_images,
        data=args.data,
        golden=args.golden,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    report = json.loads((out / "report.json").read_text())
    print(
        f"wrote {out}: {manifest['params_beats'] * 16 / 1e6:.1f} MB DDR image, "
        f"{manifest['act_w']}-bit activations ({manifest['numerics']['name']}), "
        f"modelled {report['modelled_ms']:.1f} ms at 300 MHz (see report.md)"
    )
    return 0


def _source(args: argparse.Namespace) -> str:
    """The command line that wrote a result file (its envelope's ``source``)."""
    import shlex

    return "edgemoe " + shlex.join(args.argv)


def _batches(text: str) -> list[int]:
    try:
        batches = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch expects N or N,M,..., got {text!r}") from None
    if not batches or min(batches) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    return batches


def cmd_baseline(args: argparse.Namespace) -> int:
    """Latency and energy of the golden model in float on a GPU or the CPU."""
    from host.baseline import BaselineError, baseline, format_runs

    from .results import write_result

    try:
        result = baseline(
            device=args.device,
            export=args.export,
            preset=args.preset,
            checkpoint=args.checkpoint,
            seed=args.seed,
            task=args.task,
            dtype=args.dtype,
            batches=args.batch,
            seconds=args.seconds,
            warmup=args.warmup,
            idle_seconds=args.idle_seconds,
            require_energy=not args.no_energy,
            rapl_root=args.rapl_root,
            moe_path=args.moe_path,
            threads=args.threads,
            source=_source(args),
        )
    except BaselineError as exc:
        print(f"edgemoe baseline: error: {exc}", file=sys.stderr)
        return 2
    machine = result["machine"]
    where = machine.get("gpu") or f"{machine['cpu']}, {result['threads']} threads"
    print(f"{result['preset']} task {result['task']}, {result['dtype']} on {where}:")
    print(format_runs(result))
    if args.json:
        print(f"wrote {write_result(args.json, result)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The comparison report from result files."""
    from .reports.comparison import find_results, summary, write_report

    files = list(args.results)
    if args.scan:
        found, skipped = find_results(args.scan, exclude=args.out)
        files += found
        if skipped:
            print(f"skipped {len(skipped)} JSON file(s) under {args.scan} that are not results")
    files = list({Path(f).resolve(): f for f in files}.values())  # named and scanned: once
    if not files:
        raise ValueError("no result files: name some, or --scan a folder (make report: build/)")
    report = write_report(files, args.out)
    print(summary(files, report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgemoe", description="M3ViT / Edge-MoE hardware co-design toolkit"
    )
    sub = p.add_subparsers(dest="command", required=True)
    presets = ", ".join(PRESETS)
    recipes = ", ".join(_recipe_names())

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

    q = sub.add_parser(
        "export-hls", help="export to the HLS accelerator: DDR image, headers, manifest"
    )
    q.add_argument("--preset", required=True, help=f"preset ({presets}) or a YAML/JSON config file")
    q.add_argument("--checkpoint", help="weights to export (default: random, seeded)")
    q.add_argument("--numerics", default="hw16", choices=("hw16", "hw8", "edgemoe"))
    q.add_argument("--out", required=True, help="output directory")
    q.add_argument(
        "--seed", type=int, default=0, help="seed of random weights and calibration images"
    )
    q.add_argument(
        "--calib-images", type=int, default=4, help="hw16 calibration images (default 4)"
    )
    q.add_argument(
        "--data", help="calibrate hw16 on this dataset (synthetic, pascal:DIR, nyud:DIR)"
    )
    q.add_argument(
        "--golden", action="store_true", help="also write golden/ vectors for hls/tb/tb_main.cpp"
    )
    q.set_defaults(func=cmd_export_hls)

    from host.cli import add_commands  # run, check-bitstream: the host runtime (no torch)

    add_commands(sub)

    from .perf.cli import add_commands as add_perf_commands  # perf, dse

    add_perf_commands(sub)

    q = sub.add_parser("inspect", help="summary, both MoE orders and routing traffic of a model")
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
    q.add_argument("--out", default="build/inspect/summary.json")
    q.set_defaults(func=cmd_inspect)

    q = sub.add_parser(
        "demo",
        help="the main job: train, evaluate every numerics preset, export, run bit-exactly "
        "on the simulated board, CPU baseline, modelled ZCU104 latency, one report",
    )
    q.add_argument("--out", default="build/demo", help="output folder (default build/demo)")
    q.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    q.add_argument("--batch", type=int, default=16)
    q.add_argument("--lr", type=float, default=2e-3)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--train-scenes", type=int, default=512)
    q.add_argument("--val-scenes", type=int, default=64)
    q.add_argument(
        "--frames",
        type=int,
        default=2,
        help="validation frames per task and export on the simulated board (default 2)",
    )
    q.add_argument(
        "--baseline-seconds",
        type=float,
        default=3.0,
        help="CPU baseline's timed window per mode (default 3)",
    )
    q.add_argument(
        "--baseline-threads",
        type=int,
        default=1,
        help="torch threads of the CPU baseline (default 1, robust on a shared machine; "
        "0: torch's default)",
    )
    q.set_defaults(func=cmd_demo)

    data_help = "synthetic, synthetic:N (N scenes), pascal:DIR (PASCAL_MT) or nyud:DIR (NYUD_MT)"
    q = sub.add_parser("train", help="multi-task training with resumable checkpoints")
    q.add_argument(
        "preset", help=f"preset ({presets}) or a YAML/JSON config file ('-' with --resume)"
    )
    q.add_argument("--data", default=None, help=data_help + " (default synthetic)")
    q.add_argument("--root", help="dataset directory for --data pascal or --data nyud")
    q.add_argument(
        "--recipe",
        help=f"training recipe ({recipes}; default: the one named like the preset, else default)",
    )
    q.add_argument("--steps", type=int, help="total optimizer steps (default: the recipe's)")
    q.add_argument("--epochs", type=float, help="alternatively, passes over the training set")
    q.add_argument(
        "--batch", type=int, help="global batch per optimizer step, all processes together"
    )
    q.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    q.add_argument("--optimizer", choices=("adamw", "sgd"), help="default: the recipe's")
    q.add_argument("--seed", type=int, help="seed of weights, data order and router noise")
    q.add_argument("--device", default="cpu", help="cpu or cuda (one GPU per process)")
    q.add_argument(
        "--nproc",
        type=int,
        help="data-parallel processes on this node: re-runs the command under torchrun "
        "(NCCL on cuda, gloo on cpu)",
    )
    q.add_argument(
        "--master-port", type=int, help="rendezvous port for --nproc (default: a free one)"
    )
    q.add_argument(
        "--accum", type=int, help="micro-steps of gradient accumulation per optimizer step"
    )
    q.add_argument(
        "--amp",
        choices=("bf16", "fp16", "none"),
        help="mixed precision autocast (fp16 with a GradScaler, CUDA only; bf16 on cuda or cpu)",
    )
    q.add_argument("--no-augment", action="store_true", help="skip the recipe's augmentation")
    q.add_argument("--workers", type=int, default=0, help="data loader workers per process")
    q.add_argument("--out", default="build/train", help="checkpoint and metrics directory")
    q.add_argument("--resume", help="continue a checkpoint written by train")
    q.add_argument("--save-every", type=int, default=100, help="checkpoint interval (steps)")
    q.add_argument(
        "--stop-after",
        type=int,
        help="end this run after N steps (checkpointed; the schedule still spans --steps)",
    )
    q.add_argument("--scenes", type=int, help="synthetic training scenes (default 512)")
    q.add_argument("--eval-scenes", type=int, help="synthetic validation scenes (default 64)")
    q.add_argument("--no-eval", action="store_true", help="skip the final validation")
    q.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="config override, e.g. dim=64"
    )
    q.add_argument("--json", help="also write the results JSON here")
    q.set_defaults(func=cmd_train)

    q = sub.add_parser(
        "eval", help="M3ViT metrics and Δm of a checkpoint, in float and numerics presets"
    )
    q.add_argument("checkpoint", help="checkpoint written by edgemoe train (or any model file)")
    q.add_argument("--preset", help="fills what an official checkpoint's shapes cannot tell")
    q.add_argument("--data", help=data_help + " (default: the checkpoint's)")
    q.add_argument("--root", help="dataset directory for --data pascal or --data nyud")
    q.add_argument("--split", default="val", help="split to evaluate (default val)")
    q.add_argument(
        "--numerics",
        default="float",
        help="comma-separated presets (float, approx, edgemoe, hw16) or 'all' (default float)",
    )
    q.add_argument(
        "--calib-images", type=int, default=16, help="training images that calibrate hw16"
    )
    q.add_argument(
        "--model-resolution",
        action="store_true",
        help="score at the model's input size, not at each image's own (PASCAL/NYUD)",
    )
    q.add_argument("--batch", type=int, default=16)
    q.add_argument("--device", default="cpu", help="cpu or cuda")
    q.add_argument("--seed", type=int, help="synthetic data seed (default: the checkpoint's)")
    q.add_argument("--scenes", type=int, help="synthetic scenes in the split (default 64)")
    q.add_argument("--baselines", action="store_true", help="add trivial baselines")
    q.add_argument("--json", help="write the metrics JSON here")
    q.set_defaults(func=cmd_eval)

    q = sub.add_parser(
        "baseline", help="latency and energy of the model in float on a GPU (NVML) or CPU (RAPL)"
    )
    q.add_argument("--device", required=True, choices=("cuda", "cpu"))
    what = q.add_mutually_exclusive_group(required=True)
    what.add_argument("--export", help="an export directory: its model and golden image")
    what.add_argument("--preset", help=f"preset ({presets}) or a YAML/JSON config file")
    q.add_argument("--checkpoint", help="weights for --preset (default: random, seeded)")
    q.add_argument("--seed", type=int, default=0, help="seed of random weights and the image")
    q.add_argument("--task", help="task name (default: the model's first task)")
    q.add_argument("--dtype", default="fp32", choices=("fp32", "fp16", "bf16"))
    q.add_argument(
        "--batch", type=_batches, default=[1], help="batch size, or a sweep N,M,... (default 1)"
    )
    q.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="timed window per run (default 10; >= 10 for energy)",
    )
    q.add_argument("--warmup", type=int, default=10, help="warm-up iterations (default 10)")
    q.add_argument(
        "--idle-seconds", type=float, default=5.0, help="idle power window first (default 5)"
    )
    q.add_argument("--no-energy", action="store_true", help="on cuda: latency only without NVML")
    q.add_argument(
        "--rapl-root", default="/sys/class/powercap", help="where the RAPL zones are (powercap)"
    )
    q.add_argument("--moe-path", default="expert", choices=("expert", "token"))
    q.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    q.add_argument("--json", help="write the result file here")
    q.set_defaults(func=cmd_baseline)

    q = sub.add_parser("report", help="comparison report (markdown + plots) from result files")
    q.add_argument("results", nargs="*", help="result JSON files (host runs, baselines, ...)")
    q.add_argument("--scan", help="also every result file under this folder (e.g. build)")
    q.add_argument("--out", default="build/report", help="output folder (default build/report)")
    q.set_defaults(func=cmd_report)
    return p


def _recipe_names() -> list[str]:
    from .recipe import RECIPES

    return list(RECIPES)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args) or 0)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"edgemoe {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
