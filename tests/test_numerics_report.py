"""The generated numerics documents: structure, sanity of the measurements, traceability."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from pymodel import backbone_forward, build_model, calibrate, save_checkpoint
from pymodel.numerics import SPEC, get_preset
from pymodel.reports import accuracy, numerics
from pymodel.reports.accuracy import (
    ACCURACY_JSON,
    ACCURACY_MD,
    measure_accuracy,
    render_accuracy,
    tapped_forward,
)
from pymodel.reports.common import SECTION, Threads, num
from pymodel.reports.numerics import FUNCTIONS_JSON, NUMERICS_MD, render_numerics

from .conftest import images

#: Decimal and scientific numbers (unsigned: the sign is not part of the formatted value).
NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?:e[-+]\d+)?|(?<![\w.])\d+e[-+]\d+")


@pytest.fixture(autouse=True)
def _one_thread(_deterministic: None) -> None:
    """Small tensors: one torch thread is many times faster on a shared machine (as the
    report itself runs)."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One quick run of each document's entry point into temporary paths."""
    root = tmp_path_factory.mktemp("numerics_report")
    out, docs = root / "build", root / "docs"
    for generator in (numerics, accuracy):
        assert generator.main(["--quick", "--out-dir", str(out), "--docs-dir", str(docs)]) == 0
    return {
        "functions": json.loads((out / FUNCTIONS_JSON).read_text()),
        "accuracy": json.loads((out / ACCURACY_JSON).read_text()),
        "numerics_md": (docs / NUMERICS_MD).read_text(),
        "accuracy_md": (docs / ACCURACY_MD).read_text(),
    }


def _section(doc: str) -> str:
    m = re.search(rf"<!-- BEGIN {SECTION} -->\n(.*?)\n<!-- END {SECTION} -->", doc, re.S)
    assert m, "generated section missing"
    return m.group(1)


def _allowed_numbers(data: Any) -> set[str]:
    """Every number a document rendered from ``data`` may show."""
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                out.update(NUMBER.findall(str(k)))
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, float):
            out.add(num(abs(v)))
        elif isinstance(v, str):
            out.update(NUMBER.findall(v))

    walk(data)
    return out


def test_functions_json_is_sane(report):
    f = report["functions"]["functions"]
    assert set(f) == {"exp", "recip", "rsqrt", "gelu", "softmax", "layernorm", "topk", "linear"}
    for case in f["exp"]["fixed"]:
        assert case["max_abs"] < 1e-4 and case["exact_at_zero"] and case["monotonic"]
    assert f["exp"]["approx"]["max_rel"] < 1e-4
    for name in ("recip", "rsqrt"):
        for case in f[name]["fixed"]:
            assert case["max_rel"] < 1e-4 and case["mant_in_range"]
        assert f[name]["approx"]["max_rel"] < 1e-4
    # GELU: the table error (~1e-4) is below a hw16 LSB; approx tracks the fixed form.
    assert f["gelu"]["approx"]["max_abs"] < 2e-4
    hw16_gelu = next(c for c in f["gelu"]["fixed"] if c["label"] == "hw16")
    assert hw16_gelu["max_lsb"] < 1.0
    for case in f["softmax"]["fixed"]:
        assert case["max_abs"] < 1e-3
    assert f["softmax"]["approx"]["max_abs"] < 1e-4
    assert f["layernorm"]["approx"]["max_abs"] < 1e-3
    for case in f["layernorm"]["fixed"]:  # rows with |mean| < std: the well-conditioned case
        assert case["by_mean_over_std"][0]["hi"] == 1.0
        assert case["by_mean_over_std"][0]["max_abs"] < 1e-2
    assert f["topk"]["agreement_pct"] == 100.0 and f["topk"]["tied_pairs"] > 0
    # One requantisation: within an LSB (truncation) or half an LSB (rounding).
    for unit in f["linear"]["linear"] + f["linear"]["combine"]:
        limit = 0.5 + 1e-6 if unit["output"]["quant"] == "AP_RND_CONV" else 1.0 + 1e-6
        assert unit["max_lsb"] <= limit, unit["label"]
    assert all(c["order_independent"] for c in f["linear"]["combine"])
    assert report["functions"]["spec"] == SPEC.to_dict()


def test_accuracy_json_is_sane(report):
    a = report["accuracy"]
    assert a["seeds"] and a["machine"]["cpu"]
    (m,) = a["models"]
    assert m["model"] == "tiny" and set(m["presets"]) == {"approx", "edgemoe", "hw16"}
    last = f"blocks.{m['config']['depth'] - 1}"
    p = m["presets"]
    # approx is closer to float than the fixed presets, per layer and at the outputs.
    assert (
        p["approx"]["blocks"][last]["output_rel_rms"]
        < p["edgemoe"]["blocks"][last]["output_rel_rms"]
    )
    assert p["approx"]["tasks"]["depth"]["value"] < p["edgemoe"]["tasks"]["depth"]["value"]
    for name, pr in p.items():
        assert pr["tasks"]["semseg"]["metric"] == "argmax agreement %"
        assert pr["tasks"]["semseg"]["value"] >= 90.0, name
        for per_block in pr["routing"].values():
            assert set(per_block) == {f"blocks.{b}" for b in m["config"]["moe_blocks"]}
            assert all(0.0 <= v <= 100.0 for v in per_block.values())
        assert all(d["n"] > 0 for d in pr["layers"].values())
        # every expert layer is compared over all its rows (routing agrees on tiny)
        assert any(".mlp.experts.h4toh" in n for n in pr["layers"])
    for name in ("edgemoe", "hw16"):
        o = p[name]["overflow"]
        assert o["weights"]["values"] > 0 and o["activations"]["values"] > 0
    assert "ln_out" in m["hw16_int_bits"]


def test_documents_name_every_function_and_parameter(report):
    doc = report["numerics_md"]
    for title in (
        "## exp",
        "## Reciprocal and rsqrt",
        "## GELU",
        "## Softmax",
        "## LayerNorm",
        "## top-k",
        "## Linear unit",
        "## MoE router and combine",
        "## Preset formats",
        "### exp",
        "### Reciprocal",
        "### rsqrt",
        "### GELU",
        "### Softmax",
        "### LayerNorm",
        "### top-k",
        "### Linear unit and MoE combine",
    ):
        assert title in doc, title
    for field in SPEC.to_dict():
        assert f"`{field}`" in doc
    assert "## `tiny`" in report["accuracy_md"] and "argmax agreement" in report["accuracy_md"]


@pytest.mark.parametrize("which", ["numerics", "accuracy"])
def test_every_number_comes_from_the_json(report, which):
    data = report["functions" if which == "numerics" else "accuracy"]
    section = _section(report[f"{which}_md"])
    allowed = _allowed_numbers(data)
    shown = NUMBER.findall(section)
    assert shown
    missing = sorted(set(shown) - allowed)
    assert not missing, f"numbers not in the JSON: {missing[:10]}"
    render = render_numerics if which == "numerics" else render_accuracy
    assert (
        _section(f"<!-- BEGIN {SECTION} -->\n{render(data).strip()}\n<!-- END {SECTION} -->")
        == section
    )


@pytest.fixture(scope="module")
def tiny():
    with Threads(1):
        m = build_model("tiny", seed=4)
        calibrate(m, images(m.cfg, batch=2, seed=9))
    return m


@pytest.mark.parametrize("preset", ["approx", "edgemoe", "hw16"])
def test_tapped_forward_is_backbone_forward(tiny, preset):
    """The report's recording forward computes exactly what backbone_forward does."""
    p = get_preset(tiny.numerics_presets["hw16"] if preset == "hw16" else preset)
    x = images(tiny.cfg, batch=2, seed=3)
    out, A, routing, _ = tapped_forward(tiny, x, 1, p)
    ref = backbone_forward(tiny, x, 1, p, record=True)
    if p.kind == "fixed":
        assert torch.equal(out.raw, ref.raw)
    else:
        assert torch.equal(out, ref.tokens)
    for name, value in A.record.items():
        assert torch.equal(value, ref.layers[name]), name
    assert all(torch.equal(routing[b], ref.routing[b]) for b in ref.routing)
    # The expert layers keep every expert's rows: each token appears top_k times.
    rows = sum(len(t) for _, t, _ in A.experts_seen["blocks.1.mlp.experts.htoh4"])
    assert rows == x.shape[0] * tiny.cfg.num_tokens * tiny.cfg.top_k


def test_checkpoint_is_reported(tmp_path: Path):
    path = save_checkpoint(build_model("tiny", seed=3), tmp_path / "trained.pt")
    data = measure_accuracy(models=(), checkpoints=[path], n_images=1, n_calib=1)
    (m,) = data["models"]
    assert m["model"] == "trained.pt" and str(path) in m["source"]
    assert set(m["presets"]) == {"approx", "edgemoe", "hw16"}
    assert accuracy.images(build_model("tiny").cfg, 1, 0).shape == (1, 3, 48, 64)


def test_document_generators_live_outside_the_numerics_contract():
    """pymodel/numerics holds the contract and the forward; documents are in pymodel/reports,
    and no module reaches into another's private names."""
    import ast

    import pymodel

    root = Path(pymodel.__file__).resolve().parent
    numerics_modules = {p.stem for p in (root / "numerics").glob("*.py")}
    assert numerics_modules == {
        "__init__", "fixed", "forward", "hwmath", "presets", "qtorch", "rtl_export"
    }  # fmt: skip
    assert {"numerics", "sweeps", "accuracy", "common"} <= {
        p.stem for p in (root / "reports").glob("*.py")
    }
    private = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            # Our own modules only: a private name of torch's is torch's business.
            ours = isinstance(node, ast.ImportFrom) and (
                node.level > 0 or (node.module or "").split(".")[0] == "pymodel"
            )
            if ours:
                names = [a.name for a in node.names]
                private += [
                    f"{path.relative_to(root)}: {n}"
                    for n in names
                    if n.startswith("_") and not n.startswith("__")
                ]
    assert not private, private


def test_make_docs_runs_both_generators():
    """The Makefile's docs target names modules that exist (and both documents' generators)."""
    import importlib.util

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    recipe = re.search(r"^docs:.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no docs target"
    modules = re.findall(r"-m (\S+)", recipe.group(1))
    assert {"pymodel.reports.numerics", "pymodel.reports.accuracy"} <= set(modules)
    assert all(importlib.util.find_spec(m) is not None for m in modules), modules
