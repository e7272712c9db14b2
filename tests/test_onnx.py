import pytest

from pymodel import build_model
from pymodel.cli import main
from pymodel.onnx_export import check_onnx, export_onnx


@pytest.mark.slow
@pytest.mark.parametrize("router", ["multi", "task"])
def test_onnx_matches_pytorch(tmp_path, router):
    model = build_model("tiny", seed=2, router=router)
    for task in model.tasks:
        path = export_onnx(model, task, tmp_path / f"{task}.onnx")
        result = check_onnx(model, task, path, batch=1)
        assert result["output_shape"] == [1, model.cfg.task_channels[task], 48, 64]
        assert result["max_abs_diff"] <= 1e-4 * max(1.0, result["max_abs_ref"])
        assert "TopK" in result["ops"]  # routing happens inside the graph
        assert any(op.startswith("Gather") for op in result["ops"])
    # export leaves the model's own MoE order untouched
    assert all(m.path == "expert" and not m.use_topk_op for _, m in model.backbone.moe_layers())


@pytest.mark.slow
def test_cli_export_onnx(tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    assert main(["export-onnx", "tiny", "--task", "depth", "--out", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert out.is_file() and "max abs diff" in text
    assert main(["export-onnx", "tiny", "--task", "edge", "--out", str(out)]) == 2
