"""The bitstream folder's ``manifest.json``: its schema, the files it pins (sha256) and
whether an export fits the bitstream's design (split from tests/test_bitstream.py)."""

from __future__ import annotations

import json

import pytest

from sim import bitstream_flow as bf
from sim.xilinx_tools import BOARDS, ip_vlnv

from .test_bitstream import TIMING_PASS, UTIL, design_manifest

ZCU104 = BOARDS["zcu104"]


@pytest.fixture(scope="module")
def good_manifest(tmp_path_factory):
    d = tmp_path_factory.mktemp("bit")
    (d / "edgemoe.bit").write_bytes(b"bits")
    (d / "edgemoe.hwh").write_bytes(b"<EDKSYSTEM/>")
    export = design_manifest(2)
    from sim.tool_reports import parse_timing_summary, parse_utilization

    m = bf.bitstream_manifest(
        export, "hls", ZCU104, {"vitis_hls": "2023.2", "vivado": "2023.2"},
        parse_utilization(UTIL)["summary"], parse_timing_summary(TIMING_PASS),
        d / "edgemoe.bit", d / "edgemoe.hwh", {"vlnv": ip_vlnv("edgemoe_top")},
    )  # fmt: skip
    (d / "manifest.json").write_text(json.dumps(m))
    return d, m


def test_manifest_schema_accepts_a_real_build(good_manifest):
    d, m = good_manifest
    assert bf.check_manifest(m) == []
    assert bf.verify_bitstream_dir(d) == m
    json.dumps(m)  # plain JSON types only


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "other"}, "kind is 'other'"),
        ({"engine": "fpga"}, "engine is 'fpga'"),
        ({"wns_ns": -0.1}, "timing was not met"),
        ({"wns_ns": "0.5"}, "'wns_ns' is str"),
        ({"act_w": True}, "'act_w' is bool"),
        ({"clock_mhz": 250.0}, "differs from design.clock_mhz"),
        ({"tools": {"vivado": "2023.2"}}, "tools lacks the vitis_hls version"),
        ({"utilisation": {}}, "utilisation lacks LUT"),
        ({"interface": {"hash": "x"}}, "interface lacks 'register_map'"),
        ({"files": {"bit": {"path": "a.bit", "sha256": "0" * 64},
                    "hwh": {"path": "b.hwh", "sha256": "0" * 64}}}, "different stems"),
        ({"files": {"bit": {"sha256": "xyz"}, "hwh": {}}}, "files.bit.sha256"),
    ],
)  # fmt: skip
def test_manifest_schema_names_each_problem(good_manifest, change, problem):
    m = {**good_manifest[1], **change}
    assert any(problem in p for p in bf.check_manifest(m)), bf.check_manifest(m)


def test_manifest_missing_key_and_tampered_file(good_manifest, tmp_path):
    _, m = good_manifest
    assert "missing key 'git_commit'" in bf.check_manifest(
        {k: v for k, v in m.items() if k != "git_commit"}
    )
    for f in ("edgemoe.bit", "edgemoe.hwh"):
        (tmp_path / f).write_bytes((good_manifest[0] / f).read_bytes())
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    (tmp_path / "edgemoe.bit").write_bytes(b"other bits")
    with pytest.raises(ValueError, match="edgemoe.bit does not match the sha256"):
        bf.verify_bitstream_dir(tmp_path)


def test_export_matches_only_the_same_design(good_manifest):
    _, m = good_manifest
    same = design_manifest(2)
    assert bf.export_matches(m, same) == []
    other = design_manifest(3)
    problems = bf.export_matches(m, other)
    assert any("interface hash" in p for p in problems)
    assert any("weight_ports" in p for p in problems)
    assert any("act_w" in p for p in bf.export_matches(m, {**same, "act_w": 32}))
