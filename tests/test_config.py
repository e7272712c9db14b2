import json

import pytest

from pymodel import PRESETS, ConfigError, ModelConfig, get_config


def test_presets_match_design_table():
    t = PRESETS["edgemoe-t"]
    assert (t.dim, t.num_heads, t.depth, t.num_experts, t.top_k, t.expert_hidden) == (
        192,
        3,
        12,
        16,
        2,
        384,
    )
    assert t.img_size == (128, 256) and t.num_tokens == 129 and t.mlp_hidden == 768
    assert t.moe_blocks == (1, 3, 5, 7, 9, 11)
    p = PRESETS["m3vit-s-pascal"]
    assert (p.dim, p.num_heads, p.head_dim, p.top_k, p.num_tokens) == (384, 12, 32, 4, 1025)
    assert p.tasks == ("semseg", "human_parts", "sal", "normals", "edge")
    assert p.task_channels == {"semseg": 21, "human_parts": 7, "sal": 1, "normals": 3, "edge": 1}
    n = PRESETS["m3vit-s-nyud"]
    assert n.num_tokens == 1201 and n.task_channels == {"semseg": 40, "depth": 1}
    tiny = PRESETS["tiny"]
    assert tiny.depth == 4 and tiny.num_experts == 4 and tiny.top_k == 2
    assert tiny.img_size[0] != tiny.img_size[1] and tiny.num_tasks == 2
    assert all(c.router == "multi" and c.ln_eps == 1e-6 for c in PRESETS.values())


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"dim": 100, "num_heads": 3}, "num_heads"),
        ({"top_k": 5}, "top_k"),
        ({"top_k": 0}, "top_k"),
        ({"img_size": (50, 64)}, "patch_size"),
        ({"tasks": ("semseg", "segmentation")}, "'segmentation'"),
        ({"tasks": ()}, "tasks"),
        ({"tasks": ("depth", "depth")}, "duplicates"),
        ({"router": "moe"}, "router"),
        ({"moe_blocks": (1, 9)}, "moe_blocks"),
        ({"head_convs": 3}, "head_convs"),
        ({"dim": -4}, "dim"),
        ({"task_channels": {"semseg": 0}}, "task_channels"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_impossible_configs_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        PRESETS["tiny"].replace(**overrides)


def test_unknown_preset_and_missing_file():
    with pytest.raises(ConfigError, match="unknown preset"):
        get_config({"preset": "vit-huge"})
    with pytest.raises(ConfigError, match="neither a preset"):
        get_config("no/such/file.yaml")


def test_config_files_and_overrides(tmp_path):
    y = tmp_path / "m.yaml"
    y.write_text("preset: tiny\ndim: 48\nnum_heads: 3\ntasks: [depth, normals]\n")
    cfg = get_config(y)
    assert cfg.dim == 48 and cfg.tasks == ("depth", "normals")
    assert cfg.task_channels == {"depth": 1, "normals": 3}
    assert cfg.depth == 4  # from the preset
    j = tmp_path / "m.json"
    j.write_text(json.dumps(cfg.to_dict()))
    assert get_config(j) == cfg
    assert get_config(cfg.to_dict()) == cfg
    deeper = get_config("tiny", depth=6)
    assert deeper.moe_blocks == (1, 3, 5)  # odd blocks recomputed for the new depth
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        get_config(bad)


def test_task_index():
    cfg = PRESETS["m3vit-s-pascal"]
    assert cfg.task_index("sal") == 2 and cfg.task_index(4) == 4
    with pytest.raises(ConfigError, match="depth"):
        cfg.task_index("depth")
    with pytest.raises(ConfigError, match="out of range"):
        cfg.task_index(5)


def test_config_is_data():
    cfg = ModelConfig(
        name="x",
        img_size=32,
        patch_size=16,
        dim=16,
        num_heads=4,
        depth=2,
        num_experts=2,
        top_k=1,
        expert_hidden=8,
        tasks=["sal"],
    )
    assert cfg.img_size == (32, 32) and cfg.moe_blocks == (1,) and cfg.tasks == ("sal",)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
