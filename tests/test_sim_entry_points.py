"""The simulation entry points behind `make csim` (sim.run_csim) and `make sim` (sim.rtl_report).

run_csim drives the g++ C simulation of the HLS engine through sim.csim on
tiny (one numerics preset, one task) and must report 0 differing values, and
a difference planted in the C simulation's output must turn into a failing
exit status. rtl_report runs units on a simulator, writes its results file and
the docs section only after a run that passed, and shows each simulator's II
and latency; its engine part (--only engine) adds engine rows next to the kept
unit rows, and a row with a differing word or a status other than OK fails the
run and leaves the docs as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim import rtl_report, run_csim
from sim.rtl import UNITS, simulator_missing
from tests.conftest import require


def _need_cxx() -> None:
    from sim.csim import ap_types_dir, find_cxx

    require(find_cxx() is not None, "g++")
    require(ap_types_dir() is not None, "ap_types headers (pip install --no-deps hls4ml)")


def _run_csim(tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / "csim" / "results.json"
    argv = ["--preset", "tiny", "--numerics", "edgemoe", "--tasks", "semseg", "--out", str(out)]
    code = run_csim.main(argv)
    return code, json.loads(out.read_text())


def test_run_csim_tiny_is_bit_exact(tmp_path: Path) -> None:
    _need_cxx()
    code, data = _run_csim(tmp_path)
    assert code == 0 and data["bit_exact"] is True
    (row,) = data["results"]
    assert (row["preset"], row["numerics"], row["task"]) == ("tiny", "edgemoe", "semseg")
    assert row["values"] > 0 and row["differing"] == 0


def test_run_csim_weights_and_image_are_not_trivial(tmp_path: Path) -> None:
    """make csim runs perturbed weights (non-zero biases, non-unit gains) and an
    image calibration never saw; it reports the golden run's overflow counts."""
    _need_cxx()
    from pymodel.export import prepare_model

    model, calib, info = prepare_model("tiny", numerics="hw16", seed=3, perturb=True)
    assert info["perturbed"] is True
    bias = model.backbone.blocks[0].attn.qkv.bias
    gain = model.backbone.blocks[0].norm1.weight
    assert bias.abs().min() > 0 and (gain != 1).all()
    img = run_csim.test_image(model.cfg, 3)
    assert img.shape == (1, *calib.shape[1:])
    assert all(not np.array_equal(img[0].numpy(), c.numpy()) for c in calib)
    (row,) = run_csim.compare("tiny", "hw16", seed=3, tasks=["semseg"], out_dir=tmp_path)
    assert row["weights"] == "seeded random, perturbed"
    assert row["differing"] == 0 and isinstance(row["overflowed"], int)


def test_run_csim_reports_a_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One output word of the C simulation off by one LSB: exit status 1, bit_exact false."""
    _need_cxx()
    from sim.csim import CSim

    real_run = CSim.run

    def off_by_one(self: CSim, *args: object, **kwargs: object) -> np.ndarray:
        raw = np.array(real_run(self, *args, **kwargs), copy=True)
        raw.flat[0] += 1
        return raw

    monkeypatch.setattr(CSim, "run", off_by_one)
    code, data = _run_csim(tmp_path)
    assert code == 1 and data["bit_exact"] is False
    assert data["results"][0]["differing"] == 1


# ------------------------------------------------------------------- rtl_report
def _row(name: str, sim: str, ii: float, latency: int, mismatches: int = 0) -> dict:
    return {
        "name": name,
        "simulator": sim,
        "vectors": 10,
        "mismatches": mismatches,
        "extra_outputs": 0,
        "ii": ii,
        "latency": latency,
        "cycles_per_s": 1000,
    }


def test_markdown_shows_each_simulators_timing() -> None:
    """Both simulators' II and latency appear (not only the first row's)."""
    data = {
        "machine": {"date": "2026-01-01", "cpu": "test"},
        "rows": [_row("softmax", "icarus", 28.5, 17), _row("softmax", "verilator", 29, 18, 3)],
    }
    text = rtl_report.markdown(data)
    line = next(ln for ln in text.splitlines() if ln.startswith("| softmax |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == "28.5 / 29" and cells[4] == "17 / 18" and cells[7] == "0 / 3"
    only_icarus = rtl_report.markdown({**data, "rows": data["rows"][:1]})
    assert "28.5 / not run" in only_icarus


@pytest.fixture
def report_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """rtl_report writing into tmp_path (a results file and a docs page)."""
    doc, results = tmp_path / "HARDWARE.md", tmp_path / "results.json"
    doc.write_text("# Hardware\n\n<!-- BEGIN rtl-timing -->\nold\n<!-- END rtl-timing -->\n")
    monkeypatch.setattr(rtl_report, "DOC", doc)
    monkeypatch.setattr(rtl_report, "RESULTS", results)
    return doc, results


@pytest.mark.rtl
def test_rtl_report_updates_docs_after_a_passing_run(report_paths: tuple[Path, Path]) -> None:
    require(simulator_missing("icarus") is None, "RTL simulator icarus")
    doc, results = report_paths
    argv = ["--only", "units", "--units", "exp", "topk_k1", "--sims", "icarus", "--vectors", "120"]
    assert rtl_report.main(argv) == 0
    data = json.loads(results.read_text())
    assert [r["name"] for r in data["rows"]] == ["exp", "topk_k1"] and not data["failures"]
    text = doc.read_text()
    assert "\nold\n" not in text and "| exp | `exp_unit` | 1 / not run |" in text


@pytest.mark.rtl
def test_rtl_report_keeps_docs_after_a_failed_run(
    report_paths: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit whose measured latency is not the expected one fails the run: exit
    status 1, the failure in the results file, the docs untouched."""
    import dataclasses

    require(simulator_missing("icarus") is None, "RTL simulator icarus")
    doc, results = report_paths
    before = doc.read_text()
    wrong = dataclasses.replace(UNITS["exp"], latency=UNITS["exp"].latency + 1)
    monkeypatch.setitem(UNITS, "exp", wrong)
    argv = ["--only", "units", "--units", "exp", "--sims", "icarus", "--vectors", "120"]
    assert rtl_report.main(argv) == 1
    assert doc.read_text() == before
    (failure,) = json.loads(results.read_text())["failures"]
    assert "latency 4 (expected 5)" in failure


# ------------------------------------------------------------------- rtl_report: engine
def _engine_result(task: str, differing: int = 0, status: str = "OK") -> dict:
    """A sim.run_engine.run result of the fields rtl_report reads."""
    kinds = {"top": 300, "embed": 6000, "experts": 2000}
    return {
        "preset": "tiny",
        "numerics": "hw16",
        "act_w": 16,
        "router": "multi",
        "task": task,
        "task_index": 0,
        "simulator": "verilator",
        "status": {"name": status, "code": 1 if status == "OK" else 5, "valid": 1},
        "differing": differing,
        "values": 416,
        "first_differing": [],
        "cycles": 14346,
        "cycles_per_layer": kinds,
        "image_source": "seeded",
        "expected_source": "sim.csim C simulation of the same buffers",
        "read_latency": 20,
        "write_latency": 20,
        "bandwidth": 0.0,
        "problems": [],
        "ok": differing == 0 and status == "OK",
        "build_s": 0.1,
        "sim_s": 20.0,
        "wall_s": 20.5,
        "result": f"/tmp/{task}.json",
    }


@pytest.fixture
def engine_report(
    report_paths: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, dict]:
    """rtl_report with an earlier passing units run in its results file and
    sim.run_engine.run replaced by canned results (``fake["bad"]``: task -> (differing,
    status)); make_export is the real one (the tasks of tiny)."""
    doc, results = report_paths
    old = {
        "machine": {"date": "2026-01-01", "cpu": "test"},
        "rows": [_row("softmax", "icarus", 28.5, 17)],
        "failures": [],
    }
    results.write_text(json.dumps(old))
    fake: dict = {"bad": {}}

    def run(export: Path, task: str, out: Path, **kw: object) -> dict:
        d, st = fake["bad"].get(task, (0, "OK"))
        return _engine_result(task, d, st)

    monkeypatch.setattr("sim.run_engine.run", run)
    monkeypatch.setattr(rtl_report, "ENGINE_DIR", results.parent / "runs")
    return doc, results, fake


def test_engine_rows_join_the_kept_unit_rows_and_the_docs(
    engine_report: tuple[Path, Path, dict],
) -> None:
    doc, results, _ = engine_report
    assert rtl_report.main(["--only", "engine", "--engine-numerics", "hw16"]) == 0
    data = json.loads(results.read_text())
    assert [r["unit"] if "unit" in r else r["name"] for r in data["rows"]] == [
        "softmax",
        "engine",
        "engine",
    ]
    assert [r["task"] for r in data["rows"][1:]] == ["semseg", "depth"]
    assert data["runs"]["units"]["machine"]["cpu"] == "test" and not data["failures"]
    text = doc.read_text()
    assert "| softmax |" in text and "RTL engine: whole runs, MEASURED (RTL simulation)" in text
    assert "| hw16 | 16 | multi | semseg | OK (1) | 0 of 416 | 14,346 |" in text
    assert "| hw16 | semseg | 300 | 6,000 | 2,000 |" in text


@pytest.mark.parametrize(("differing", "status"), [(3, "OK"), (0, "BAD_MAGIC")])
def test_a_failing_engine_row_fails_the_run(
    engine_report: tuple[Path, Path, dict], differing: int, status: str
) -> None:
    doc, results, fake = engine_report
    before = doc.read_text()
    fake["bad"]["depth"] = (differing, status)
    assert rtl_report.main(["--only", "engine", "--engine-numerics", "hw16"]) == 1
    assert doc.read_text() == before
    data = json.loads(results.read_text())
    (failure,) = data["failures"]
    assert "engine tiny hw16 task depth" in failure
    assert f"{differing} differing" in failure and status in failure
    # a later units-only run keeps the failing engine rows and their failure
    data["rows"] = [r for r in data["rows"] if r.get("unit") == "engine"]
    kept = rtl_report.merge(data, {"machine": {}, "rows": [], "runs": {"units": {
        "machine": {}, "failures": []}}}, ("units",))  # fmt: skip
    assert kept["failures"] == [failure] and len(kept["rows"]) == 2


@pytest.mark.rtl
def test_engine_rows_on_verilator_are_bit_exact() -> None:
    """The engine part of `make sim` for hw16 alone: every task of tiny on Verilator,
    status OK and 0 differing words (MEASURED, RTL simulation)."""
    why = simulator_missing("verilator")
    require(why is None, f"RTL simulator verilator ({why})")
    _need_cxx()
    rows, failures = rtl_report.run_engine_rows(("hw16",))
    assert failures == [] and [r["task"] for r in rows] == ["semseg", "depth"]
    for r in rows:
        assert r["unit"] == "engine" and r["status"]["name"] == "OK" and r["differing"] == 0
        assert r["cycles"] > sum(r["cycles_per_layer"].values()) > 0
