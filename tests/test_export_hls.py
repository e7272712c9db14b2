"""The HLS export: DDR image layout, descriptor, generated header, manifest, refusals."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace

import numpy as np
import pytest

from pymodel import build_model, calibrate
from pymodel.config import PRESETS
from pymodel.export import (
    GLOBAL_FIELDS,
    Design,
    HlsExportError,
    HlsMaxima,
    axi_depths,
    block_fields,
    check_config,
    config_header,
    decode_format,
    encode_format,
    export_from_cli,
    export_hls,
    image_sizes,
    plan_layout,
    read_global_descriptor,
    register_map,
    validate_descriptor,
)
from pymodel.numerics import FixedFormat, OverflowCounter, get_preset
from pymodel.numerics.forward import fixed_arith
from pymodel.numerics.hwmath import tables

from .conftest import images


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_model("tiny", seed=2)
    x = images(model.cfg, batch=1, seed=3)
    out = export_hls(model, "edgemoe", tmp_path_factory.mktemp("exp"), golden_image=x[0])
    return model, out


def test_export_writes_every_file_with_hashes(exported):
    _, out = exported
    manifest = json.loads((out / "manifest.json").read_text())
    names = set(manifest["files"])
    for required in ("params.bin", "edgemoe_config.h", "report.json", "report.md"):
        assert required in names
    assert {"golden/meta.txt", "golden/image.bin", "golden/expected_task0.bin"} <= names
    for name, entry in manifest["files"].items():
        data = (out / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    assert manifest["preset"] == "tiny" and manifest["numerics"]["name"] == "edgemoe"
    assert manifest["act_w"] == 32
    assert manifest["params_beats"] * 16 == (out / "params.bin").stat().st_size


def test_descriptor_holds_the_model(exported):
    model, out = exported
    cfg = model.cfg
    g = read_global_descriptor((out / "params.bin").read_bytes())
    assert g["tokens"] == cfg.num_tokens and g["dim"] == cfg.dim and g["depth"] == cfg.depth
    assert (g["heads"], g["head_dim"]) == (cfg.num_heads, cfg.head_dim)
    assert (g["experts"], g["top_k"], g["tasks"]) == (cfg.num_experts, cfg.top_k, cfg.num_tasks)
    assert (g["img_h"], g["img_w"]) == cfg.img_size
    assert decode_format(g["fmt_embed"]) == FixedFormat.parse("ap_fixed<32,10>")
    validate_descriptor(g, HlsMaxima())
    words = np.fromfile(out / "params.bin", dtype="<u4")
    bf = block_fields(HlsMaxima().tasks)
    for i in range(cfg.depth):
        base = g["off_blocks"] * 4 + i * g["block_beats"] * 4
        assert words[base + bf.index("moe")] == int(i in cfg.moe_blocks)


def test_weights_and_tables_in_hardware_layout(exported):
    model, out = exported
    raw = (out / "params.bin").read_bytes()
    layout, _ = plan_layout(model.cfg, 32)
    A = fixed_arith(model, get_preset("edgemoe"), OverflowCounter())
    for name in ("blocks.1.attn.q.w", "blocks.1.mlp.experts.h4toh.w", "blocks.0.norm1.b", "pos"):
        off, beats = layout.tensors[name]
        q = A.w(name).raw.numpy()
        q = q.reshape(-1, q.shape[-1]) if q.ndim > 1 else q[None]
        width = 32 if name == "pos" else 16
        per = 128 // width
        cols = -(-q.shape[1] // per) * per
        got = np.frombuffer(raw[off * 16 : (off + beats) * 16], dtype=f"<i{width // 8}")
        assert np.array_equal(got.reshape(-1, cols)[:, : q.shape[1]], q), name
    g = read_global_descriptor(raw)
    for name, values in tables().items():
        off = g[f"off_{name}"] * 16
        got = np.frombuffer(raw[off : off + 4 * len(values)], dtype="<i4")
        assert got.tolist() == values


def test_format_words_round_trip():
    for s in (
        "ap_fixed<32,10>",
        "ap_ufixed<16,0,AP_RND_CONV,AP_SAT>",
        "ap_fixed<16,-3,AP_RND,AP_SAT_SYM>",
    ):
        f = FixedFormat.parse(s)
        assert decode_format(encode_format(f)) == f


def test_generated_header_matches_the_python_layout():
    hdr = config_header(16, Design())
    for i, name in enumerate(GLOBAL_FIELDS):
        assert f"GD_{name.upper()} = {i}," in hdr
    assert f"GD_COUNT = {len(GLOBAL_FIELDS)}" in hdr
    assert "#define EDGEMOE_ACT_W 16" in hdr and "#define MAX_TOKENS 1216" in hdr
    regs = register_map(Design())
    assert f"#define REG_TASK 0x{regs['TASK']:02X}" in hdr
    depths = axi_depths(HlsMaxima(), 16)
    assert f"#define PARAMS_DEPTH {depths['params']}" in hdr
    assert f"#define IO_DEPTH {depths['io']}" in hdr
    assert "#ifndef PARAMS_DEPTH" in hdr  # an export's own -D defines override the defaults


def test_axi_depths_cover_the_largest_fitting_preset():
    for act_w in (16, 32):
        d = axi_depths(HlsMaxima(), act_w)
        sizes = {n: image_sizes(c, act_w) for n, c in PRESETS.items()}
        assert d["params"] == max(p for p, _ in sizes.values())
        assert d["io"] == max(io for _, io in sizes.values())
        assert d["io_preset"] == "m3vit-s-nyud"
    # With smaller maxima only the presets that fit count.
    small = HlsMaxima(tokens=200, dim=192, heads=3, hidden=768, top_k=2, tasks=2, gate_in=192)
    d = axi_depths(small, 16)
    assert (
        d["params_preset"] == "edgemoe-t"
        and d["params"] == image_sizes(PRESETS["edgemoe-t"], 16)[0]
    )


def test_refuses_models_beyond_the_maxima(tmp_path):
    model = build_model("tiny", seed=0)
    with pytest.raises(HlsExportError, match="tokens=13 exceeds the synthesis maximum 8"):
        export_hls(model, "edgemoe", tmp_path, design=Design(maxima=HlsMaxima(tokens=8)))
    with pytest.raises(HlsExportError, match="experts=4 exceeds"):
        export_hls(model, "edgemoe", tmp_path, design=Design(maxima=HlsMaxima(experts=2)))
    assert not (tmp_path / "params.bin").exists()
    odd = build_model(
        "tiny", seed=0, dim=36, num_heads=3
    )  # head_dim 12: not beat aligned at 16 bits
    calibrate(odd, images(odd.cfg, batch=1), "hw16")
    with pytest.raises(HlsExportError, match="head_dim=12 must be a multiple of 8"):
        export_hls(odd, "hw16", tmp_path)


def test_refuses_inconsistent_descriptors(exported):
    _, out = exported
    g = read_global_descriptor((out / "params.bin").read_bytes())
    validate_descriptor(g, HlsMaxima())
    for field, value, match in [
        ("heads", 4, "dim must be heads \\* head_dim"),
        ("patches", 11, "tokens must be patches \\+ 1"),
        ("img_w", 60, "img_w must be grid_w \\* patch"),
        ("top_k", 5, "top_k=5 outside 1..4"),
        ("tokens", 5000, "tokens=5000 outside"),
        ("magic", 0, "bad magic"),
    ]:
        with pytest.raises(HlsExportError, match=match):
            validate_descriptor({**g, field: value}, HlsMaxima())


def test_refuses_unexportable_numerics(tmp_path):
    model = build_model("tiny", seed=0)
    with pytest.raises(HlsExportError, match="needs calibration"):
        export_hls(model, "hw16", tmp_path)
    with pytest.raises(HlsExportError, match="not fixed point"):
        export_hls(model, "float", tmp_path)
    wide = get_preset("edgemoe")
    formats = dict(wide.formats, w=FixedFormat.parse("ap_fixed<24,2>"))
    with pytest.raises(HlsExportError, match="wider than its 16-bit storage word"):
        export_hls(model, replace(wide, name="wide", formats=formats), tmp_path)


def test_check_config_accepts_every_preset():
    for cfg in PRESETS.values():
        check_config(cfg, HlsMaxima(), 16)


def test_report_is_the_labelled_performance_model(exported):
    _, out = exported
    report = json.loads((out / "report.json").read_text())
    assert report["kind"] == "perf-model" and report["label"] == "modelled"
    assert "MODELLED" in (out / "report.md").read_text()
    assert report["routing"] == "golden image"
    assert report["cycles"] == sum(r["cycles"] for r in report["loops"])
    assert any(re.match(r"blocks\.1\.mlp\.expert\d+\.htoh4", r["layer"]) for r in report["loops"])
    assert {r["label"] for r in report["loops"]} >= {"lu_jobs", "attn_steps", "ln_rows"}


def test_cli_helper_calibrates_hw16_and_stores_the_formats(tmp_path):
    out = export_from_cli("tiny", tmp_path, numerics="hw16", seed=1, calib_images=2, golden=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["numerics"]["calibrated"] and manifest["numerics"]["overrides"]
    assert manifest["checkpoint"]["calibration"]["images"] == 2
    assert manifest["act_w"] == 16
    assert (out / "golden" / "expected_task1.bin").stat().st_size == 13 * 32 * 8
    g = read_global_descriptor((out / "params.bin").read_bytes())
    assert decode_format(g["fmt_input"]) == FixedFormat.parse(manifest["formats"]["input"])
    assert g["tokens"] == 13
