"""A synthetic multi-task dataset: ray-cast 3D scenes with exact labels for every task.

Each scene is a textured ground plane and a (slightly yawed) brick wall, plus
3-6 primitives standing on the ground (spheres, yawed boxes, capped vertical
cylinders), lit by one directional light with cast shadows (Lambertian
shading plus ambient), seen by a pinhole camera of 60 degrees horizontal field
of view, tilted down. Rays are cast in numpy, vectorised over pixels (a 64x96
scene renders in a few milliseconds, 128x256 in well under 50 ms).

Every label is read off the same ray hits, so the labels agree with each other
and with the image by construction:

* ``semseg``: class of the surface hit: 0 = wall, 1 = ground, 2.. = object
  classes. An object class fixes the primitive kind (sphere, box, cylinder in
  turn) and the base colour (hues spread by the golden ratio), so classes can
  be told apart by shape and colour.
* ``depth``: z-depth in metres in the camera frame (the distance along the
  optical axis, as NYUD's depth maps), always valid here.
* ``normals``: unit surface normal in the camera frame (OpenCV axes: x right,
  y down, z forward), facing the camera.
* ``sal``: 1 on objects, 0 on ground and wall.
* ``edge``: 1 where the surface (instance) changes towards the right or lower
  neighbour: a one-pixel-thick boundary of class changes and occlusion (depth)
  discontinuities; box creases and texture edges are not edges.
* ``human_parts``: a part labelling of objects standing in for PASCAL's human
  parts: each object is cut into ``num_parts`` horizontal slices of equal
  height, numbered 1 (top) to ``num_parts`` (bottom), the way head, torso, arms
  and legs stack; 0 is everything that is not an object.

Scenes are deterministic functions of ``(seed, split, index)``: the same
arguments give bit-identical arrays whatever the access order.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from . import IMAGENET_MEAN, IMAGENET_STD, TASKS, DatasetError, check_tasks, label_boundaries

KINDS = ("sphere", "box", "cylinder")
WALL, GROUND = 0, 1
#: Horizontal field of view of the camera (degrees).
HFOV_DEG = 60.0
_SPLITS = {"train": 0, "val": 1, "test": 2}
_VERSION = 1  # bump when the renderer changes, so disk caches are not reused


@dataclass(frozen=True)
class Primitive:
    """One object standing on the ground (world frame: x right, y up, z forward)."""

    kind: str
    cls: int
    x: float
    z: float
    size: float  # sphere/cylinder radius; box half-extent along its local x
    size2: float  # box half-extent along its local z (unused otherwise)
    height: float  # vertical extent (2 * radius for a sphere)
    yaw: float  # box rotation about the vertical axis (radians)
    albedo: tuple[float, float, float]

    @property
    def footprint(self) -> float:
        """Radius of a circle on the ground that contains the object."""
        return math.hypot(self.size, self.size2) if self.kind == "box" else self.size


@dataclass(frozen=True)
class Scene:
    """Camera, light, background and objects of one scene."""

    cam_height: float
    pitch: float  # camera tilt down (radians)
    wall_dist: float
    wall_yaw: float
    light: tuple[float, float, float]  # unit vector towards the light (world)
    ground_colors: tuple[tuple[float, float, float], tuple[float, float, float]]
    ground_tile: float
    wall_color: tuple[float, float, float]
    objects: tuple[Primitive, ...]


def class_albedo(cls: int) -> np.ndarray:
    """Base colour of object class ``cls`` (>= 2): hues spread by the golden ratio."""
    k = cls - 2
    hue = (0.13 + k * 0.618034) % 1.0
    sat = 0.75 if (k // 3) % 2 == 0 else 0.5
    val = 0.9 if (k // 6) % 2 == 0 else 0.65
    return _hsv_to_rgb(hue, sat, val)


def class_kind(cls: int) -> str:
    """Primitive kind of object class ``cls`` (>= 2)."""
    return KINDS[(cls - 2) % len(KINDS)]


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float64)


def intrinsics(img_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) of the camera for an (H, W) image (square pixels)."""
    h, w = img_size
    f = (w / 2.0) / math.tan(math.radians(HFOV_DEG) / 2.0)
    return f, f, w / 2.0, h / 2.0


def sample_scene(rng: np.random.Generator, num_classes: int) -> Scene:
    """Draw a random scene: camera, light, background and non-overlapping objects."""
    pitch = math.radians(rng.uniform(8.0, 20.0))
    cam_h = rng.uniform(1.3, 1.8)
    wall_dist = rng.uniform(8.0, 13.0)
    wall_yaw = math.radians(rng.uniform(-20.0, 20.0))
    az = rng.uniform(0, 2 * math.pi)
    elev = math.radians(rng.uniform(35.0, 70.0))
    light = (math.cos(elev) * math.sin(az), math.sin(elev), -abs(math.cos(elev) * math.cos(az)))
    g = rng.uniform(0.35, 0.65, size=3)
    ground = (tuple(g), tuple(np.clip(g * rng.uniform(0.6, 0.8), 0, 1)))
    wall = tuple(rng.uniform(0.45, 0.85, size=3))
    n_wall = np.array([math.sin(wall_yaw), 0.0, -math.cos(wall_yaw)])
    wall_c = -math.cos(wall_yaw) * wall_dist  # n . P = c on the wall
    half_fov = math.tan(math.radians(HFOV_DEG) / 2.0)

    objects: list[Primitive] = []
    n_obj = int(rng.integers(3, 7))
    for _ in range(60 * n_obj):
        if len(objects) == n_obj:
            break
        cls = int(rng.integers(2, num_classes))
        kind = class_kind(cls)
        if kind == "sphere":
            r = rng.uniform(0.3, 0.7)
            size, size2, height, yaw = r, r, 2 * r, 0.0
        elif kind == "box":
            size, size2 = rng.uniform(0.25, 0.6), rng.uniform(0.25, 0.6)
            height, yaw = rng.uniform(0.4, 1.5), rng.uniform(0, math.pi / 2)
        else:
            size = rng.uniform(0.2, 0.5)
            size2, height, yaw = size, rng.uniform(0.5, 1.7), 0.0
        z = rng.uniform(2.5, wall_dist - 1.0)
        x = rng.uniform(-0.85, 0.85) * z * half_fov
        albedo = np.clip(class_albedo(cls) * rng.uniform(0.9, 1.1), 0, 1)
        cand = Primitive(kind, cls, x, z, size, size2, height, yaw, tuple(albedo))
        # Keep a gap to the wall and between objects: adjacent surfaces of two
        # objects then always differ in depth, so every edge is a class or a
        # depth discontinuity.
        wall_z = (wall_c - n_wall[0] * x) / n_wall[2]
        if z + cand.footprint > wall_z - 0.3:
            continue
        if any(math.hypot(o.x - x, o.z - z) < o.footprint + cand.footprint + 0.15 for o in objects):
            continue
        objects.append(cand)
    return Scene(
        cam_height=cam_h,
        pitch=pitch,
        wall_dist=wall_dist,
        wall_yaw=wall_yaw,
        light=light,
        ground_colors=ground,  # type: ignore[arg-type]
        ground_tile=rng.uniform(0.4, 0.8),
        wall_color=wall,  # type: ignore[arg-type]
        objects=tuple(objects),
    )


def _camera(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre (world) and rotation R (columns: camera x, y, z axes in world)."""
    s, c = math.sin(scene.pitch), math.cos(scene.pitch)
    right, down, forward = [1.0, 0.0, 0.0], [0.0, -c, -s], [0.0, -s, c]
    return np.array([0.0, scene.cam_height, 0.0]), np.array([right, down, forward]).T


def _safe(d: np.ndarray) -> np.ndarray:
    """Directions with exact zeros nudged, so slab divisions never divide by zero."""
    return np.where(np.abs(d) < 1e-12, 1e-12, d)


def _hit_primitive(obj: Primitive, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest positive hit distance t along ``o + t d`` (inf where missed) and world normals.

    ``o`` is (3,) or (N, 3); ``d`` is (N, 3), not necessarily unit length.
    """
    n = d.shape[0]
    inf = np.full(n, np.inf)
    normal = np.zeros((n, 3))
    eps = 1e-6
    if obj.kind == "sphere":
        c = np.array([obj.x, obj.size, obj.z])
        oc = o - c
        a = np.einsum("ij,ij->i", d, d)
        b = 2.0 * np.einsum("ij,ij->i", d, np.broadcast_to(oc, d.shape))
        cc = np.einsum("ij,ij->i", *(np.broadcast_to(oc, d.shape),) * 2) - obj.size**2
        disc = b * b - 4 * a * cc
        ok = disc >= 0
        t = np.where(ok, (-b - np.sqrt(np.where(ok, disc, 0))) / (2 * a), np.inf)
        t = np.where(t > eps, t, np.inf)
        p = o + t[:, None] * d
        hit = np.isfinite(t)
        normal[hit] = (p[hit] - c) / obj.size
        return t, normal
    if obj.kind == "cylinder":
        ox = np.broadcast_to(o, d.shape)[:, 0] - obj.x
        oz = np.broadcast_to(o, d.shape)[:, 2] - obj.z
        oy = np.broadcast_to(o, d.shape)[:, 1]
        a = d[:, 0] ** 2 + d[:, 2] ** 2
        b = 2 * (d[:, 0] * ox + d[:, 2] * oz)
        cc = ox**2 + oz**2 - obj.size**2
        disc = b * b - 4 * a * cc
        ok = (disc >= 0) & (a > 1e-12)
        ts = np.where(ok, (-b - np.sqrt(np.where(ok, disc, 0))) / (2 * np.where(ok, a, 1)), np.inf)
        ys = oy + ts * d[:, 1]
        ts = np.where((ts > eps) & (ys >= 0) & (ys <= obj.height), ts, np.inf)
        dy = _safe(d[:, 1])
        tc = (obj.height - oy) / dy
        cx, cz = ox + tc * d[:, 0], oz + tc * d[:, 2]
        tc = np.where((tc > eps) & (cx**2 + cz**2 <= obj.size**2), tc, np.inf)
        t = np.minimum(ts, tc)
        side = np.isfinite(ts) & (ts <= tc)
        cap = np.isfinite(tc) & (tc < ts)
        normal[side, 0] = (ox[side] + ts[side] * d[side, 0]) / obj.size
        normal[side, 2] = (oz[side] + ts[side] * d[side, 2]) / obj.size
        normal[cap, 1] = 1.0
        return t, normal
    # Box: slab test in the box frame (rotated by yaw about the vertical axis).
    cy_, sy_ = math.cos(obj.yaw), math.sin(obj.yaw)
    ob = np.broadcast_to(o, d.shape)
    rel_x, rel_z = ob[:, 0] - obj.x, ob[:, 2] - obj.z
    lo = np.stack([cy_ * rel_x + sy_ * rel_z, ob[:, 1], -sy_ * rel_x + cy_ * rel_z], axis=1)
    ld = _safe(
        np.stack([cy_ * d[:, 0] + sy_ * d[:, 2], d[:, 1], -sy_ * d[:, 0] + cy_ * d[:, 2]], 1)
    )
    lo_b = np.array([-obj.size, 0.0, -obj.size2])
    hi_b = np.array([obj.size, obj.height, obj.size2])
    t1, t2 = (lo_b - lo) / ld, (hi_b - lo) / ld
    tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
    tnear, tfar = tmin.max(axis=1), tmax.min(axis=1)
    axis = tmin.argmax(axis=1)
    hit = (tnear <= tfar) & (tnear > eps)
    t = np.where(hit, tnear, inf)
    ln = np.zeros((n, 3))
    ln[np.arange(n), axis] = -np.sign(ld[np.arange(n), axis])
    normal[:, 0] = cy_ * ln[:, 0] - sy_ * ln[:, 2]
    normal[:, 1] = ln[:, 1]
    normal[:, 2] = sy_ * ln[:, 0] + cy_ * ln[:, 2]
    normal[~hit] = 0.0
    return t, normal


def _screen_box(
    obj: Primitive, origin: np.ndarray, rot: np.ndarray, img_size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """(row0, row1, col0, col1) pixel bounds that contain the object's projection.

    The whole image where a corner of its bounding box is behind the camera;
    None where the box is entirely outside the image.
    """
    h, w = img_size
    f = obj.footprint
    xs, ys, zs = (obj.x - f, obj.x + f), (0.0, obj.height), (obj.z - f, obj.z + f)
    corners = np.array([[x, y, z] for x in xs for y in ys for z in zs])
    cam = (corners - origin) @ rot
    if np.any(cam[:, 2] < 1e-3):
        return 0, h, 0, w
    fx, fy, cx, cy = intrinsics(img_size)
    u = fx * cam[:, 0] / cam[:, 2] + cx
    v = fy * cam[:, 1] / cam[:, 2] + cy
    c0, c1 = max(0, int(math.floor(u.min())) - 1), min(w, int(math.ceil(u.max())) + 1)
    r0, r1 = max(0, int(math.floor(v.min())) - 1), min(h, int(math.ceil(v.max())) + 1)
    if c0 >= c1 or r0 >= r1:
        return None
    return r0, r1, c0, c1


def render_scene(
    scene: Scene,
    img_size: tuple[int, int],
    num_parts: int = 6,
    noise: float = 0.01,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Ray-cast ``scene`` into an (H, W) image and its labels (compact numpy arrays).

    Returns ``image`` (H, W, 3) uint8, ``semseg`` (H, W) uint8, ``depth`` (H, W)
    float32 (z-depth, m), ``normals`` (H, W, 3) float32 (camera frame, unit),
    ``sal`` and ``edge`` (H, W) bool, ``human_parts`` (H, W) uint8 and
    ``instance`` (H, W) int16 (0 wall, 1 ground, 2+k object k).
    """
    h, w = img_size
    fx, fy, cx, cy = intrinsics(img_size)
    u = (np.arange(w) + 0.5 - cx) / fx
    v = (np.arange(h) + 0.5 - cy) / fy
    d_cam = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((1, 1))), -1)
    d_cam = d_cam.reshape(-1, 3)
    origin, rot = _camera(scene)
    d = d_cam @ rot.T  # world directions; z_cam of o + t d is exactly t
    n_px = d.shape[0]

    # Background: wall plane and ground plane y = 0.
    n_wall = np.array([math.sin(scene.wall_yaw), 0.0, -math.cos(scene.wall_yaw)])
    c_wall = -math.cos(scene.wall_yaw) * scene.wall_dist
    t_wall = (c_wall - n_wall @ origin) / _safe(d @ n_wall)
    t_wall = np.where(t_wall > 0, t_wall, np.inf)
    t_ground = -origin[1] / _safe(d[:, 1])
    t_ground = np.where(t_ground > 0, t_ground, np.inf)
    t_best = t_wall.copy()
    inst = np.zeros(n_px, dtype=np.int16)
    normal = np.tile(n_wall, (n_px, 1))
    g = t_ground < t_best
    t_best[g], inst[g], normal[g] = t_ground[g], GROUND, (0.0, 1.0, 0.0)
    pix = np.arange(n_px).reshape(h, w)
    for k, obj in enumerate(scene.objects):
        # Only rays inside the object's screen-space bounding box can hit it.
        box = _screen_box(obj, origin, rot, img_size)
        if box is None:
            continue
        idx = pix[box[0] : box[1], box[2] : box[3]].ravel()
        t, nrm = _hit_primitive(obj, origin, d[idx])
        m = t < t_best[idx]
        sel = idx[m]
        t_best[sel], inst[sel], normal[sel] = t[m], 2 + k, nrm[m]
    if not np.all(np.isfinite(t_best)):
        raise RuntimeError("a camera ray hit nothing; the scene is not closed")
    p = origin + t_best[:, None] * d

    # Albedo: checkered ground, brick wall, class colours on objects.
    albedo = np.empty((n_px, 3))
    cls = np.zeros(n_px, dtype=np.uint8)
    parts = np.zeros(n_px, dtype=np.uint8)
    gm = inst == GROUND
    tile = (np.floor(p[gm, 0] / scene.ground_tile) + np.floor(p[gm, 2] / scene.ground_tile)) % 2
    gc = np.array(scene.ground_colors)
    albedo[gm] = np.where(tile[:, None] > 0, gc[1], gc[0])
    cls[gm] = GROUND
    wm = inst == WALL
    along = p[wm, 0] * math.cos(scene.wall_yaw) + p[wm, 2] * math.sin(scene.wall_yaw)
    row = np.floor(p[wm, 1] / 0.25)
    brick_u = (along + 0.3 * (row % 2)) / 0.6
    mortar = ((p[wm, 1] / 0.25) % 1.0 < 0.1) | (brick_u % 1.0 < 0.06)
    shade = 0.92 + 0.08 * np.sin(row * 2.3 + np.floor(brick_u) * 1.7)
    albedo[wm] = np.array(scene.wall_color) * np.where(mortar, 0.6, shade)[:, None]
    cls[wm] = WALL
    for k, obj in enumerate(scene.objects):
        om = inst == 2 + k
        albedo[om] = obj.albedo
        cls[om] = obj.cls
        rel = np.clip(p[om, 1] / obj.height, 0.0, 1.0)
        parts[om] = 1 + np.minimum(num_parts - 1, np.floor((1.0 - rel) * num_parts)).astype(
            np.uint8
        )

    # Lambertian shading with cast shadows (objects occlude; ground and wall do not).
    light = np.array(scene.light)
    lam = np.clip(normal @ light, 0.0, None)
    shadow = np.zeros(n_px, dtype=bool)
    lit = lam > 0
    if lit.any():
        start = p[lit] + 1e-4 * normal[lit]
        dl = np.broadcast_to(light, start.shape)
        blocked = np.zeros(start.shape[0], dtype=bool)
        for obj in scene.objects:
            # Exact test only where the shadow ray passes the object's bounding sphere.
            centre = np.array([obj.x, obj.height / 2, obj.z])
            radius2 = obj.footprint**2 + (obj.height / 2) ** 2
            v = centre - start
            s = v @ light
            near = (s > -math.sqrt(radius2)) & (np.einsum("ij,ij->i", v, v) - s * s < radius2)
            idx = np.flatnonzero(near & ~blocked)
            if idx.size:
                t, _ = _hit_primitive(obj, start[idx], np.ascontiguousarray(dl[idx]))
                blocked[idx[np.isfinite(t)]] = True
        shadow[lit] = blocked
    ambient = 0.3
    radiance = albedo * (ambient + (1 - ambient) * (lam * ~shadow))[:, None]
    if noise > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        radiance = radiance + rng.normal(0.0, noise, radiance.shape)
    image = np.clip(np.round(radiance * 255.0), 0, 255).astype(np.uint8).reshape(h, w, 3)

    inst2 = inst.reshape(h, w)
    edge = label_boundaries(inst2)
    n_cam = (normal @ rot).astype(np.float32)  # R^T n, row-wise
    n_cam /= np.linalg.norm(n_cam, axis=1, keepdims=True)
    return {
        "image": image,
        "semseg": cls.reshape(h, w),
        "depth": t_best.reshape(h, w).astype(np.float32),
        "normals": n_cam.reshape(h, w, 3),
        "sal": (inst2 >= 2),
        "edge": edge,
        "human_parts": parts.reshape(h, w),
        "instance": inst2,
    }


class SyntheticMultiTask(Dataset):
    """Procedural multi-task scenes (see the module docstring), generated on the fly.

    ``tasks`` limits what each sample holds (plus ``image`` and ``meta``).
    ``num_classes`` counts wall, ground and the object classes (>= 3);
    ``num_parts`` the object parts of ``human_parts`` (the head has
    ``num_parts + 1`` channels with background). ``split`` selects a disjoint
    stream of scenes ("train", "val", "test"). ``cache``: None (render every
    time), ``"memory"`` (keep rendered scenes in RAM) or a directory (one
    ``.npz`` per scene under a key of every generation parameter, e.g.
    ``build/synthetic``).

    A sample is a dict: ``image`` (3, H, W) float32 normalised with ImageNet
    mean/std; ``semseg`` and ``human_parts`` (H, W) int64; ``depth`` (1, H, W),
    ``normals`` (3, H, W), ``sal`` and ``edge`` (1, H, W) float32; ``meta``
    with ``id``, ``index``, ``split``, ``seed`` and ``intrinsics`` (fx, fy, cx, cy).
    """

    def __init__(
        self,
        num_scenes: int = 256,
        img_size: int | Sequence[int] = (64, 96),
        tasks: Sequence[str] = TASKS,
        num_classes: int = 5,
        num_parts: int = 6,
        seed: int = 0,
        split: str = "train",
        cache: str | Path | None = None,
        noise: float = 0.01,
    ) -> None:
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        img_size = tuple(int(s) for s in img_size)
        if len(img_size) != 2 or min(img_size) < 2:
            raise DatasetError(f"img_size must be (H, W) with H, W >= 2, got {img_size}")
        if int(num_scenes) < 1:
            raise DatasetError(f"num_scenes must be >= 1, got {num_scenes}")
        if int(num_classes) < 3:
            raise DatasetError(
                f"num_classes must be >= 3 (wall, ground and at least one object class), "
                f"got {num_classes}"
            )
        if not 1 <= int(num_parts) <= 254:
            raise DatasetError(f"num_parts must be in 1..254, got {num_parts}")
        if split not in _SPLITS:
            raise DatasetError(f"unknown split {split!r}; use one of {list(_SPLITS)}")
        self.tasks = check_tasks(tasks)
        self.num_scenes = int(num_scenes)
        self.img_size: tuple[int, int] = img_size  # type: ignore[assignment]
        self.num_classes = int(num_classes)
        self.num_parts = int(num_parts)
        self.seed = int(seed)
        self.split = split
        self.noise = float(noise)
        self._memory: dict[int, dict[str, np.ndarray]] | None = None
        self._cache_dir: Path | None = None
        if cache == "memory":
            self._memory = {}
        elif cache is not None:
            self._cache_dir = Path(cache) / self.cache_key()

    @classmethod
    def for_config(
        cls, cfg: Any, num_scenes: int = 256, split: str = "train", seed: int = 0, **kwargs: Any
    ) -> SyntheticMultiTask:
        """A dataset matching a :class:`~pymodel.config.ModelConfig`: its input size,
        tasks, semseg classes and human-parts channels."""
        ch = cfg.task_channels
        return cls(
            num_scenes=num_scenes,
            img_size=cfg.img_size,
            tasks=cfg.tasks,
            num_classes=int(ch.get("semseg", 5)),
            num_parts=int(ch.get("human_parts", 7)) - 1,
            seed=seed,
            split=split,
            **kwargs,
        )

    def cache_key(self) -> str:
        """A short hash of every parameter that changes the rendered arrays."""
        params = {
            "version": _VERSION,
            "img_size": list(self.img_size),
            "num_classes": self.num_classes,
            "num_parts": self.num_parts,
            "seed": self.seed,
            "split": self.split,
            "noise": self.noise,
        }
        return hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]

    def spec(self) -> dict[str, Any]:
        """JSON-able description that rebuilds this dataset (stored in checkpoints)."""
        return {
            "kind": "synthetic",
            "num_scenes": self.num_scenes,
            "img_size": list(self.img_size),
            "num_classes": self.num_classes,
            "num_parts": self.num_parts,
            "seed": self.seed,
            "split": self.split,
            "noise": self.noise,
        }

    def __len__(self) -> int:
        return self.num_scenes

    def scene(self, index: int) -> Scene:
        """The scene description of sample ``index``."""
        return sample_scene(self._rng(index), self.num_classes)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, _SPLITS[self.split], int(index)])

    def render(self, index: int) -> dict[str, np.ndarray]:
        """Raw arrays of sample ``index`` (see :func:`render_scene`), cached if enabled."""
        if not 0 <= index < self.num_scenes:
            raise IndexError(f"index {index} out of range for {self.num_scenes} scenes")
        if self._memory is not None and index in self._memory:
            return self._memory[index]
        path = self._cache_dir / f"{index:06d}.npz" if self._cache_dir is not None else None
        if path is not None and path.is_file():
            try:
                with np.load(path) as f:
                    raw = {k: f[k] for k in f.files}
            except (OSError, ValueError) as exc:
                raise DatasetError(f"corrupt synthetic cache file {path}: {exc}") from None
        else:
            rng = self._rng(index)
            scene = sample_scene(rng, self.num_classes)
            raw = render_scene(scene, self.img_size, self.num_parts, self.noise, rng)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npz")
                np.savez_compressed(tmp, **raw)
                tmp.replace(path)
        if self._memory is not None:
            self._memory[index] = raw
        return raw

    def __getitem__(self, index: int) -> dict[str, Any]:
        raw = self.render(int(index))
        image = raw["image"].astype(np.float32) / 255.0
        image = (image - IMAGENET_MEAN) / IMAGENET_STD
        sample: dict[str, Any] = {"image": torch.from_numpy(image.transpose(2, 0, 1).copy())}
        for t in self.tasks:
            a = raw[t]
            if t in ("semseg", "human_parts"):
                sample[t] = torch.from_numpy(a.astype(np.int64))
            elif t == "normals":
                sample[t] = torch.from_numpy(a.transpose(2, 0, 1).astype(np.float32))
            else:
                sample[t] = torch.from_numpy(a.astype(np.float32)[None])
        sample["meta"] = {
            "id": f"synthetic-{self.split}-{self.seed}-{index}",
            "index": int(index),
            "split": self.split,
            "seed": self.seed,
            "intrinsics": intrinsics(self.img_size),
        }
        return sample
