"""Training a style network: perceptual loss from a painting, distillation from a teacher, or both.

One :class:`Trainer` owns the network, the optimizer and the step count, so a checkpoint is just
those three and ``--resume`` continues exactly where it stopped.  The result is an fp16 state dict
with pytorch/examples key names plus a manifest entry saying how it was trained.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ContextManager

import cv2
import numpy as np
import torch
from tqdm import tqdm

from fdstyle_core.io.atomic import replaced_on_success
from fdstyle_core.engine.devices import device_label, resolve_device
from fdstyle_core.errors import FdstyleError
from fdstyle_core.engine.network import END_KERNELS, SIZE_MULTIPLE, Architecture, LiteNet, architecture_from_state_dict, build_network
from fdstyle_core.training.perceptual import DEFAULT_STYLE_SCALES, PerceptualLoss, StyleScale, parse_style_scales, relative_mse
from fdstyle_core.engine.manifest import find_entry, record_entry
from fdstyle_core.engine.styles import load_network, read_state_dict
from fdstyle_core.training.data import ContentBatches, list_images
from fdstyle_core.training.vgg import VGGFeatures, load_vgg
from fdstyle_core.io.video import read_image

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PREVIEW_MAX_SIDE = 512
CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    """Everything a run depends on; recorded in the checkpoint and (mostly) in the manifest entry."""

    content_dir: Path
    output: Path
    style_image: Path | None = None
    teacher: Path | None = None
    width: float = 1.0
    end_kernel: int = 0  # 0: the kind's usual one (END_KERNELS)
    residual_blocks: int = Architecture.residual_blocks
    kind: str = Architecture.kind
    steps: int = 20_000
    max_minutes: float = 0.0  # stop and export after this long (0 = no limit): fits a lent GPU's time
    batch_size: int = 8
    crop: int = 256
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 0.0
    distill_weight: float = 1.0
    style_scales: tuple[StyleScale, ...] = parse_style_scales(DEFAULT_STYLE_SCALES)
    style_size: int = 512
    vgg: str = "vgg19"
    vgg_arch: str | None = None
    vgg_input: str | None = None
    content_layer: str = "relu2_2"
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1")
    checkpoint_every: int = 1000
    resume: bool = False
    init: Path | None = None  # start from this style's weights with a fresh optimizer; its counts carry on
    run_dir: Path | None = None
    preview_image: Path | None = None
    preview_every: int = 500
    log_every: int = 20
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)  # display_name, title, artist, year, licence, variant_of
    default_for: tuple[str, ...] = ()  # the device classes that start with this style (all: the default)

    def __post_init__(self) -> None:
        if self.style_image is None and self.teacher is None:
            raise FdstyleError("give --style-image (a painting), --teacher (a style to distill), or both")
        if self.crop < 16 or self.crop % SIZE_MULTIPLE:
            raise FdstyleError(f"--crop must be a multiple of {SIZE_MULTIPLE} and at least 16")
        if self.steps < 1 or self.batch_size < 1:
            raise FdstyleError("--steps and --batch-size must be at least 1")
        if not self.lr > 0:  # also refuses nan
            raise FdstyleError("--lr must be > 0")
        if not self.max_minutes >= 0:  # also refuses nan
            raise FdstyleError("--max-minutes must be ≥ 0 (0 = no limit)")
        try:
            self.architecture  # noqa: B018 - building it checks the three values
        except ValueError as exc:
            raise FdstyleError(f"--network, --width, --end-kernel, --residual-blocks: {exc}") from None
        if self.precision not in PRECISIONS:
            raise FdstyleError(f"unknown precision '{self.precision}' (choose from {', '.join(PRECISIONS)})")
        if self.resume and self.init is not None:
            raise FdstyleError("--init starts from a style file and --resume from a checkpoint: give one of them")
        if self.output.suffix != ".pth":
            raise FdstyleError(f"output must be a .pth file, got {self.output}")
        if self.run_dir is None:
            self.run_dir = Path("runs") / self.output.stem

    @property
    def architecture(self) -> Architecture:
        return Architecture(self.width, self.end_kernel or END_KERNELS.get(self.kind, 0), self.residual_blocks, self.kind)


@dataclass
class TrainResult:
    output: Path
    start_step: int
    step: int
    images_seen: int
    images_per_second: float
    last_terms: dict[str, float]
    entry: dict[str, Any]


def _painting_tensor(path: Path, longer_side: int) -> torch.Tensor:
    image = read_image(path)
    if longer_side and max(image.shape[:2]) != longer_side:
        scale = longer_side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return torch.from_numpy(image).permute(2, 0, 1)[None].float()


def _preview_frame(path: Path) -> np.ndarray:
    """The preview photo, shrunk to at most PREVIEW_MAX_SIDE and cut to a multiple of 4."""
    image = read_image(path)
    scale = min(1.0, PREVIEW_MAX_SIDE / max(image.shape[:2]))
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    h, w = (d - d % SIZE_MULTIPLE for d in image.shape[:2])
    return np.ascontiguousarray(image[:h, :w])


def _one_line(exc: Exception) -> str:
    """The first line of an error from torch (its size-mismatch messages run to many lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _atomic_save(obj: Any, path: Path) -> None:
    """Write then rename, so an interrupted save never leaves a truncated checkpoint or model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_on_success(path) as tmp:
        torch.save(obj, tmp)


class Trainer:
    """The network being trained, its optimizer, its losses, and where it stands."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.model = build_network(config.architecture).to(self.device).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.amp_dtype = self._amp_dtype()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.teacher = load_network(config.teacher).to(self.device) if config.teacher else None
        self.vgg: VGGFeatures | None = None
        self.loss = self._perceptual_loss(config.style_image) if config.style_image else None
        self.step = 0
        self.images_seen = 0
        self.minutes_before = 0.0  # earlier runs' wall-clock time, from the checkpoint
        self.run_started = time.perf_counter()
        self.minutes_trained = 0.0  # all runs' wall-clock time, resumes included, for the manifest
        self.images_per_second = 0.0  # this run's speed, for the manifest
        photos = list_images(config.content_dir)
        self.preview_path = config.preview_image or photos[0]
        held_out = self.preview_path.resolve()
        self.train_paths = [p for p in photos if p.resolve() != held_out]

    def _amp_dtype(self) -> torch.dtype | None:
        precision = self.config.precision
        if self.device.type != "cuda":
            if precision in ("bf16", "fp16"):
                raise FdstyleError(f"--precision {precision} needs a CUDA device; this run is on {self.device.type}")
            return None
        if precision == "auto":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    def _perceptual_loss(self, style_image: Path) -> PerceptualLoss:
        c = self.config
        layers = sorted({c.content_layer, *c.style_layers})
        self.vgg = load_vgg(c.vgg, layers, arch=c.vgg_arch, convention=c.vgg_input).to(self.device)
        painting = _painting_tensor(style_image, c.style_size).to(self.device)
        return PerceptualLoss(
            self.vgg, painting, c.content_layer, list(c.style_layers), c.style_scales,
            c.content_weight, c.style_weight, c.tv_weight,
        ).to(self.device)

    def _autocast(self) -> ContextManager[Any]:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def loss_terms(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted loss terms of the current network on a uint8 NCHW batch."""
        content = batch.to(self.device, non_blocking=True).float()
        with self._autocast():
            output = self.model(content)
            terms = self.loss(output, content) if self.loss is not None else {}
            if self.teacher is not None:
                with torch.no_grad():
                    target = self.teacher(content).clamp(0, 255)
                terms["distill"] = self.config.distill_weight * relative_mse(output, target)
        return terms

    def train_step(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = self.loss_terms(batch)
        total = torch.stack([t.float() for t in terms.values()]).sum()
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        self.images_seen += batch.shape[0]
        return {**{k: v.detach() for k, v in terms.items()}, "total": total.detach()}

    @property
    def checkpoint_path(self) -> Path:
        assert self.config.run_dir is not None
        return self.config.run_dir / CHECKPOINT_NAME

    def save_checkpoint(self) -> None:
        _atomic_save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "step": self.step,
                "images_seen": self.images_seen,
                "minutes": self.minutes_before + (time.perf_counter() - self.run_started) / 60,
                "architecture": asdict(self.config.architecture),
            },
            self.checkpoint_path,
        )

    def load_checkpoint(self) -> None:
        path = self.checkpoint_path
        if not path.is_file():
            raise FdstyleError(f"nothing to resume: no checkpoint at {path}")
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
            saved = Architecture(**state["architecture"]) if "architecture" in state else Architecture(float(state["width"]))
            if saved != self.config.architecture:
                raise FdstyleError(f"{path} holds a network of {_describe(saved)}; this run asks for {_describe(self.config.architecture)}")
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if state["scaler"] and self.scaler.is_enabled():  # empty when saved by an fp32/bf16 run
                self.scaler.load_state_dict(state["scaler"])
            self.step, self.images_seen = int(state["step"]), int(state["images_seen"])
            self.minutes_before = float(state.get("minutes", 0.0))  # absent in older checkpoints
        except FdstyleError:
            raise
        except Exception as exc:  # truncated file, different network, foreign dict
            raise FdstyleError(f"cannot resume from {path}: {_one_line(exc)}") from None

    def start_from_style(self) -> None:
        """Begin with a trained style's weights, so a shipped style can be trained longer (its
        manifest entry's steps, images and minutes carry on, so the new entry counts them all),
        or shrunk into a faster network (see :func:`transplant`), which counts from zero."""
        path = self.config.init
        assert path is not None
        try:
            source = read_state_dict(path)
            shared = LiteNet.LAYERS_OF_JOHNSON if self.config.kind != architecture_from_state_dict(source).kind else ()
            self.model.load_state_dict(transplant(source, self.model.state_dict(), only=shared))
        except FdstyleError:
            raise
        except Exception as exc:  # a network that does not fit this one
            raise FdstyleError(f"cannot start from {path}: {_one_line(exc)}") from None
        if architecture_from_state_dict(source) != self.config.architecture:
            return
        entry = find_entry(path.parent, path.stem) or {}
        self.step, self.images_seen = int(entry.get("steps", 0)), int(entry.get("images_seen", 0))
        self.minutes_before = float(entry.get("minutes", 0.0))

    def stylize(self, image: np.ndarray) -> np.ndarray:
        """The current network's output for one RGB uint8 image (size a multiple of 4)."""
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                x = torch.from_numpy(image).permute(2, 0, 1)[None].to(self.device).float()
                y = self.model(x).float().clamp(0, 255)
        finally:
            self.model.train()
        return y[0].permute(1, 2, 0).round().to(torch.uint8).cpu().numpy()

    def save_preview(self) -> Path:
        """Input | output of the held-out photo, so a run can be judged while it goes."""
        assert self.config.run_dir is not None
        frame = _preview_frame(self.preview_path)
        path = self.config.run_dir / "previews" / f"step_{self.step:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        side_by_side = np.concatenate([frame, self.stylize(frame)], axis=1)
        if not cv2.imwrite(str(path), cv2.cvtColor(side_by_side, cv2.COLOR_RGB2BGR)):
            raise FdstyleError(f"cannot write preview {path}")
        return path

    def export(self) -> dict[str, Any]:
        """Write the fp16 style file and its manifest entry; returns the entry."""
        output = self.config.output
        state = {k: v.detach().to("cpu", torch.float16) for k, v in self.model.state_dict().items()}
        _atomic_save(state, output)
        read_state_dict(output)  # the file must load exactly as users will load it
        entry = self.manifest_entry()
        record_entry(output.parent, entry, self.config.default_for)
        return entry

    def manifest_entry(self) -> dict[str, Any]:
        """How this style was made: enough to check its licence and to train it again."""
        c = self.config
        teacher_entry = find_entry(c.teacher.parent, c.teacher.stem) if c.teacher else None
        painting_fields = ("display_name", "painting", "title", "artist", "year", "licence")  # the same style to a user
        inherited = {k: teacher_entry[k] for k in painting_fields if teacher_entry and k in teacher_entry}
        weights: dict[str, Any] = {}
        if self.loss is not None:
            weights |= {
                "content": c.content_weight, "style": c.style_weight, "tv": c.tv_weight,
                "style_scales": {str(s.factor): s.weight for s in c.style_scales},
            }
        if self.teacher is not None:
            weights["distill"] = c.distill_weight
        entry: dict[str, Any] = {
            "name": c.output.stem,
            "display_name": c.output.stem.replace("_", " ").title(),
            **inherited,
            **({"painting": c.style_image.name} if c.style_image else {}),
            **{k: v for k, v in c.metadata.items() if v not in (None, "")},
            "network": c.kind,
            "width": c.width,
            "end_kernel": c.architecture.end_kernel,
            "residual_blocks": c.residual_blocks,
            "teacher": c.teacher.name if c.teacher else None,
            **({"teacher_recipe": _recipe(teacher_entry)} if teacher_entry else {}),
            **({"started_from": c.init.name} if c.init else {}),
            "loss_network": (
                {"arch": self.vgg.arch, "file": Path(c.vgg).name, "input": self.vgg.convention.name}
                if self.vgg is not None else None
            ),
            "content_layer": c.content_layer if self.loss is not None else None,
            "style_layers": list(c.style_layers) if self.loss is not None else [],
            "style_size": c.style_size if self.loss is not None else None,
            "weights": weights,
            "steps": self.step,
            "batch_size": c.batch_size,
            "crop": c.crop,
            "lr": c.lr,
            "images_seen": self.images_seen,
            "data": {"content": c.content_dir.name, "images": len(self.train_paths), "held_out": self.preview_path.name},
            "seed": c.seed,
            "variant": "lite" if c.kind == "lite" else "full" if c.width >= 1 else "fast",
            "minutes": round(self.minutes_trained, 1),
            "images_per_second": round(self.images_per_second, 1),
            "machine": machine_description(self.device),
        }
        return entry

    def fit(self, progress: bool = True) -> TrainResult:
        """Train to ``config.steps`` (from the checkpoint with ``resume``) or until
        ``config.max_minutes`` have passed, then export."""
        c = self.config
        if c.resume:
            self.load_checkpoint()
        elif c.init is not None:
            self.start_from_style()
        start_step = self.step
        seed = int(np.random.SeedSequence([c.seed, start_step]).generate_state(1)[0])
        batches = ContentBatches(self.train_paths, c.crop, c.batch_size, seed)
        last: dict[str, float] = {}
        started, images_at_start = time.perf_counter(), self.images_seen
        self.run_started = started
        deadline = started + c.max_minutes * 60 if c.max_minutes else math.inf
        desc = f"train {c.output.stem} ({device_label(self.device)})"
        try:
            with tqdm(total=c.steps, initial=start_step, unit="step", desc=desc, file=sys.stderr, disable=not progress or None) as bar:
                while self.step < c.steps and time.perf_counter() < deadline:
                    terms = self.train_step(batches.next())
                    bar.update(1)
                    if self.step % c.log_every == 0 or self.step == c.steps:
                        last = {k: float(v) for k, v in terms.items()}
                        rate = (self.images_seen - images_at_start) / (time.perf_counter() - started)
                        bar.set_postfix({**{k: f"{v:.3g}" for k, v in last.items()}, "img/s": f"{rate:.1f}"}, refresh=False)
                        if not all(np.isfinite(list(last.values()))):
                            raise FdstyleError(f"loss became non-finite at step {self.step} (lower --lr or the weights)")
                    if c.checkpoint_every and self.step % c.checkpoint_every == 0:
                        self.save_checkpoint()
                    if c.preview_every and self.step % c.preview_every == 0:
                        self.save_preview()
        except KeyboardInterrupt:
            self.save_checkpoint()
            print(f"checkpoint saved at step {self.step}: add --resume to continue", file=sys.stderr)
            raise
        finally:
            batches.close()
        elapsed = time.perf_counter() - started
        self.minutes_trained = self.minutes_before + elapsed / 60
        self.images_per_second = (self.images_seen - images_at_start) / elapsed if elapsed > 0 else 0.0
        if self.step < c.steps:
            print(f"time is up after {c.max_minutes:g} min: exporting step {self.step} of {c.steps}", file=sys.stderr)
        if not (c.checkpoint_every and self.step % c.checkpoint_every == 0):
            self.save_checkpoint()
        if not (c.preview_every and self.step % c.preview_every == 0):
            self.save_preview()
        entry = self.export()
        return TrainResult(c.output, start_step, self.step, self.images_seen, self.images_per_second, last, entry)


def _describe(architecture: Architecture) -> str:
    a = architecture
    lite = " (lite)" if a.kind == "lite" else ""
    return f"width {a.width:g}, {a.end_kernel}×{a.end_kernel} end kernels, {a.residual_blocks} residual blocks{lite}"


def _recipe(entry: dict[str, Any]) -> dict[str, Any]:
    """A teacher's manifest entry as part of its student's: how to make the teacher again."""
    return {k: v for k, v in entry.items() if k not in ("default", "default_for")}


def _fold_kernel(weight: torch.Tensor, side: int) -> torch.Tensor:
    """A square kernel shrunk to ``side``: each tap outside the centre moves to the nearest tap
    inside it, so every filter keeps its sum (a flat area keeps its colour) and its coarse shape."""
    big, offset = weight.shape[-1], (weight.shape[-1] - side) // 2
    nearest = torch.arange(big).sub(offset).clamp(0, side - 1)
    folded = weight.new_zeros(*weight.shape[:2], side, side)
    for row in range(big):
        for col in range(big):
            folded[:, :, nearest[row], nearest[col]] += weight[:, :, row, col]
    return folded


def transplant(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], only: tuple[str, ...] = ()
) -> dict[str, torch.Tensor]:
    """``target``'s tensors taken from a trained network's ``source``, of the same width: the same
    shape is copied, a smaller end kernel gets the larger one folded in (:func:`_fold_kernel`), and
    residual blocks beyond the new count are left out.  A start for distilling a faster network
    from a style.  With ``only`` (layer names), the other layers keep ``target``'s values."""
    out = {}
    for key, like in target.items():
        if only and key.split(".")[0] not in only:
            out[key] = like
            continue
        tensor = source.get(key)
        if tensor is None:
            raise ValueError(f"it has no {key}: the new network may have fewer residual blocks, not more")
        if tensor.shape != like.shape and tensor.ndim == 4 and tensor.shape[:2] == like.shape[:2] and tensor.shape[-1] > like.shape[-1]:
            tensor = _fold_kernel(tensor, like.shape[-1])
        if tensor.shape != like.shape:
            raise ValueError(f"its {key} is {tuple(tensor.shape)}, the new network's {tuple(like.shape)} (another width?)")
        out[key] = tensor.to(like.dtype)
    return out


def machine_description(device: torch.device) -> str:
    """What trained a style, e.g. "cpu, 2 threads (x86_64)" or "cuda (NVIDIA H200)"."""
    if device.type == "cpu":
        return f"cpu, {torch.get_num_threads()} threads ({platform.machine()})"
    return device_label(device)


def train(config: TrainConfig, progress: bool = True) -> TrainResult:
    return Trainer(config).fit(progress)

