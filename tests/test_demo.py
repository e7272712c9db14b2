"""make demo's pipeline, shortened: every artefact is written and consistent."""

import json

from pymodel.demo import demo_config, render_report, run_demo


def test_demo_pipeline_writes_the_report(tmp_path):
    cfg = demo_config().replace(dim=32, num_heads=2, head_channels=8)
    data = run_demo(
        tmp_path, steps=3, batch=4, train_scenes=12, val_scenes=6, config=cfg, progress=False
    )
    for name in (
        "report.md",
        "metrics.json",
        "predictions_float.png",
        "predictions_hw16.png",
        "experts.png",
        "training.png",
    ):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["metrics"]) == {"float", "approx", "edgemoe", "hw16"}
    for preset in saved["metrics"].values():
        assert set(preset) == set(cfg.tasks)
    assert set(saved["baselines"]) == set(cfg.tasks)
    assert set(saved["float_vs_baseline"]) == set(cfg.tasks)
    div = saved["routing_divergence"]
    assert 0.0 <= div["min"] <= div["mean"] <= div["max"] <= 1.0
    assert len(div["pairs"]) == 15  # six tasks
    assert saved["hw16_formats"]  # calibrated per tensor
    # The report is rendered from the JSON alone.
    report = (tmp_path / "report.md").read_text()
    assert report == render_report(saved)
    assert "| `hw16` |" in report and "trivial baseline" in report
    assert data["wall_s"] > 0
