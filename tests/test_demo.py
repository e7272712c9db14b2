"""make demo's pipeline, shortened: every artefact is written and consistent, the simulated
board is checked bit for bit (and a corrupted board is caught), the baseline and the
modelled latency are in the one report."""

import json

import pytest

from pymodel.demo import demo_config, exit_status, render_report, run_demo
from pymodel.demo_hw import BOARD_NUMERICS, check_board

from .host_fixtures import require_csim, require_pynq

FRAMES = 2


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One tiny demo run (6 patches, 2 training steps, 2 validation scenes)."""
    require_pynq()
    require_csim()
    out = tmp_path_factory.mktemp("demo")
    cfg = demo_config().replace(dim=32, num_heads=2, head_channels=8, img_size=(32, 48))
    data = run_demo(
        out,
        steps=2,
        batch=2,
        train_scenes=4,
        val_scenes=2,
        config=cfg,
        frames=FRAMES,
        baseline_seconds=0.2,
        progress=False,
    )
    return out, cfg, data


def test_demo_pipeline_writes_the_report(demo):
    out, cfg, data = demo
    for name in (
        "report.md",
        "metrics.json",
        "predictions_float.png",
        "predictions_hw16.png",
        "experts.png",
        "training.png",
        "latency.png",
    ):
        assert (out / name).is_file(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["metrics"]) == {"float", "approx", "edgemoe", "hw16", "hw8"}
    for preset in saved["metrics"].values():
        assert set(preset) == set(cfg.tasks)
    assert set(saved["baselines"]) == set(cfg.tasks)
    assert set(saved["float_vs_baseline"]) == set(cfg.tasks)
    div = saved["routing_divergence"]
    assert 0.0 <= div["min"] <= div["mean"] <= div["max"] <= 1.0
    assert len(div["pairs"]) == 15  # six tasks
    assert saved["hw16_formats"]  # calibrated per tensor
    assert data["wall_s"] > 0
    # The report is rendered from metrics.json and the result files alone.
    report = (out / "report.md").read_text()
    (out / "report.md").unlink()
    assert render_report(saved, out).read_text() == report
    assert "| `hw16` |" in report and "| `hw8` |" in report and "trivial baseline" in report


def test_every_task_of_every_export_is_bit_exact(demo):
    out, cfg, data = demo
    hw = data["hardware"]
    assert tuple(hw["exports"]) == BOARD_NUMERICS == ("hw16", "hw8") and not hw["skipped"]
    assert hw["bit_exact"] is True
    tokens = cfg.num_tokens * cfg.dim
    report = (out / "report.md").read_text()
    for n in BOARD_NUMERICS:
        assert set(hw["checks"][n]) == set(cfg.tasks)
        for task, c in hw["checks"][n].items():
            assert (c["frames"], c["words"], c["differing"]) == (FRAMES, FRAMES * tokens, 0)
            row = f"| `{n}` | {task} | {FRAMES} | {FRAMES * tokens} | 0 | yes | measured |"
            assert row in report
        run = json.loads((out / "results" / f"host-run-demo-{n}.json").read_text())
        assert (run["kind"], run["label"], run["backend"]) == ("host-run", "measured", "csim")
        assert run["bit_exact"] is True and run["frames"] == FRAMES * len(cfg.tasks)
    assert "Every task of every export is bit-exact." in report
    assert exit_status(data) == (0 if all(v["better"] for v in data["float_vs_baseline"].values())
                                 else 1)  # fmt: skip


def test_the_report_has_the_baseline_and_the_modelled_latency(demo):
    out, _, data = demo
    report = (out / "report.md").read_text()
    lines = report.splitlines()
    cpu = [x for x in lines if x.startswith("| CPU ") and "| backbone |" in x]
    assert cpu and all("| measured | baseline-cpu-demo.json |" in x for x in cpu)
    for n in BOARD_NUMERICS:
        model = [x for x in lines if x.startswith(f"| ZCU104 model at 300 MHz ({n}) |")]
        assert model and "| modelled | perf-model-demo-" + n + ".json |" in model[0]
        perf = json.loads((out / "results" / f"perf-model-demo-{n}.json").read_text())
        assert perf["label"] == "modelled" and perf["latency_ms"] > 0
    # FPGA (modelled) against the CPU (measured): a ratio with the weaker label
    assert any("speed-up" in x and "| modelled |" in x for x in lines)
    base = json.loads((out / "results" / "baseline-cpu-demo.json").read_text())
    assert base["image"]["verified"] is True  # the export's golden input, bit for bit
    if not base["energy_meter"]["available"]:
        assert "CPU baseline: latency only" in report


class FlipOneWord:
    """The C-simulated engine, then one output token word flipped in DDR: a faulty board."""

    def __init__(self, export_dir) -> None:
        from host.export import Export
        from host.simboard import CSimPL

        self.inner = CSimPL(export_dir)
        self.export = Export.open(export_dir)

    def __call__(self, regs) -> None:
        self.inner(regs)  # finishes the run; the host reads io_x only after this returns
        x = self.export.io_rows(regs.buffer("io"), "io_x", *self.export.token_shape)
        x[3, 5] = ~x[3, 5]


def test_a_corrupted_board_output_is_reported_as_differing(demo):
    import torch

    from pymodel import load_checkpoint
    from pymodel.numerics import calibrate
    from pymodel.numerics.presets import NumericsPreset

    out, cfg, data = demo
    export = out / data["hardware"]["exports"]["hw16"]
    manifest = json.loads((export / "manifest.json").read_text())
    model = load_checkpoint(data["train"]["checkpoint"]).eval()
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(1, cfg.in_chans, *cfg.img_size, generator=gen)
    calibrate(model, images, "hw16")  # then the formats as exported
    model.numerics_presets["hw16"] = NumericsPreset.from_dict(manifest["numerics"])
    good = check_board(export, model, images)
    assert good["bit_exact"] is True
    bad = check_board(export, model, images, pl=FlipOneWord)
    assert bad["bit_exact"] is False
    assert {t: c["differing"] for t, c in bad["checks"].items()} == dict.fromkeys(cfg.tasks, 1)
    assert not any(c["bit_exact"] for c in bad["checks"].values())
    # the demo's exit status follows the verdict
    broken = {**data, "hardware": {**data["hardware"], "bit_exact": False}}
    assert exit_status(broken) == 1
