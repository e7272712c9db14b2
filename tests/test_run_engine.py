"""``python -m sim.run_engine``: one image through the RTL engine, from the command line.

One real run on Verilator (tiny hw16, a float image quantised as the host
does, every output word compared with the C simulation of the same buffers):
the files it writes and 0 differing words. The error paths (a missing export
or manifest, a bad task, an image of the wrong shape or dtype, ``--sim
icarus``, Verilator missing) exit with status 2 and one line on stderr before
anything is built or simulated.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim import run_engine
from sim.rtl import BUILD, simulator_missing
from tests.conftest import require

EXPORT = BUILD / "engine_exports" / "tiny-hw16"


@pytest.fixture(scope="module")
def export() -> Path:
    """The tiny hw16 export of tests/test_rtl_engine.py (deterministic, same path)."""
    from sim.engine import make_export

    return make_export(EXPORT)


@pytest.fixture(autouse=True)
def no_simulation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the ``rtl`` tests, any attempt to build or simulate fails the test."""
    if request.node.get_closest_marker("rtl") is None:

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("an error-path test reached the simulation")

        monkeypatch.setattr("sim.engine.run_engine", refuse)


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI, expect exit status 2 and one stderr line; that line."""
    assert run_engine.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.mark.rtl
def test_one_float_image_is_bit_exact(export: Path, tmp_path: Path) -> None:
    why = simulator_missing("verilator")
    require(why is None, f"RTL simulator verilator ({why})")
    from host.export import Export
    from sim.csim import ap_types_dir, find_cxx

    require(find_cxx() is not None and ap_types_dir() is not None, "g++ and ap_types (csim)")
    ex = Export.open(export)
    image = np.random.default_rng(11).standard_normal(ex.image_shape).astype(np.float32)
    np.save(tmp_path / "x.npy", image)
    out = tmp_path / "run" / "result.json"
    argv = ["--export", str(export), "--task", "depth", "--image", str(tmp_path / "x.npy")]
    assert run_engine.main([*argv, "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["ok"] and r["differing"] == 0 and r["values"] == 13 * 32
    assert r["status"] == {"name": "OK", "code": ex.manifest["status_codes"]["OK"], "valid": 1}
    assert r["task"] == "depth" and r["task_index"] == 1 and r["simulator"] == "verilator"
    assert r["expected_source"].startswith("sim.csim")
    raw = np.load(out.with_suffix(".npy"))
    assert raw.dtype == np.int64 and raw.shape == ex.token_shape
    assert Path(r["output"]) == out.with_suffix(".npy").resolve()
    assert raw.any()  # the engine wrote tokens (the io scratch starts as 0xA5 bytes)
    kinds = r["cycles_per_layer"]
    assert list(kinds)[:3] == ["top", "embed", "norm1"] and "experts" in kinds
    assert all(v > 0 for v in kinds.values())
    assert 0 < sum(kinds.values()) <= r["cycles"]


def test_missing_export_and_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["--export", str(tmp_path / "nope"), "--task", "0"], capsys)
    assert "does not exist" in err
    err = _error(["--export", str(tmp_path), "--task", "0"], capsys)
    assert "no manifest.json" in err


@pytest.mark.parametrize("task", ["7", "-1", "segmentation"])
def test_bad_task(export: Path, task: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["--export", str(export), "--task", task], capsys)
    assert "unknown task" in err and "semseg" in err


@pytest.mark.parametrize(
    ("shape", "dtype", "says"),
    [
        ((3, 32, 32), np.float32, "image size (32, 32)"),
        ((1, 48, 64), np.float32, "1 channels"),
        ((3, 48, 64), np.int16, "dtype int16"),
    ],
)
def test_bad_image(
    export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    shape: tuple[int, ...],
    dtype: type,
    says: str,
) -> None:
    np.save(tmp_path / "x.npy", np.zeros(shape, dtype=dtype))
    argv = ["--export", str(export), "--task", "semseg", "--image", str(tmp_path / "x.npy")]
    assert says in _error(argv, capsys)


def test_unreadable_image(export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.npy").write_text("not numpy")
    argv = ["--export", str(export), "--task", "0", "--image", str(tmp_path / "x.npy")]
    assert "not a readable .npy" in _error(argv, capsys)


def test_icarus_is_refused_with_the_reason(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _error(["--export", str(export), "--task", "0", "--sim", "icarus"], capsys)
    assert "Icarus cannot compile" in err and "automatic" in err and "verilator" in err


def test_verilator_missing(
    export: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sim.rtl.simulator_missing", lambda sim: "verilator not found")
    err = _error(["--export", str(export), "--task", "0"], capsys)
    assert "Verilator is needed" in err and "verilator not found" in err


def test_out_must_not_be_the_output_npy(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _error(["--export", str(export), "--task", "0", "--out", str(tmp_path / "r.npy")], capsys)
    assert "JSON" in err


def test_hls_rtl_folder_without_the_top_is_refused(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "other.v").write_text("module other; endmodule\n")
    err = _error(["--export", str(export), "--task", "0", "--hls-rtl", str(tmp_path)], capsys)
    assert "no edgemoe_top.v" in err


def test_datapath_bench_refuses_a_folder_that_is_not_an_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.run_datapath import main as datapath_main

    assert datapath_main(["--export", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err
