import pytest
import torch

from pymodel import CheckpointError, build_model, load_checkpoint, save_checkpoint
from pymodel.model import resize_pos_embed

from .official import make_official, reference_forward, write_official_dir


def _images(h, w, seed=0):
    return torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _assert_matches_reference(model, sd, **ref):
    x = _images(*model.cfg.img_size)
    with torch.no_grad():
        for task in model.tasks:
            want = reference_forward(sd, x, task, tasks=model.tasks, **ref)
            torch.testing.assert_close(model(x, task), want, atol=2e-4, rtol=1e-4)


def test_official_multi_rank_directory(tmp_path):
    sd = make_official(grid=(3, 4))  # non-square: 48x64 input
    ckpt = write_official_dir(sd, tmp_path, ranks=2)
    model = load_checkpoint(ckpt, num_heads=2, top_k=2, img_size=(48, 64))
    cfg = model.cfg
    assert (cfg.dim, cfg.depth, cfg.num_experts, cfg.expert_hidden, cfg.mlp_hidden) == (
        32,
        4,
        4,
        24,
        64,
    )
    assert cfg.moe_blocks == (1, 3) and cfg.router == "multi"
    assert cfg.tasks == ("semseg", "depth") and cfg.task_channels == {"semseg": 5, "depth": 1}
    assert (cfg.head_convs, cfg.head_upsamples, cfg.head_channels) == (4, 4, 8)
    # Experts concatenated in rank order.
    w = model.backbone.blocks[1].mlp.experts.htoh4.weight
    assert torch.equal(w, sd["backbone.blocks.1.mlp.experts.htoh4.weight"])
    _assert_matches_reference(model, sd, num_heads=2, top_k=2, grid=(3, 4))


def test_official_four_ranks_and_preset_hint(tmp_path):
    sd = make_official(grid=(3, 4), experts=4)
    ckpt = write_official_dir(sd, tmp_path, ranks=4)
    model = load_checkpoint(ckpt, preset="tiny", head_channels=8)
    assert model.cfg.num_heads == 2 and model.cfg.top_k == 2 and model.cfg.img_size == (48, 64)
    _assert_matches_reference(model, sd, num_heads=2, top_k=2, grid=(3, 4))


def test_missing_hints_are_named(tmp_path):
    sd = make_official(grid=(3, 4))
    ckpt = write_official_dir(sd, tmp_path, ranks=2)
    with pytest.raises(CheckpointError, match="img_size"):
        load_checkpoint(ckpt, num_heads=2, top_k=2)
    with pytest.raises(CheckpointError, match="num_heads"):
        load_checkpoint(ckpt, top_k=2, img_size=(48, 64))
    with pytest.raises(CheckpointError, match="top_k"):
        load_checkpoint(ckpt, num_heads=2, img_size=(48, 64))
    with pytest.raises(CheckpointError, match="num_heads"):
        load_checkpoint(ckpt, num_heads=5, top_k=2, img_size=(48, 64))  # 32 % 5
    with pytest.raises(CheckpointError, match=r"dim=48 contradicts .*dim=32"):
        load_checkpoint(ckpt, num_heads=2, top_k=2, img_size=(48, 64), dim=48)


@pytest.mark.parametrize("prefix", ["", "module."])
@pytest.mark.parametrize("wrapped", [False, True])
def test_single_file_state_dict(tmp_path, prefix, wrapped):
    sd = make_official(grid=(4, 4), router="single", head=2, tasks=(("sal", 1), ("normals", 3)))
    state = {prefix + k: v for k, v in sd.items()}
    path = tmp_path / "model.pth"
    torch.save({"state_dict": state} if wrapped else state, path)
    model = load_checkpoint(path, num_heads=4, top_k=1)  # square grid: 64x64 inferred
    assert model.cfg.img_size == (64, 64) and model.cfg.router == "single"
    assert (model.cfg.head_convs, model.cfg.head_upsamples) == (2, 1)
    assert model.cfg.tasks == ("sal", "normals")
    _assert_matches_reference(model, sd, num_heads=4, top_k=1, grid=(4, 4), router="single", head=2)


def test_task_conditioned_router(tmp_path):
    sd = make_official(grid=(3, 4), router="task", task_dim=16)
    path = tmp_path / "m.pth"
    torch.save(sd, path)
    model = load_checkpoint(path, num_heads=2, top_k=2, img_size=(48, 64))
    assert model.cfg.router == "task" and model.cfg.task_embed_dim == 16
    assert model.cfg.gate_in_dim == 48
    _assert_matches_reference(model, sd, num_heads=2, top_k=2, grid=(3, 4), router="task")


def test_task_order_hint(tmp_path):
    sd = make_official(grid=(3, 4))
    path = tmp_path / "m.pth"
    torch.save(sd, path)
    model = load_checkpoint(
        path, num_heads=2, top_k=2, img_size=(48, 64), tasks=["depth", "semseg"]
    )
    assert model.cfg.tasks == ("depth", "semseg")
    # gate 0 now belongs to depth
    assert torch.equal(
        model.backbone.blocks[1].mlp.w_gate(model.cfg.task_index("depth")),
        sd["backbone.blocks.1.mlp.gate.0.w_gate"],
    )
    with pytest.raises(CheckpointError, match="does not match the checkpoint's heads"):
        load_checkpoint(path, num_heads=2, top_k=2, img_size=(48, 64), tasks=["depth", "edge"])


def test_position_embedding_resized_on_load(tmp_path):
    sd = make_official(grid=(4, 4))
    path = tmp_path / "m.pth"
    torch.save(sd, path)
    model = load_checkpoint(path, num_heads=2, top_k=2, img_size=(48, 96))
    want = resize_pos_embed(sd["backbone.pos_embed"], (4, 4), (3, 6))
    assert torch.equal(model.backbone.pos_embed.data, want)
    assert torch.equal(model.backbone.pos_embed[0, 0], sd["backbone.pos_embed"][0, 0])


def test_mismatches_name_keys_and_shapes(tmp_path):
    sd = make_official(grid=(3, 4))
    bad = dict(sd)
    bad["backbone.blocks.0.attn.proj.weight"] = torch.zeros(32, 31)
    torch.save(bad, tmp_path / "shape.pth")
    with pytest.raises(
        CheckpointError,
        match=r"attn\.proj\.weight: checkpoint \(32, 31\) vs "
        r"model \(32, 32\)",
    ):
        load_checkpoint(tmp_path / "shape.pth", num_heads=2, top_k=2, img_size=(48, 64))
    extra = dict(sd, **{"backbone.extra.weight": torch.zeros(2)})
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match=r"unexpected keys \['backbone.extra.weight'\]"):
        load_checkpoint(tmp_path / "extra.pth", num_heads=2, top_k=2, img_size=(48, 64))
    missing = {k: v for k, v in sd.items() if k != "backbone.blocks.2.norm2.bias"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match=r"missing keys \['backbone.blocks.2.norm2.bias'\]"):
        load_checkpoint(tmp_path / "missing.pth", num_heads=2, top_k=2, img_size=(48, 64))


def test_broken_rank_directories(tmp_path):
    sd = make_official(grid=(3, 4))
    ckpt = write_official_dir(sd, tmp_path / "a", ranks=2)
    r1 = torch.load(ckpt / "1.pth")
    del r1["state_dict"]["module.backbone.blocks.3.mlp.experts.h4toh.bias"]
    torch.save(r1, ckpt / "1.pth")
    with pytest.raises(CheckpointError, match=r"rank 1 .*blocks\.3\.mlp\.experts\.h4toh\.bias"):
        load_checkpoint(ckpt, num_heads=2, top_k=2, img_size=(48, 64))
    gap = write_official_dir(sd, tmp_path / "b", ranks=2)
    (gap / "1.pth").rename(gap / "2.pth")
    with pytest.raises(CheckpointError, match="not numbered"):
        load_checkpoint(gap, num_heads=2, top_k=2, img_size=(48, 64))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="rank files"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nothing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pth")


def test_own_checkpoint_roundtrip(tmp_path):
    model = build_model("tiny", seed=5, router="task")
    path = save_checkpoint(model, tmp_path / "ours.pt", epoch=3, numerics="float")
    loaded = load_checkpoint(path)
    assert loaded.cfg == model.cfg
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    raw = torch.load(path)
    assert raw["epoch"] == 3 and raw["numerics"] == "float"


class _NotATensor:
    """A pickled object that ``weights_only`` loading refuses."""


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("junk", "not a PyTorch checkpoint"),
        ("empty", "is empty"),
        ("truncated", "truncated or corrupt"),
        ("bad_pickle", "truncated or corrupt"),
        ("object", r"non-tensor object \(.*_NotATensor\); .*allow_pickle=True"),
    ],
)
def test_unreadable_checkpoint_is_one_short_line(tmp_path, kind, match):
    """torch's unpickler messages run to paragraphs; the loader says why in one line."""
    import pickle

    good = save_checkpoint(build_model("tiny", seed=0), tmp_path / "good.pt").read_bytes()
    path = tmp_path / f"{kind}.pt"
    if kind == "object":
        torch.save({"state_dict": {}, "extra": _NotATensor()}, path)
    else:
        path.write_bytes(
            {
                "junk": b"not a checkpoint",
                "empty": b"",
                "truncated": good[: len(good) // 3],
                "bad_pickle": pickle.dumps({"a": 1})[:-3],
            }[kind]
        )
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 160 + len(str(path)), msg
    assert msg.startswith(f"cannot read checkpoint {path}: ")
