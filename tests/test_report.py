"""The result envelope and the comparison report, rendered from fixture result files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pymodel.cli import main
from pymodel.reports import comparison
from pymodel.reports.anchors import PUBLISHED_RATIOS, PUBLISHED_RUNS
from pymodel.results import (
    KINDS,
    LABELS,
    REPO,
    ResultError,
    envelope,
    format_markdown,
    read_result,
    write_result,
)

FIXTURES = Path(__file__).parent / "fixtures" / "results"
ALL = sorted(FIXTURES.glob("*.json"))
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?!\w)")
PROVENANCE = ("label", "source", "machine")


def tables(markdown: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) of every markdown table."""
    out, lines = [], markdown.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = split_row(lines[i])
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            out.append((header, rows))
        else:
            i += 1
    return out


def split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip() for c in cells]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return comparison.write_report(ALL, tmp_path_factory.mktemp("report"))


# ------------------------------------------------------------------ envelope
def test_fixtures_cover_every_kind():
    assert {read_result(f)["kind"] for f in ALL} == set(KINDS)


def test_envelope_round_trip(tmp_path):
    data = envelope(
        "rtl-engine", "measured", "test", machine_info={"cpu": "x"}, cycles=10, clock_mhz=300
    )
    assert list(data)[:5] == ["kind", "label", "source", "machine", "created"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["created"])
    assert read_result(write_result(tmp_path / "r.json", data)) == data


def test_envelope_refuses_bad_results(tmp_path):
    with pytest.raises(ResultError, match="unknown label"):
        envelope("rtl-engine", "guessed", "t", cycles=1, clock_mhz=1)
    with pytest.raises(ResultError, match="unknown result kind 'nope'"):
        envelope("nope", "measured", "t")
    with pytest.raises(ResultError, match="lacks clock_mhz"):
        envelope("rtl-engine", "measured", "t", cycles=1)
    with pytest.raises(ResultError, match="clash"):
        envelope("rtl-engine", "measured", "t", cycles=1, clock_mhz=1, machine={})
    bad = json.loads((FIXTURES / "baseline-gpu.json").read_text())
    del bad["runs"][0]["energy"]["net_j_per_frame"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ResultError, match="energy record lacks net_j_per_frame"):
        read_result(tmp_path / "bad.json")


def test_foreign_file_is_refused_with_its_name(tmp_path):
    foreign = tmp_path / "metrics.json"
    foreign.write_text(json.dumps({"machine": {}, "metrics": {}}))
    with pytest.raises(ResultError, match=r"metrics\.json: not a result file \(missing kind"):
        read_result(foreign)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ResultError, match="not JSON"):
        read_result(tmp_path / "broken.json")
    with pytest.raises(FileNotFoundError):
        read_result(tmp_path / "absent.json")


def test_results_doc_is_current():
    doc = (REPO / "docs" / "RESULTS.md").read_text()
    section = doc.split("<!-- BEGIN result-files -->\n")[1].split("\n<!-- END result-files -->")[0]
    assert section == format_markdown(), "run `python -m pymodel.results` (make docs)"


# ------------------------------------------------------------------ the report
def test_report_writes_markdown_and_plots(report):
    assert report.name == "report.md"
    for png in ("latency.png", "energy.png", "ratios.png", "layers.png"):
        data = (report.parent / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, png
        assert f"]({png})" in report.read_text()


def test_every_number_is_labelled(report):
    text = report.read_text()
    found = tables(text)
    assert len(found) >= 6
    for header, rows in found:
        assert all(p in header for p in PROVENANCE), header
        for row in rows:
            cells = dict(zip(header, row))
            values = [c for k, c in cells.items() if k not in PROVENANCE]
            if any(NUMBER.search(c) for c in values):
                assert cells["label"] in LABELS, row
                assert cells["source"] not in ("", comparison.DASH), row
                assert cells["machine"] not in ("", comparison.DASH), row
    # outside tables, the plots and the reference list: no numbers at all
    body = text.split("## References")[0]
    for line in body.splitlines():
        if not line.startswith(("|", "![")):
            assert not NUMBER.search(line), line


def row_where(report: Path, **match: str) -> list[dict[str, str]]:
    out = []
    for header, rows in tables(report.read_text()):
        for row in rows:
            cells = dict(zip(header, row))
            if all(cells.get(k) == v for k, v in match.items()):
                out.append(cells)
    return out


def test_numbers_come_from_the_files(report):
    cpu = read_result(FIXTURES / "baseline-cpu.json")
    run = next(r for r in cpu["runs"] if r["mode"] == "backbone")
    (row,) = row_where(report, source="baseline-cpu.json", scope="backbone")
    assert row["p50 ms"] == comparison.fmt(run["latency"]["p50_ms"])
    assert row["label"] == "measured" and row["machine"] == "AMD EPYC"
    assert row["energy J/frame (idle subtracted)"] == comparison.DASH  # not measured: no number
    perf = read_result(FIXTURES / "perf-model.json")
    (row,) = row_where(report, source="perf-model.json", scope="accelerator kernel")
    assert row["p50 ms"] == comparison.fmt(perf["latency_ms"]) and row["label"] == "modelled"


def test_ratios_pair_fpga_with_the_backbone_baseline(report):
    gpu = read_result(FIXTURES / "baseline-gpu.json")
    board = read_result(FIXTURES / "host-run-board.json")
    gpu_run = next(r for r in gpu["runs"] if r["mode"] == "backbone" and r["batch"] == 1)
    (row,) = row_where(
        report, metric="energy efficiency", source="host-run-board.json vs baseline-gpu.json"
    )
    ratio = gpu_run["energy"]["net_j_per_frame"] / board["energy"]["net_j_per_frame"]
    assert row["times better"] == f"{comparison.fmt(ratio)}x" and row["label"] == "measured"
    (row,) = row_where(report, metric="speed-up", source="perf-model.json vs baseline-gpu.json")
    ratio = gpu_run["latency"]["p50_ms"] / read_result(FIXTURES / "perf-model.json")["latency_ms"]
    assert row["times better"] == f"{comparison.fmt(ratio)}x"
    assert row["label"] == "modelled"  # measured vs modelled: the weaker label
    # simulated-board times are a simulator's: never in a ratio
    ratios = [r for r in row_where(report, preset="edgemoe-t") if "metric" in r]
    assert ratios and not any("host-run-csim.json" in r["source"] for r in ratios)
    assert "host-run-csim.json" in report.read_text()  # ... but shown


def test_published_anchors_are_rows_with_their_source(report):
    text = report.read_text()
    published = row_where(report, label="published")
    assert len(published) >= len(PUBLISHED_RUNS) + len(PUBLISHED_RATIOS)
    for p in PUBLISHED_RUNS:
        assert any(r.get("work") == p.work and r["source"] == p.citation for r in published)
        assert p.citation in text.split("## References")[1]
    (edge,) = [r for r in published if r.get("work") == "Edge-MoE"]
    assert edge["ms/frame"] == "59" and edge["our preset"] == "edgemoe-t"


def test_per_layer_table_has_modelled_and_measured(report):
    rows = row_where(report, layer="blocks.0")
    assert {r["label"] for r in rows} == {"modelled", "measured"}
    rtl = read_result(FIXTURES / "rtl-engine.json")
    (measured,) = [r for r in rows if r["label"] == "measured"]
    assert int(measured["cycles"]) == rtl["cycles_per_layer"]["blocks.0"]


ONE_PER_KIND = [FIXTURES / f"{n}.json" for n in ("baseline-cpu", "host-run-csim", "perf-model",
                                                  "rtl-engine")]  # fmt: skip


@pytest.mark.parametrize("fixture", ONE_PER_KIND, ids=lambda p: p.stem)
def test_any_single_result_renders(fixture, report, tmp_path):
    for png in report.parent.glob("*.png"):  # an earlier report's plots in the same folder
        shutil.copy(png, tmp_path)
    path = comparison.write_report([fixture], tmp_path)
    text = path.read_text()
    assert fixture.name in text and "## Published anchors" in text
    assert (tmp_path / "latency.png").exists()
    assert "No energy-efficiency ratio of our own" in text  # no FPGA energy in any of them
    drawn = {p.name for p in tmp_path.glob("*.png")}
    assert drawn == {m.group(1) for m in re.finditer(r"\]\((\w+\.png)\)", text)}  # none stale
    if read_result(fixture)["kind"] == "baseline":
        assert "Not plotted, for want of inputs" in text and "layers.png" not in drawn


def test_summary_fits_one_screen(report):
    text = comparison.summary(ALL, report)
    lines = text.splitlines()
    assert lines[0] == f"report: {report}"  # a path: as long as it is
    assert len(lines) <= 24 and max(map(len, lines[1:])) <= 100
    assert "bit-exact host runs: 2 of 2" in text
    assert "[modelled]" in text and "[measured]" in text


def test_cli_report_and_scan(tmp_path, capsys):
    build = tmp_path / "build"
    shutil.copytree(FIXTURES, build / "results")
    (build / "export").mkdir()
    (build / "export" / "manifest.json").write_text(json.dumps({"format": "x"}))
    out = build / "report"
    assert main(["report", "--scan", str(build), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 JSON file(s)" in printed and f"report: {out / 'report.md'}" in printed
    assert all(f.name in (out / "report.md").read_text() for f in ALL)
    # a scan skips the report folder; a foreign file named explicitly fails
    shutil.copy(ALL[0], out / "copy.json")
    assert out / "copy.json" not in comparison.find_results(build, exclude=out)[0]
    foreign = build / "export" / "manifest.json"
    assert main(["report", str(foreign), "--out", str(out)]) == 2
    assert "not a result file" in capsys.readouterr().err
    assert main(["report", "--out", str(out)]) == 2
