"""Datasets: the synthetic generator's determinism and label geometry, the real loaders
on tiny fixture directories in the benchmark's exact layouts and file formats."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from pymodel import get_config
from pymodel.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DatasetError,
    collate,
    make_dataset,
    parse_data_spec,
)
from pymodel.data.nyud import NYUDMT
from pymodel.data.pascal import NORMALS_VALID_CLASSES, PascalContextMT
from pymodel.data.synthetic import SyntheticMultiTask, intrinsics

ALL = ("semseg", "human_parts", "sal", "normals", "edge", "depth")


# ------------------------------------------------------------------ synthetic
def _raw(seed=0, split="train", index=0, size=(64, 96), **kw):
    return SyntheticMultiTask(8, size, seed=seed, split=split, num_classes=8, **kw).render(index)


def test_same_seed_same_arrays_different_seed_different():
    a, b = _raw(seed=3, index=5), _raw(seed=3, index=5)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    c = _raw(seed=4, index=5)
    assert not np.array_equal(a["image"], c["image"])
    assert not np.array_equal(a["depth"], _raw(seed=3, index=5, split="val")["depth"])
    # A scene depends only on (seed, split, index), not on what was rendered before.
    ds = SyntheticMultiTask(8, (64, 96), seed=3, num_classes=8)
    ds.render(1)
    assert np.array_equal(ds.render(5)["image"], a["image"])


def test_sample_format_and_values():
    ds = SyntheticMultiTask(4, (48, 80), tasks=ALL, num_classes=6, num_parts=6)
    s = ds[2]
    assert s["image"].shape == (3, 48, 80) and s["image"].dtype == torch.float32
    assert s["semseg"].shape == (48, 80) and s["semseg"].dtype == torch.int64
    assert s["human_parts"].dtype == torch.int64
    for t, c in (("depth", 1), ("normals", 3), ("sal", 1), ("edge", 1)):
        assert s[t].shape == (c, 48, 80) and s[t].dtype == torch.float32, t
    assert s["meta"]["index"] == 2 and s["meta"]["intrinsics"] == intrinsics((48, 80))
    img = s["image"].numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    assert img.min() >= -1e-5 and img.max() <= 1 + 1e-5
    assert 0 <= int(s["semseg"].min()) and int(s["semseg"].max()) < 6
    assert set(torch.unique(s["sal"]).tolist()) <= {0.0, 1.0}
    assert set(torch.unique(s["edge"]).tolist()) <= {0.0, 1.0}
    assert float(s["depth"].min()) > 0
    assert torch.allclose(s["normals"].norm(dim=0), torch.ones(48, 80), atol=1e-5)
    # Only the requested tasks are returned.
    only = SyntheticMultiTask(2, (32, 48), tasks=("semseg", "depth"))[0]
    assert set(only) == {"image", "semseg", "depth", "meta"}


def _backprojected_normals(depth, size):
    """Normals from finite differences of the depth map back-projected to 3D (camera frame)."""
    fx, fy, cx, cy = intrinsics(size)
    h, w = size
    u = (np.arange(w) + 0.5 - cx) / fx
    v = (np.arange(h) + 0.5 - cy) / fy
    pts = np.stack(np.broadcast_arrays(u[None] * depth, v[:, None] * depth, depth), -1)
    du = pts[1:-1, 2:] - pts[1:-1, :-2]
    dv = pts[2:, 1:-1] - pts[:-2, 1:-1]
    n = np.cross(du, dv)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    facing = np.sum(n * pts[1:-1, 1:-1], -1) > 0
    n[facing] *= -1  # orient towards the camera, as the labels are
    return n


def test_normals_agree_with_depth_gradients():
    size = (96, 144)
    errors = []
    for index in range(4):
        r = _raw(index=index, size=size)
        est = _backprojected_normals(r["depth"].astype(np.float64), size)
        lab = r["normals"][1:-1, 1:-1].astype(np.float64)
        inst = r["instance"]
        n = r["normals"]
        # Away from edges and creases: the 3x3 neighbourhood is one surface and the
        # label normal varies smoothly across it.
        same = np.ones(inst[1:-1, 1:-1].shape, dtype=bool)
        smooth = np.ones_like(same)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nb = (slice(1 + dy, inst.shape[0] - 1 + dy), slice(1 + dx, inst.shape[1] - 1 + dx))
            same &= inst[nb] == inst[1:-1, 1:-1]
            smooth &= np.sum(n[nb] * n[1:-1, 1:-1], -1) > np.cos(np.radians(25))
        ok = same & smooth
        cos = np.clip(np.sum(est * lab, -1), -1, 1)
        errors.append(np.degrees(np.arccos(cos))[ok])
    err = np.concatenate(errors)
    assert err.size > 20000
    assert np.median(err) < 0.5 and err.mean() < 2.0, (np.median(err), err.mean())


def test_edges_lie_on_class_or_depth_discontinuities():
    for index in range(4):
        r = _raw(index=index)
        cls, depth, edge = r["semseg"], r["depth"], r["edge"]
        assert edge.any()
        right = np.zeros_like(edge)
        down = np.zeros_like(edge)
        jump = lambda a, b: np.abs(a - b) > 0.05  # noqa: E731 - metres
        right[:, :-1] = (cls[:, :-1] != cls[:, 1:]) | jump(depth[:, :-1], depth[:, 1:])
        down[:-1] = (cls[:-1] != cls[1:]) | jump(depth[:-1], depth[1:])
        assert np.all(right[edge] | down[edge])
        # ...and every class change is an edge.
        change = np.zeros_like(edge)
        change[:, :-1] |= cls[:, :-1] != cls[:, 1:]
        change[:-1] |= cls[:-1] != cls[1:]
        assert np.all(edge[change])


def test_saliency_and_parts_follow_the_objects():
    r = _raw(index=1, num_parts=6)
    obj = r["instance"] >= 2
    assert np.array_equal(r["sal"], obj)
    assert np.array_equal(r["semseg"] >= 2, obj)
    assert np.all(r["human_parts"][~obj] == 0)
    assert r["human_parts"][obj].min() >= 1 and r["human_parts"][obj].max() <= 6
    for k in np.unique(r["instance"][obj]):
        rows, _ = np.nonzero(r["instance"] == k)
        parts = r["human_parts"][r["instance"] == k]
        if parts.min() < parts.max():  # the top slice is higher in the image
            assert rows[parts == parts.min()].mean() < rows[parts == parts.max()].mean()


def test_disk_and_memory_cache(tmp_path):
    ds = SyntheticMultiTask(3, (32, 48), cache=tmp_path / "syn")
    first = ds[1]
    files = list((tmp_path / "syn").rglob("*.npz"))
    assert len(files) == 1
    again = SyntheticMultiTask(3, (32, 48), cache=tmp_path / "syn")[1]
    assert torch.equal(first["image"], again["image"])
    assert torch.equal(first["depth"], again["depth"])
    mem = SyntheticMultiTask(3, (32, 48), cache="memory")
    assert mem.render(0) is mem.render(0)
    files[0].write_bytes(b"not an npz")
    with pytest.raises(DatasetError, match=str(files[0].name)):
        SyntheticMultiTask(3, (32, 48), cache=tmp_path / "syn").render(1)


def test_render_speed():
    ds = SyntheticMultiTask(6, (64, 96), num_classes=8)
    ds.render(0)
    t0 = time.perf_counter()
    for i in range(1, 6):
        ds.render(i)
    per = (time.perf_counter() - t0) / 5
    assert per < 0.05, f"{per * 1e3:.1f} ms per 64x96 scene"  # a few ms when idle


def test_for_config_matches_presets():
    cfg = get_config("m3vit-s-pascal", img_size=(64, 64))
    ds = SyntheticMultiTask.for_config(cfg, num_scenes=2)
    assert ds.tasks == cfg.tasks and ds.num_classes == 21 and ds.num_parts == 6
    s = ds[0]
    assert set(s) == {"image", "meta", *cfg.tasks}
    assert int(s["semseg"].max()) < 21 and int(s["human_parts"].max()) <= 6
    train = make_dataset("synthetic:3", get_config("tiny"), split="train")
    assert len(train) == 3 and train[0]["image"].shape == (3, 48, 64)
    val = make_dataset("synthetic:3", get_config("tiny"), split="val", num_scenes=2)
    assert len(val) == 2 and not torch.equal(val[0]["image"], train[0]["image"])


def test_bad_settings_are_refused():
    with pytest.raises(DatasetError, match="num_classes"):
        SyntheticMultiTask(2, num_classes=2)
    with pytest.raises(DatasetError, match="split"):
        SyntheticMultiTask(2, split="holdout")
    with pytest.raises(DatasetError, match="unsupported task"):
        SyntheticMultiTask(2, tasks=("semseg", "optical_flow"))
    with pytest.raises(DatasetError, match="unknown data spec"):
        parse_data_spec("cityscapes:/data")
    with pytest.raises(DatasetError, match="needs a directory"):
        parse_data_spec("pascal")
    assert parse_data_spec("synthetic:12") == ("synthetic", "12")


# ------------------------------------------------------------- PASCAL fixture
H, W = 20, 30


def _struct(rows, dtype):
    a = np.zeros((1, len(rows)), dtype=dtype)
    for i, r in enumerate(rows):
        a[0, i] = r
    return a


def _person_anno(image_id):
    """A PASCAL-Part ``anno`` struct: one person (head, torso, left foot) and a cat."""
    part_dt = [("part_name", "O"), ("mask", "O")]
    obj_dt = [("class", "O"), ("class_ind", "O"), ("mask", "O"), ("parts", "O")]
    head = np.zeros((H, W), np.uint8)
    head[2:6, 10:14] = 1
    torso = np.zeros((H, W), np.uint8)
    torso[6:14, 9:15] = 1
    foot = np.zeros((H, W), np.uint8)
    foot[16:18, 9:11] = 1
    person = head | torso | foot
    parts = _struct([("head", head), ("torso", torso), ("lfoot", foot)], part_dt)
    cat = np.zeros((H, W), np.uint8)
    cat[2:5, 20:28] = 1
    objects = _struct(
        [
            ("person", np.array([[15]]), person, parts),
            ("cat", np.array([[8]]), cat, np.zeros((0, 0))),
        ],
        obj_dt,
    )
    anno = np.zeros((1, 1), dtype=[("imname", "O"), ("objects", "O")])
    anno[0, 0] = (image_id, objects)
    return anno


def _cat_anno(image_id):
    obj_dt = [("class", "O"), ("class_ind", "O"), ("mask", "O"), ("parts", "O")]
    cat = np.ones((H, W), np.uint8)
    objects = _struct([("cat", np.array([[8]]), cat, np.zeros((0, 0)))], obj_dt)
    anno = np.zeros((1, 1), dtype=[("imname", "O"), ("objects", "O")])
    anno[0, 0] = (image_id, objects)
    return anno


@pytest.fixture
def pascal_root(tmp_path):
    root = tmp_path / "PASCAL_MT"
    ids = ["2008_000002", "2008_000003"]
    for d in (
        "JPEGImages",
        "ImageSets/Context",
        "semseg/pascal-context",
        "human_parts",
        "sal_distill",
        "normals_distill",
        "pascal-context/trainval",
    ):
        (root / d).mkdir(parents=True)
    (root / "ImageSets/Context/train.txt").write_text("\n".join(ids) + "\n")
    for k, i in enumerate(ids):
        Image.fromarray(np.full((H, W, 3), (200, 40, 90), np.uint8)).save(
            root / f"JPEGImages/{i}.jpg", quality=100
        )
        seg = np.zeros((H, W), np.uint8)
        seg[:, W // 2 :] = 5
        seg[0, 0] = 255
        Image.fromarray(seg, mode="L").save(root / f"semseg/pascal-context/{i}.png")
        anno = _person_anno(i) if k == 0 else _cat_anno(i)
        scipy.io.savemat(root / f"human_parts/{i}.mat", {"anno": anno})
        sal = np.zeros((H, W), np.uint8)
        sal[5:15, 5:10] = 200
        sal[0:3, :] = 100  # below 0.5: not salient
        Image.fromarray(sal).save(root / f"sal_distill/{i}.png")
        normals = np.zeros((H, W, 3), np.uint8)
        normals[..., 0], normals[..., 1], normals[..., 2] = 128, 128, 255  # ~ (0, 0, 1)
        Image.fromarray(normals).save(root / f"normals_distill/{i}.png")
        label_map = np.full((H, W), 397, np.uint16)  # table: normals valid
        label_map[:, W // 2 :] = 2  # aeroplane: not in NYUD, normals invalid
        scipy.io.savemat(root / f"pascal-context/trainval/{i}.mat", {"LabelMap": label_map})
    return root


def test_pascal_loader_values(pascal_root):
    assert 397 in NORMALS_VALID_CLASSES and 2 not in NORMALS_VALID_CLASSES
    ds = PascalContextMT(pascal_root, "train", img_size=(H, W))
    assert len(ds) == 2
    s = ds[0]
    expect = (np.array([200, 40, 90]) / 255 - IMAGENET_MEAN) / IMAGENET_STD
    assert np.allclose(s["image"][:, 10, 10].numpy(), expect, atol=0.05)
    seg = s["semseg"].numpy()
    assert seg[0, 0] == 255 and seg[5, 2] == 0 and seg[5, W - 2] == 5
    hp = s["human_parts"].numpy()
    assert hp[3, 11] == 1 and hp[8, 10] == 2 and hp[16, 9] == 6 and hp[3, 22] == 0
    assert np.all(ds[1]["human_parts"].numpy() == 255)  # no person: ignored
    sal = s["sal"][0].numpy()
    assert sal[10, 7] == 1 and sal[1, 7] == 0 and sal[18, 25] == 0
    n = s["normals"].numpy()
    assert np.allclose(np.linalg.norm(n[:, :, : W // 2], axis=0), 1, atol=1e-5)
    assert n[2, 5, 5] > 0.99
    assert np.all(n[:, :, W // 2 :] == 255)
    edge = s["edge"][0].numpy()
    assert edge.sum() == H and np.all(edge[:, W // 2 - 1] == 1)


def test_pascal_resizing(pascal_root):
    s = PascalContextMT(pascal_root, "train", img_size=(32, 48))[0]
    assert s["image"].shape == (3, 32, 48)
    assert s["semseg"].shape == (32, 48) and s["human_parts"].shape == (32, 48)
    assert s["sal"].shape == (1, 32, 48) and s["edge"].shape == (1, 32, 48)
    assert set(np.unique(s["semseg"].numpy())) <= {0, 5, 255}  # nearest: no new labels
    n = s["normals"].numpy()
    valid = ~(n == 255).all(axis=0)
    assert valid[:, :20].all() and not valid[:, 28:].any()
    assert np.allclose(np.linalg.norm(n[:, valid], axis=0), 1, atol=1e-5)
    assert s["edge"][0].sum() == 32  # a one-pixel boundary at the new size


def test_pascal_missing_and_malformed_files(pascal_root):
    (pascal_root / "sal_distill/2008_000003.png").unlink()
    with pytest.raises(DatasetError, match="sal_distill/2008_000003.png"):
        PascalContextMT(pascal_root, "train")
    ds = PascalContextMT(pascal_root, "train", tasks=("semseg", "human_parts"))
    (pascal_root / "human_parts/2008_000002.mat").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="human_parts/2008_000002.mat"):
        ds[0]
    bad = np.full((H, W), 30, np.uint8)
    Image.fromarray(bad).save(pascal_root / "semseg/pascal-context/2008_000003.png")
    with pytest.raises(DatasetError, match=r"2008_000003.png: label 30"):
        ds[1]
    with pytest.raises(DatasetError, match="ImageSets/Context/val.txt"):
        PascalContextMT(pascal_root, "val")
    with pytest.raises(DatasetError, match="unsupported task"):
        PascalContextMT(pascal_root, "train", tasks=("depth",))


# --------------------------------------------------------------- NYUD fixture
@pytest.fixture
def nyud_root(tmp_path):
    root = tmp_path / "NYUD_MT"
    for d in ("images", "gt_sets", "segmentation", "depth", "normals", "edge"):
        (root / d).mkdir(parents=True)
    ids = ["0003", "0010"]
    (root / "gt_sets/train.txt").write_text("\n".join(ids) + "\n")
    for i in ids:
        Image.fromarray(np.full((H, W, 3), 120, np.uint8)).save(root / f"images/{i}.jpg")
        seg = np.full((H, W), 7, np.uint8)
        seg[:, :5] = 0
        seg[:, 25:] = 40
        Image.fromarray(seg).save(root / f"segmentation/{i}.png")
        depth = np.full((H, W), 2.5, np.float32)
        depth[:2, :] = 0.0
        np.save(root / f"depth/{i}.npy", depth)
        normals = np.zeros((H, W, 3), np.float32)
        normals[..., 1] = -1.0
        normals[:, :3] = 0.0
        np.save(root / f"normals/{i}.npy", normals)
        edge = np.zeros((H, W), np.float32)
        edge[:, 11] = 1.0
        np.save(root / f"edge/{i}.npy", edge)
    return root


def test_nyud_loader_values_and_resizing(nyud_root):
    tasks = ("semseg", "depth", "normals", "edge")
    s = NYUDMT(nyud_root, "train", tasks=tasks, img_size=(H, W))[1]
    seg = s["semseg"].numpy()
    assert seg[5, 2] == 255 and seg[5, 10] == 6 and seg[5, 28] == 39
    d = s["depth"][0].numpy()
    assert np.all(d[:2] == 255) and np.allclose(d[2:], 2.5)
    n = s["normals"].numpy()
    assert np.all(n[:, :, :3] == 255) and np.allclose(n[:, :, 3:], [[[0]], [[-1]], [[0]]])
    assert s["edge"][0].numpy()[:, 11].all() and s["edge"].sum() == H
    small = NYUDMT(nyud_root, "train", tasks=tasks, img_size=(10, 15))[0]
    assert small["image"].shape == (3, 10, 15) and small["semseg"].shape == (10, 15)
    assert small["edge"].sum() == 10  # shrinking keeps the one-pixel edge
    assert set(np.unique(small["depth"].numpy())) == {2.5, 255.0}
    batch = collate([small, small])
    assert batch["image"].shape == (2, 3, 10, 15) and len(batch["meta"]) == 2


def test_nyud_missing_and_malformed_files(nyud_root):
    (nyud_root / "depth/0010.npy").unlink()
    with pytest.raises(DatasetError, match="depth/0010.npy"):
        NYUDMT(nyud_root, "train", tasks=("semseg", "depth"))
    ds = NYUDMT(nyud_root, "train", tasks=("semseg", "normals"))
    np.save(nyud_root / "normals/0003.npy", np.zeros((H, W), np.float32))
    with pytest.raises(DatasetError, match=r"normals/0003.npy"):
        ds[0]
    (nyud_root / "segmentation/0010.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match="segmentation/0010.png"):
        ds[1]
    with pytest.raises(DatasetError, match="NYUD_MT directory not found"):
        NYUDMT(nyud_root / "nope")
    cfg = get_config("tiny", img_size=(16, 32))
    with pytest.raises(DatasetError, match="images/0010.jpg"):
        (nyud_root / "images/0010.jpg").unlink()
        make_dataset(f"nyud:{nyud_root}", cfg)
