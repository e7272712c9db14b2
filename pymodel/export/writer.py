"""Write an export: the DDR image, the generated header, golden vectors, the manifest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..numerics.fixed import FixedFormat
from ..numerics.forward import backbone_forward, fixed_arith, model_preset
from ..numerics.hwmath import SPEC, tables
from ..numerics.presets import NumericsPreset
from .checks import ACT_WORD_TENSORS, act_width, check_formats, format_table, gate_name, n_gates
from .descriptor import (
    DESC_MAGIC,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    GLOBAL_FIELDS,
    ROUTERS,
    STATUS_CODES,
    HlsExportError,
    block_fields,
    check_config,
    config_dims,
    encode_format,
    ln_eps_raw,
    validate_descriptor,
)
from .design import Design
from .header import config_header, depth_defines
from .heads import write_heads
from .layout import WEIGHT_W, Layout, pack_rows, plan_layout, storage_bits
from .regmap import interface
from .tensors import BLOCK_TENSORS, output_key

MANIFEST = "manifest.json"


def resolve_preset(model, preset: str | NumericsPreset) -> NumericsPreset:
    """The fixed-point preset to export (a calibrated hw16 stored on the model is used)."""
    p = model_preset(model, preset)
    if p.kind != "fixed":
        raise HlsExportError(f"numerics {p.name!r} is not fixed point; export edgemoe or hw16")
    if p.needs_calibration:
        raise HlsExportError(
            f"numerics {p.name!r} needs calibration first: pymodel.calibrate(model, images, "
            f"{p.name!r}) (or edgemoe export-hls --numerics {p.name}, which calibrates)"
        )
    return p


def build_descriptor(
    cfg, layout: Layout, fmts: Mapping[str, FixedFormat], design: Design
) -> tuple[dict[str, int], list[dict[str, int]]]:
    """Global and per-block descriptor words (names -> values)."""
    g = dict.fromkeys(GLOBAL_FIELDS, 0)
    g.update(layout.globals)
    g.update(layout.io)
    g.update(config_dims(cfg))
    h, w = cfg.img_size
    gh, gw = cfg.grid
    g.update(
        magic=DESC_MAGIC,
        version=EXPORT_VERSION,
        act_w=layout.act_w,
        params_beats=layout.params_beats,
        io_beats=layout.io_beats,
        patches=cfg.num_patches,
        in_chans=cfg.in_chans,
        patch=cfg.patch_size,
        img_h=h,
        img_w=w,
        grid_h=gh,
        grid_w=gw,
        router=ROUTERS[cfg.router],
        renorm=int(cfg.renormalize_gates),
    )
    for name in ("input", "patch_w", "patch_b", "pos", "cls", "embed"):
        g[f"fmt_{name}"] = encode_format(fmts[name.replace("_", ".")])
    blocks = []
    x = fmts["embed"]
    for i in range(cfg.depth):
        p, moe = f"blocks.{i}.", i in cfg.moe_blocks
        b = dict.fromkeys(block_fields(design.maxima.tasks), 0)
        b.update(layout.blocks[i])
        b["moe"] = int(moe)
        for t in BLOCK_TENSORS:
            if t.applies(moe):
                b[f"fmt_{t.key}"] = encode_format(fmts[p + t.name])
        if moe:
            for task in range(n_gates(cfg)):
                b[f"fmt_gate_w_{task}"] = encode_format(fmts[gate_name(i, task)])
        b["eps1"] = ln_eps_raw(x.frac_bits)
        x = fmts[p + "attn.proj"]
        b["eps2"] = ln_eps_raw(x.frac_bits)
        x = fmts[p + "mlp." + output_key(moe)]
        blocks.append(b)
    return g, blocks


def _words(values: Sequence[int]) -> bytes:
    return np.asarray([v & 0xFFFFFFFF for v in values], dtype="<u4").tobytes()


def write_params(model, preset: NumericsPreset, design: Design) -> tuple[bytes, Layout, dict]:
    """Build the DDR image of ``model`` in ``preset``: (bytes, layout, formats)."""
    cfg = model.cfg
    act_w = act_width(cfg, preset)
    check_config(cfg, design.maxima, act_w)
    fmts = format_table(cfg, preset)
    check_formats(cfg, fmts, act_w)
    if preset.spec != SPEC:
        raise HlsExportError("the HLS engine is generated for the default MathSpec")
    layout, img = plan_layout(cfg, act_w, design.maxima.tasks, fmts)
    g, blocks = build_descriptor(cfg, layout, fmts, design)
    validate_descriptor(g, design.maxima)
    for name, values in tables(preset.spec).items():
        img.put(g[f"off_{name}"], _words(values))
    # Weights exactly as the golden forward quantises them (shared cache with it).
    A = fixed_arith(model, preset)
    for name, (off, _) in layout.tensors.items():
        if name.startswith(("descriptor.", "table.")) or ".task_feature." in name:
            continue
        q = A.w(name)
        raw = q.raw.numpy().reshape(-1, q.raw.shape[-1]) if q.raw.dim() > 1 else q.raw.numpy()
        if name in ACT_WORD_TENSORS:
            width = act_w
        else:
            width = storage_bits(q.fmt) if name in layout.matrices else WEIGHT_W
        img.put(off, pack_rows(raw, width, q.fmt))
    if cfg.router == "task":
        with torch.no_grad():
            for t in range(cfg.num_tasks):
                feat = model.backbone.gate_task_represent(t).double()
                for i in cfg.moe_blocks:
                    q = A.quantize(feat, fmts[f"blocks.{i}.norm2"], "task_feature")
                    off = layout.tensors[f"blocks.{i}.task_feature.{t}"][0]
                    img.put(off, pack_rows(q.raw.numpy(), act_w, q.fmt))
    img.put(0, _words([g[n] for n in GLOBAL_FIELDS]))
    bf = block_fields(design.maxima.tasks)
    for i, b in enumerate(blocks):
        img.put(g["off_blocks"] + i * g["block_beats"], _words([b[n] for n in bf]))
    return img.tobytes(), layout, fmts


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def quantize_image(image: torch.Tensor | np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """(C, H, W) float image -> raw integers in ``fmt`` (as the golden ``input`` step)."""
    x = np.asarray(image.detach().double().cpu().numpy() if torch.is_tensor(image) else image)
    x = x.astype(np.float64)
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError("the accelerator runs batch 1: pass one (C, H, W) image")
        x = x[0]
    return fmt.from_float(x)


def write_golden(model, preset, fmts, image: torch.Tensor, tasks, out: Path) -> dict[str, Any]:
    """``golden/``: the quantised input and the golden raw output of every task; returns routing."""
    cfg = model.cfg
    gdir = out / "golden"
    gdir.mkdir(exist_ok=True)
    img = image[0] if image.dim() == 4 else image
    quantize_image(img, fmts["input"]).astype("<i8").tofile(gdir / "image.bin")
    meta = [
        f"image {cfg.in_chans} {cfg.img_size[0]} {cfg.img_size[1]} image.bin",
        f"output {cfg.num_tokens} {cfg.dim}",
    ]
    routing: dict[str, Any] = {}
    for t in tasks:
        res = backbone_forward(model, img[None], t, preset)
        res.raw[0].numpy().astype("<i8").tofile(gdir / f"expected_task{t}.bin")
        meta.append(f"task {t} expected_task{t}.bin")
        if not routing:
            routing = {k: v.numpy() for k, v in res.routing.items()}
    (gdir / "meta.txt").write_text("\n".join(meta) + "\n")
    return routing


def export_hls(
    model,
    preset: str | NumericsPreset,
    out_dir: str | Path,
    *,
    checkpoint_info: Mapping[str, Any] | None = None,
    golden_image: torch.Tensor | None = None,
    golden_tasks: Sequence[str | int] | None = None,
    design: Design | None = None,
) -> Path:
    """Write the accelerator export of ``model`` in numerics ``preset`` to ``out_dir``.

    Files: ``params.bin`` (the DDR image), ``edgemoe_config.h`` (the generated
    header), ``report.json``/``report.md`` (MODELLED cycles of the design),
    ``manifest.json`` (model, numerics, formats, layout, interface, design,
    sha256 of every file) and, with ``golden_image`` (C, H, W), ``golden/``
    with the quantised input and the golden raw output of every task in
    ``golden_tasks`` (default all). Raises :class:`HlsExportError` when the
    model does not fit the design's maxima or the formats cannot be stored or
    aligned by the datapath; nothing is written then.
    """
    from ..perf.model import Widths
    from ..perf.report import perf_report, report_markdown

    design = design or Design()
    p = resolve_preset(model, preset)
    cfg = model.cfg
    params, layout, fmts = write_params(model, p, design)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "params.bin").write_bytes(params)
    (out / "edgemoe_config.h").write_text(config_header(layout.act_w, design, p.spec))
    routing = None
    if golden_image is not None:
        tasks = [cfg.task_index(t) for t in (golden_tasks or range(cfg.num_tasks))]
        routing = write_golden(model, p, fmts, golden_image, tasks, out)
    report = perf_report(
        cfg, design, Widths.from_formats(fmts, layout.act_w), routing=routing, numerics=p.name
    )
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(report_markdown(report))
    write_heads(model, out)  # float task heads for the host runtime (heads.npz)
    files = sorted(q for q in out.rglob("*") if q.is_file() and q.name != MANIFEST)
    last = cfg.depth - 1
    manifest = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "preset": cfg.name,
        "config": cfg.to_dict(),
        "tasks": list(cfg.tasks),
        "numerics": p.to_dict(),
        "act_w": layout.act_w,
        "weight_w": WEIGHT_W,
        "formats": {k: str(v) for k, v in fmts.items()},
        "input_format": str(fmts["input"]),
        "output_format": str(fmts[f"blocks.{last}.mlp." + output_key(last in cfg.moe_blocks)]),
        "design": design.to_dict(),
        "params_beats": layout.params_beats,
        "io_beats": layout.io_beats,
        "io_regions": layout.io,
        "descriptor": {
            "global_fields": list(GLOBAL_FIELDS),
            "block_fields": list(block_fields(design.maxima.tasks)),
        },
        "interface": interface(design),
        "status_codes": STATUS_CODES,
        "m_axi_depth": {"params": layout.params_beats, "io": layout.io_beats},
        "depth_defines": depth_defines(layout.params_beats, layout.io_beats),
        "checkpoint": dict(checkpoint_info) if checkpoint_info else None,
        "files": {
            str(q.relative_to(out)): {"sha256": sha256_file(q), "bytes": q.stat().st_size}
            for q in files
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return out
