"""Model configuration: one dataclass, four presets, files and keyword overrides.

Dimensions are data, not code: every size the model, the exporter and the
hardware use comes from a :class:`ModelConfig`. Impossible configurations are
refused by :meth:`ModelConfig.validate` with a message naming the field.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Output channels of each task's head, as in M3ViT (semseg depends on the dataset).
TASK_CHANNELS: dict[str, int] = {
    "semseg": 21,  # PASCAL-Context; NYUD-v2 uses 40, Cityscapes 19
    "human_parts": 7,
    "sal": 1,
    "normals": 3,
    "edge": 1,
    "depth": 1,
}
KNOWN_TASKS = tuple(TASK_CHANNELS)

ROUTERS = ("multi", "task", "single")
"""Router kinds: one gate per task (M3ViT's "multi-gate", the published default),
a single gate fed with a learned task embedding concatenated to every token
("task"), or one gate shared by all tasks ("single")."""

#: (conv stages, upsampling steps) of M3ViT's up-head that are supported.
HEAD_LAYOUTS = ((4, 4), (2, 1))


class ConfigError(ValueError):
    """An impossible or malformed model configuration; the message names the field."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of an M3ViT model (backbone, MoE, routers and task heads).

    ``img_size`` is (H, W). ``moe_blocks`` lists the block indices whose MLP is a
    mixture of experts (M3ViT: the odd blocks). ``task_channels`` maps each
    task to its head's output channels.
    """

    name: str = "custom"
    img_size: tuple[int, int] = (224, 224)
    patch_size: int = 16
    in_chans: int = 3
    dim: int = 384
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    ln_eps: float = 1e-6
    moe_blocks: tuple[int, ...] | None = None
    num_experts: int = 16
    top_k: int = 4
    expert_hidden: int = 384
    router: str = "multi"
    task_embed_dim: int = 64
    renormalize_gates: bool = False
    gate_noise_std: float = 1.0
    balance_loss_weight: float = 0.01
    tasks: tuple[str, ...] = ("semseg",)
    task_channels: Mapping[str, int] = field(default_factory=dict)
    head_convs: int = 4
    head_upsamples: int = 4
    head_channels: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        # Normalise containers so configs from YAML/JSON compare equal to presets.
        set_ = object.__setattr__
        set_(self, "img_size", _pair(self.img_size, "img_size"))
        set_(self, "tasks", tuple(self.tasks) if not isinstance(self.tasks, str) else (self.tasks,))
        if self.moe_blocks is None:
            set_(self, "moe_blocks", tuple(i for i in range(int(self.depth)) if i % 2 == 1))
        else:
            set_(self, "moe_blocks", tuple(sorted(int(b) for b in self.moe_blocks)))
        channels = {t: TASK_CHANNELS[t] for t in self.tasks if t in TASK_CHANNELS}
        channels.update({str(k): int(v) for k, v in dict(self.task_channels).items()})
        set_(self, "task_channels", {t: channels[t] for t in self.tasks if t in channels})
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first impossible field."""
        for name in (
            "patch_size",
            "in_chans",
            "dim",
            "depth",
            "num_heads",
            "num_experts",
            "top_k",
            "expert_hidden",
            "head_channels",
            "task_embed_dim",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.dim % self.num_heads:
            raise ConfigError(f"dim={self.dim} is not divisible by num_heads={self.num_heads}")
        if not 1 <= self.top_k <= self.num_experts:
            raise ConfigError(
                f"top_k={self.top_k} must be between 1 and num_experts={self.num_experts}"
            )
        h, w = self.img_size
        if h % self.patch_size or w % self.patch_size:
            raise ConfigError(
                f"img_size={self.img_size} is not divisible by patch_size={self.patch_size}"
            )
        if self.mlp_ratio <= 0 or int(self.dim * self.mlp_ratio) < 1:
            raise ConfigError(f"mlp_ratio must be positive, got {self.mlp_ratio}")
        bad = [b for b in self.moe_blocks if not 0 <= b < self.depth]
        if bad or len(set(self.moe_blocks)) != len(self.moe_blocks):
            raise ConfigError(
                f"moe_blocks={list(self.moe_blocks)} must be distinct block indices "
                f"in 0..{self.depth - 1}"
            )
        if self.router not in ROUTERS:
            raise ConfigError(f"router={self.router!r} is not one of {list(ROUTERS)}")
        if not self.tasks:
            raise ConfigError("tasks must name at least one task")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"tasks={list(self.tasks)} has duplicates")
        for t in self.tasks:
            if t not in KNOWN_TASKS:
                raise ConfigError(f"unknown task name {t!r} in tasks; known: {list(KNOWN_TASKS)}")
        for t, c in self.task_channels.items():
            if int(c) < 1:
                raise ConfigError(f"task_channels[{t!r}] must be positive, got {c}")
        extra = set(self.task_channels) - set(self.tasks)
        if extra:
            raise ConfigError(f"task_channels names tasks not in tasks: {sorted(extra)}")
        if (self.head_convs, self.head_upsamples) not in HEAD_LAYOUTS:
            raise ConfigError(
                f"head_convs/head_upsamples=({self.head_convs}, {self.head_upsamples}) is not "
                f"a supported up-head layout; supported: {list(HEAD_LAYOUTS)}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.gate_noise_std < 0 or self.balance_loss_weight < 0:
            raise ConfigError("gate_noise_std and balance_loss_weight must be >= 0")

    # --------------------------------------------------------------- derived
    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid (rows, cols)."""
        return self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        """Patches plus the cls token."""
        return self.num_patches + 1

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.dim * self.mlp_ratio)

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    @property
    def gate_in_dim(self) -> int:
        """Width of the router input (tokens, plus the task embedding for ``router='task'``)."""
        return self.dim + (self.task_embed_dim if self.router == "task" else 0)

    def task_index(self, task: str | int) -> int:
        """Resolve a task given by name or index; clear error otherwise."""
        if isinstance(task, bool):
            raise ConfigError(f"task must be a name or an index, got {task!r}")
        if isinstance(task, int):
            if not 0 <= task < self.num_tasks:
                raise ConfigError(f"task index {task} out of range for tasks {list(self.tasks)}")
            return task
        if task not in self.tasks:
            raise ConfigError(f"unknown task {task!r}; this model has tasks {list(self.tasks)}")
        return self.tasks.index(task)

    # ------------------------------------------------------------ conversion
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["img_size"] = list(self.img_size)
        d["moe_blocks"] = list(self.moe_blocks)
        d["tasks"] = list(self.tasks)
        d["task_channels"] = dict(self.task_channels)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        data = dict(data)
        base = data.pop("preset", None)
        if base is not None:
            return PRESETS_BY_NAME(base).replace(**data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def replace(self, **overrides: Any) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
        if "depth" in overrides and "moe_blocks" not in overrides:
            overrides["moe_blocks"] = None  # recompute the odd blocks for the new depth
        if "tasks" in overrides and "task_channels" not in overrides:
            tasks = overrides["tasks"]
            tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
            overrides["task_channels"] = {t: c for t, c in self.task_channels.items() if t in tasks}
        return dataclasses.replace(self, **overrides)


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    try:
        h, w = value
        return (int(h), int(w))
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an int or a pair (H, W), got {value!r}") from None


PRESETS: dict[str, ModelConfig] = {
    # Tiny and non-square, for tests: 3x4 patches + cls = 13 tokens.
    "tiny": ModelConfig(
        name="tiny",
        img_size=(48, 64),
        dim=32,
        depth=4,
        num_heads=2,
        num_experts=4,
        top_k=2,
        expert_hidden=64,
        tasks=("semseg", "depth"),
        task_channels={"semseg": 5},
        head_channels=16,
    ),
    # Edge-MoE's model (ICCAD 2023): Cityscapes-sized input, semseg (19) + depth.
    "edgemoe-t": ModelConfig(
        name="edgemoe-t",
        img_size=(128, 256),
        dim=192,
        depth=12,
        num_heads=3,
        num_experts=16,
        top_k=2,
        expert_hidden=384,
        tasks=("semseg", "depth"),
        task_channels={"semseg": 19},
    ),
    # M3ViT-S on PASCAL-Context, five tasks.
    "m3vit-s-pascal": ModelConfig(
        name="m3vit-s-pascal",
        img_size=(512, 512),
        dim=384,
        depth=12,
        num_heads=12,
        num_experts=16,
        top_k=4,
        expert_hidden=384,
        tasks=("semseg", "human_parts", "sal", "normals", "edge"),
    ),
    # M3ViT-S on NYUD-v2, semseg (40) + depth.
    "m3vit-s-nyud": ModelConfig(
        name="m3vit-s-nyud",
        img_size=(480, 640),
        dim=384,
        depth=12,
        num_heads=12,
        num_experts=16,
        top_k=4,
        expert_hidden=384,
        tasks=("semseg", "depth"),
        task_channels={"semseg": 40},
    ),
}


def PRESETS_BY_NAME(name: str) -> ModelConfig:  # noqa: N802 - reads like a table lookup
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; presets: {list(PRESETS)}") from None


def get_config(spec: str | Path | Mapping[str, Any] | ModelConfig, **overrides: Any) -> ModelConfig:
    """Resolve a preset name, a YAML/JSON file, a dict or a config, then apply overrides.

    A file or dict may name a base with ``preset: NAME`` and override any field.
    """
    if isinstance(spec, ModelConfig):
        cfg = spec
    elif isinstance(spec, Mapping):
        cfg = ModelConfig.from_dict(spec)
    elif isinstance(spec, str) and spec in PRESETS:
        cfg = PRESETS[spec]
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(
                f"{str(spec)!r} is neither a preset ({', '.join(PRESETS)}) nor a config file"
            )
        text = path.read_text()
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot parse config file {path}: {exc}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"config file {path} must hold a mapping of fields")
        cfg = ModelConfig.from_dict(data)
    return cfg.replace(**overrides) if overrides else cfg
