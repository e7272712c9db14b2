"""docs/ACCURACY.md: the error of each numerics preset against float, per layer and output.

``python -m pymodel.reports.accuracy [--quick] [--checkpoint PATH]`` runs random-weight
models (and checkpoints) in every report preset beside the float64 reference, writes
``build/numerics/accuracy.json`` (per model, preset and layer: activation error, overflow
counts, head-output and routing agreement) and renders the document's generated section
from that JSON alone.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..numerics.forward import FixedArith, FloatArith, Q, calibrate, model_bank, run_backbone
from ..numerics.presets import PRESETS, NumericsPreset
from ..numerics.qtorch import OverflowCounter
from ..results import machine, update_section, write_json
from .common import (
    DOCS_DIR,
    OUT_DIR,
    SECTION,
    Threads,
    deq,
    f64,
    gen,
    measured_line,
    num,
    parser,
    rel,
    table,
)

#: The command that regenerates docs/ACCURACY.md (named in the document).
COMMAND = "python -m pymodel.reports.accuracy"
ACCURACY_JSON, ACCURACY_MD = "accuracy.json", "ACCURACY.md"
MODEL_SEED, IMAGE_SEED, CALIB_SEED = 0, 1, 2  # random weights, evaluated images, hw16 calibration
REPORT_PRESETS = ("approx", "edgemoe", "hw16")
EXPERT_LAYER = ".mlp.experts."


class _ExpertTap:
    """Keeps every expert's rows of the per-expert layers, with their token indices.

    The plain ``record`` holds one tensor per name, so for ``mlp.experts.*`` it keeps only
    the last expert evaluated, whose tokens differ between arithmetics when routing does.
    """

    record: dict[str, torch.Tensor] | None

    def _tap_init(self) -> None:
        self.experts_seen: dict[str, list[tuple[int, torch.Tensor, torch.Tensor]]] = {}

    def keep_expert(self, name: str, e: int, tokens: torch.Tensor, value: torch.Tensor) -> None:
        self.experts_seen.setdefault(name, []).append((e, tokens, value))


class _TapFloat(_ExpertTap, FloatArith):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tap_init()


class _TapFixed(_ExpertTap, FixedArith):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tap_init()


def tapped_forward(
    model: Any,
    images: torch.Tensor,
    task_id: int,
    preset: NumericsPreset | None,
    weights: dict[str, Q] | None = None,
) -> tuple[Any, _ExpertTap, dict[str, torch.Tensor], dict[str, str]]:
    """The golden forward of :func:`backbone_forward` with every layer recorded.

    ``preset`` None is the float64 reference (exact math; also returns each name's format
    kind), an ``approx`` preset the float hardware approximations, a fixed preset the
    integer datapath (``weights`` caches its quantised weights across calls). Returns
    (output, arithmetic, routing, kinds); a test checks the output equals backbone_forward's.
    """
    bank = model_bank(model)
    eps = model.cfg.ln_eps
    kinds: dict[str, str] = {}
    A: _TapFloat | _TapFixed
    if preset is None:
        A = _TapFloat(bank, approx=False, eps=eps, observe={}, kinds=kinds)
    elif preset.kind == "approx":
        A = _TapFloat(bank, approx=True, eps=eps)
    else:
        A = _TapFixed(bank, preset, OverflowCounter(), weights)
    A.record = {}
    routing: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        out = run_backbone(model, images, task_id, A, routing)
    return out, A, routing, kinds


class _Acc:
    """Running error statistics of one layer over several forwards."""

    def __init__(self) -> None:
        self.n, self.max_abs, self.sum_abs, self.sum_sq, self.sum_ref_sq = 0, 0.0, 0.0, 0.0, 0.0

    def add(self, got: torch.Tensor, ref: torch.Tensor) -> None:
        got, ref = f64(got).reshape(-1), f64(ref).reshape(-1)
        if not got.numel():
            return
        err = (got - ref).abs()
        self.n += err.numel()
        self.max_abs = max(self.max_abs, float(err.max()))
        self.sum_abs += float(err.sum())
        self.sum_sq += float(err.square().sum())
        self.sum_ref_sq += float(ref.square().sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "max_abs": self.max_abs,
            "mean_abs": self.sum_abs / self.n if self.n else None,
            "rel_rms": math.sqrt(self.sum_sq / self.sum_ref_sq) if self.sum_ref_sq else None,
        }


def _same_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row: the same expert *set* (order ignored)."""
    return (a.sort(-1).values == b.sort(-1).values).all(-1)


def _compare_layers(
    accs: dict[str, _Acc],
    got: _ExpertTap,
    ref: _ExpertTap,
    to_float: Callable[[str, torch.Tensor], torch.Tensor],
    routing: dict[str, torch.Tensor],
    ref_routing: dict[str, torch.Tensor],
) -> None:
    """Add one forward's per-layer errors (``to_float`` turns a recorded value into float64)."""
    assert got.record is not None and ref.record is not None
    for name, value in got.record.items():
        if name not in ref.record:
            continue
        r = ref.record[name]
        v = to_float(name, value)
        if name.endswith(".mlp.gate_prob"):
            # Gates follow each arithmetic's own top-k: compare tokens routed identically.
            block = name.rsplit(".mlp.", 1)[0]
            same = (routing[block] == ref_routing[block]).all(-1)
            v, r = v[same], r[same]
        accs.setdefault(name, _Acc()).add(v, r)
    for name, entries in got.experts_seen.items():
        ref_by_e = {e: (t, r) for e, t, r in ref.experts_seen.get(name, [])}
        for e, tokens, value in entries:
            if e not in ref_by_e:
                continue
            rt, r = ref_by_e[e]
            # Both token lists are ascending (expert-major order): match the common tokens.
            accs.setdefault(name, _Acc()).add(
                to_float(name, value)[torch.isin(tokens, rt)], r[torch.isin(rt, tokens)]
            )


def images(cfg: Any, n: int, seed: int) -> torch.Tensor:
    h, w = cfg.img_size
    return torch.randn(n, cfg.in_chans, h, w, generator=gen(seed))


def _block_of(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "blocks" else parts[0]


def _calibrated_bits(preset: NumericsPreset, kinds: Mapping[str, str], bank: Mapping) -> dict:
    """Integer bits chosen by calibration, per kind: min, max and number of tensors."""
    out: dict[str, dict[str, int]] = {}
    for name, fmt in preset.overrides.items():
        kind = kinds.get(name) or (bank[name][1] if name in bank else "?")
        s = out.setdefault(kind, {"min": fmt.int_bits, "max": fmt.int_bits, "tensors": 0})
        s["min"], s["max"] = min(s["min"], fmt.int_bits), max(s["max"], fmt.int_bits)
        s["tensors"] += 1
    return dict(sorted(out.items()))


def measure_model(
    model: Any,
    label: str,
    source: str,
    n_images: int,
    n_calib: int,
    presets: Iterable[str] = REPORT_PRESETS,
) -> dict[str, Any]:
    """Per-layer activation errors, overflow, output and routing agreement of one model."""
    t0 = time.perf_counter()
    cfg = model.cfg
    x = images(cfg, n_images, IMAGE_SEED)
    calib = images(cfg, n_calib, CALIB_SEED)
    bank = model_bank(model)
    refs = {}
    kinds: dict[str, str] = {}
    for t in range(cfg.num_tasks):
        out, A, routing, k = tapped_forward(model, x, t, None)
        refs[t] = (A, routing)
        kinds.update(k)
    with torch.no_grad():
        heads = {t: model(x, t).double() for t in cfg.tasks}
    result: dict[str, Any] = {
        "model": label,
        "source": source,
        "config": {
            "img_size": list(cfg.img_size),
            "tokens": cfg.num_tokens,
            "dim": cfg.dim,
            "depth": cfg.depth,
            "heads": cfg.num_heads,
            "moe_blocks": list(cfg.moe_blocks),
            "experts": cfg.num_experts,
            "top_k": cfg.top_k,
            "tasks": list(cfg.tasks),
        },
        "images": n_images,
        "image_seed": IMAGE_SEED,
        "calibration_images": n_calib,
        "calibration_seed": CALIB_SEED,
        "presets": {},
    }
    for pname in presets:
        preset = PRESETS[pname]
        if preset.kind == "fixed" and preset.needs_calibration:
            preset = calibrate(model, calib)
            result["hw16_int_bits"] = _calibrated_bits(preset, kinds, bank)
        accs: dict[str, _Acc] = {}
        overflow: dict[str, dict[str, int]] = {}
        weights: dict[str, Q] = {}
        tasks: dict[str, Any] = {}
        routing_agree: dict[str, dict[str, float]] = {}
        for t, tname in enumerate(cfg.tasks):
            out, A, routing, _ = tapped_forward(model, x, t, preset, weights)
            ref_A, ref_routing = refs[t]
            if isinstance(A, _TapFixed):

                def to_float(
                    name: str, raw: torch.Tensor, p: NumericsPreset = preset
                ) -> torch.Tensor:
                    return deq(raw, p.fmt(name, kinds[name]).frac_bits)

                for name, c in A.counter.to_dict().items():
                    o = overflow.setdefault(name, {"overflow": 0, "values": 0})
                    o["overflow"] += c["overflow"]
                    o["values"] += c["values"]
            else:

                def to_float(name: str, v: torch.Tensor) -> torch.Tensor:
                    return v

            _compare_layers(accs, A, ref_A, to_float, routing, ref_routing)
            with torch.no_grad():
                y = model(x, tname, numerics=preset).double()
            ref_y = heads[tname]
            if tname == "semseg":
                agree = 100.0 * float((y.argmax(1) == ref_y.argmax(1)).double().mean())
                tasks[tname] = {"metric": "argmax agreement %", "value": agree}
            else:
                rel = float((y - ref_y).norm() / ref_y.norm())
                tasks[tname] = {"metric": "relative RMS error", "value": rel}
            routing_agree[tname] = {
                b: 100.0 * float(_same_rows(idx, ref_routing[b]).double().mean())
                for b, idx in routing.items()
            }
        layers = {n: {"kind": kinds.get(n, "?"), **a.to_dict()} for n, a in accs.items()}
        if preset.kind == "fixed":
            for n, d in layers.items():
                d["format"] = str(preset.fmt(n, d["kind"]))
                o = overflow.get(n)
                d["overflow"] = o["overflow"] if o else 0
        result["presets"][pname] = {
            "layers": layers,
            "blocks": _block_summary(layers),
            "overflow": _overflow_summary(overflow, bank) if preset.kind == "fixed" else None,
            "tasks": tasks,
            "routing": routing_agree,
        }
    result["runtime_s"] = time.perf_counter() - t0
    return result


def _block_summary(layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per block: the error of its output (last layer recorded) and its worst layer."""
    blocks: dict[str, dict[str, Any]] = {}
    for name, d in layers.items():  # recording order: the block's output comes last
        if d["rel_rms"] is None or EXPERT_LAYER in name:
            continue
        b = blocks.setdefault(_block_of(name), {"worst": name, "worst_rel_rms": d["rel_rms"]})
        b["output"], b["output_rel_rms"], b["output_max_abs"] = name, d["rel_rms"], d["max_abs"]
        if d["rel_rms"] > b["worst_rel_rms"]:
            b["worst"], b["worst_rel_rms"] = name, d["rel_rms"]
    for name, d in layers.items():  # the expert layers can be the worst (not the output)
        if EXPERT_LAYER in name and d["rel_rms"] is not None:
            b = blocks[_block_of(name)]
            if d["rel_rms"] > b["worst_rel_rms"]:
                b["worst"], b["worst_rel_rms"] = name, d["rel_rms"]
    return blocks


def _overflow_summary(overflow: Mapping[str, Mapping[str, int]], bank: Mapping) -> dict:
    """Overflowed values of weights (counted once, when quantised) and of activations
    (summed over every forward), with the tensors that overflowed."""
    out: dict[str, Any] = {}
    for what, sel in (("weights", True), ("activations", False)):
        items = {n: c for n, c in overflow.items() if (n in bank) == sel}
        out[what] = {
            "overflow": sum(c["overflow"] for c in items.values()),
            "values": sum(c["values"] for c in items.values()),
            "tensors": {
                n: c
                for n, c in sorted(items.items(), key=lambda kv: -kv[1]["overflow"])
                if c["overflow"]
            },
        }
    return out


def measure_accuracy(
    models: Sequence[str] = ("tiny", "edgemoe-t"),
    checkpoints: Sequence[str | Path] = (),
    n_images: int = 2,
    n_calib: int = 2,
    generator: str = COMMAND,
) -> dict[str, Any]:
    """Accuracy of every report preset on random-weight models and on checkpoints
    (``generator``: the command line named in the document)."""
    from .. import build_model, load_checkpoint

    t0 = time.perf_counter()
    results = []
    for name in models:
        model = build_model(name, seed=MODEL_SEED)
        results.append(
            measure_model(model, name, f"random weights, seed {MODEL_SEED}", n_images, n_calib)
        )
    for path in checkpoints:
        model = load_checkpoint(path)
        results.append(
            measure_model(model, Path(path).name, f"checkpoint {path}", n_images, n_calib)
        )
    return {
        "generator": generator,
        "machine": machine(),
        "seeds": {"model": MODEL_SEED, "images": IMAGE_SEED, "calibration": CALIB_SEED},
        "inputs": "images drawn from N(0, 1) per pixel (torch.Generator seeded as stated)",
        "reference": "float64 forward with exact math (FloatArith) for layers; the PyTorch "
        "float32 model for head outputs and its routing from the float64 forward",
        "models": results,
        "runtime_s": time.perf_counter() - t0,
    }


def _overflow_md(m: Mapping[str, Any], presets: Sequence[str]) -> list[str]:
    over = [(p, m["presets"][p]["overflow"]) for p in presets if m["presets"][p]["overflow"]]
    if not over:
        return []
    rows = []
    for p, o in over:
        w, a = o["weights"], o["activations"]
        worst = list({**w["tensors"], **a["tensors"]}.items())[:8]
        names = ", ".join(f"`{n}` ({c['overflow']})" for n, c in worst) or "none"
        rows.append(
            [p, f"{w['overflow']} / {w['values']}", f"{a['overflow']} / {a['values']}", names]
        )
    return [
        "",
        "### Overflow (values out of range of their format)",
        "",
        "Weights are counted once (when quantised), activations over every image and task.",
        "",
        table(["preset", "weights", "activations", "tensors that overflowed (count)"], rows),
    ]


def _blocks_md(m: Mapping[str, Any], presets: Sequence[str]) -> str:
    hdr = ["block", *(f"{p} {col}" for p in presets for col in ("output", "worst layer"))]
    rows = []
    for b in m["presets"][presets[0]]["blocks"]:
        r: list[Any] = [b]
        for p in presets:
            bs = m["presets"][p]["blocks"].get(b)
            if bs is None:
                r += ["—", "—"]
                continue
            short = bs["worst"][len(b) + 1 :] or bs["worst"]
            r += [bs["output_rel_rms"], f"{num(bs['worst_rel_rms'])} ({short})"]
        rows.append(r)
    return table(hdr, rows)


def _layers_md(model: str, preset: str, layers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    fixed = any("format" in d for d in layers.values())
    hdr = ["layer", "kind", "format", "values", "max abs", "mean abs", "rel RMS", "overflow"]
    rows = [
        [f"`{n}`", d["kind"], f"`{d['format']}`" if fixed else "float64", d["n"],
         d["max_abs"], d["mean_abs"], d["rel_rms"], d["overflow"] if fixed else "—"]
        for n, d in layers.items()
    ]  # fmt: skip
    return [
        "",
        f"<details><summary>{model}: every layer in {preset}</summary>",
        "",
        table(hdr, rows),
        "",
        "</details>",
    ]


def _model_md(m: Mapping[str, Any]) -> list[str]:
    c = m["config"]
    presets = list(m["presets"])
    first = m["presets"][presets[0]]
    task_rows = [
        [t, first["tasks"][t]["metric"], *(m["presets"][p]["tasks"][t]["value"] for p in presets)]
        for t in c["tasks"]
    ]
    routing_rows = [
        [t, b, *(m["presets"][p]["routing"][t][b] for p in presets)]
        for t in c["tasks"]
        for b in first["routing"][t]
    ]
    parts = [
        "",
        f"## `{m['model']}` ({m['source']})",
        "",
        f"Input {c['img_size'][0]}x{c['img_size'][1]}, {c['tokens']} tokens, dim {c['dim']}, "
        f"depth {c['depth']}, MoE blocks {c['moe_blocks']}, {c['experts']} experts "
        f"top-{c['top_k']}; {m['images']} images (seed {m['image_seed']}); hw16 calibrated "
        f"on {m['calibration_images']} other images (seed {m['calibration_seed']}); runtime "
        f"{num(m['runtime_s'])} s.",
        "",
        "### Task outputs",
        "",
        table(["task", "metric", *presets], task_rows),
        "",
        "### Routing agreement (%)",
        "",
        table(["task", "block", *presets], routing_rows),
        "",
        "### Activation error per block",
        "",
        "Per preset: the relative RMS error of the block's output (the residual stream) and "
        "its worst layer (relative RMS, name after the block prefix).",
        "",
        _blocks_md(m, presets),
        *_overflow_md(m, presets),
    ]
    if "hw16_int_bits" in m:
        bits = [[k, v["min"], v["max"], v["tensors"]] for k, v in m["hw16_int_bits"].items()]
        parts += [
            "",
            "### hw16 integer bits chosen by calibration",
            "",
            table(["kind", "min", "max", "tensors"], bits),
        ]
    for p in presets:
        parts += _layers_md(m["model"], p, m["presets"][p]["layers"])
    return parts


def render_accuracy(data: Mapping[str, Any]) -> str:
    """docs/ACCURACY.md's section, from accuracy.json alone."""
    s = data["seeds"]
    parts = [
        "Error of each numerics preset against float, per layer, per task output and for "
        f"the routing. Generated from `build/numerics/{ACCURACY_JSON}`.",
        "",
        measured_line(data),
        f"Seeds: model weights {s['model']}, evaluated images {s['images']}, hw16 "
        f"calibration images {s['calibration']}. Inputs: {data['inputs']}. Reference: "
        f"{data['reference']}. Relative RMS = ||got - ref|| / ||ref||. Routing agreement "
        "= % tokens with the same expert set as float.",
    ]
    for m in data["models"]:
        parts += _model_md(m)
    return "\n".join(parts) + "\n"


def run(
    quick: bool = False,
    checkpoints: Sequence[str | Path] = (),
    out_dir: str | Path = OUT_DIR,
    docs_dir: str | Path = DOCS_DIR,
    models: Sequence[str] | None = None,
    n_images: int | None = None,
    threads: int = 1,
) -> dict[str, Path]:
    """Measure, write ``accuracy.json``, render docs/ACCURACY.md; returns the paths written."""
    out_dir, docs_dir = Path(out_dir), Path(docs_dir)
    if models is None:
        models = ("tiny",) if quick else ("tiny", "edgemoe-t")
    command = " ".join(
        [COMMAND, *(["--quick"] if quick else [])] + [f"--checkpoint {c}" for c in checkpoints]
    )
    with Threads(threads):
        adata = measure_accuracy(
            models,
            checkpoints,
            n_images=n_images or (2 if quick else 4),
            n_calib=2,
            generator=command,
        )
        ajson = write_json(out_dir / ACCURACY_JSON, adata)
    # Render from the file just written: the document holds only what the JSON holds.
    adoc = update_section(
        docs_dir / ACCURACY_MD,
        SECTION,
        render_accuracy(json.loads(ajson.read_text())),
        "Accuracy of the numerics presets",
    )
    return {"accuracy": ajson, "accuracy_md": adoc}


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser(COMMAND, __doc__.split("\n")[0])
    ap.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="PATH",
        help="also report a model loaded with pymodel.load_checkpoint (repeatable)",
    )
    ap.add_argument(
        "--model",
        action="append",
        metavar="PRESET",
        help="random-weight model presets to report (default: tiny and edgemoe-t)",
    )
    ap.add_argument("--images", type=int, help="evaluated images per model")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    paths = run(args.quick, args.checkpoint, args.out_dir, args.docs_dir, args.model, args.images)
    for p in paths.values():
        print(f"wrote {rel(p)}")
    print(f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
