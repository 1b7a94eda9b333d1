"""`python -m fdstyle_core train`: turn a painting into a style, or distill a slim style from a full one."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from fdstyle_core.engine.devices import DEVICE_CHOICES
from fdstyle_core.engine.manifest import DEVICE_CLASSES
from fdstyle_core.engine.network import KINDS
from fdstyle_core.cli.options import output_file
from fdstyle_core.training.perceptual import DEFAULT_STYLE_SCALES, parse_style_scales
from fdstyle_core.training.trainer import PRECISIONS, TrainConfig, train

# The defaults live in one place, the config; the options only show them.
_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}


def _default(name: str) -> object:
    return _DEFAULTS[name]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style-image", type=Path, help="the painting (optional with --teacher)")
    parser.add_argument("--content-dir", type=Path, required=True, help="folder of training photos")
    parser.add_argument("-o", "--output", type=output_file, required=True, help="style file to write, e.g. models/NAME.pth")
    parser.add_argument("--width", type=float, default=_default("width"), help="channel multiplier: 1 (full), 0.5, 0.25 (slim, for CPUs)")
    parser.add_argument(
        "--network", choices=KINDS, default=_default("kind"),
        help="johnson: Johnson et al.'s (pytorch/examples files); lite: pixel-block ends, depthwise blocks (for CPUs)",
    )
    parser.add_argument(
        "--end-kernel", type=int, default=_default("end_kernel"),
        help="kernel side of the first and last convolution (default: 9 for johnson, 3 for lite on pixel blocks)",
    )
    parser.add_argument("--residual-blocks", type=int, default=_default("residual_blocks"))
    parser.add_argument("--teacher", type=Path, help="distill from this style file (the student matches its output)")
    parser.add_argument("--steps", type=int, default=_default("steps"))
    parser.add_argument(
        "--max-minutes", type=float, default=_default("max_minutes"), help="stop and export after this long (0 = no limit)"
    )
    parser.add_argument("--batch-size", type=int, default=_default("batch_size"))
    parser.add_argument("--crop", type=int, default=_default("crop"), help="square training crop side (multiple of 4)")
    parser.add_argument("--lr", type=float, default=_default("lr"), help="Adam learning rate")
    parser.add_argument("--content-weight", type=float, default=_default("content_weight"))
    parser.add_argument("--style-weight", type=float, default=_default("style_weight"))
    parser.add_argument("--tv-weight", type=float, default=_default("tv_weight"), help="total-variation weight (0 = off)")
    parser.add_argument("--distill-weight", type=float, default=_default("distill_weight"), help="weight of matching --teacher")
    parser.add_argument(
        "--style-scales", default=DEFAULT_STYLE_SCALES,
        help="style loss at these downsampling factors, FACTOR:WEIGHT comma-separated",
    )
    parser.add_argument("--style-size", type=int, default=_default("style_size"), help="painting's longer side in px (0 = as is)")
    parser.add_argument("--vgg", default=_default("vgg"), help="VGG weights: .pth/.npz file, or vgg16/vgg19 to fetch torchvision's")
    parser.add_argument("--vgg-arch", choices=("vgg16", "vgg19"), help="override the architecture read from the weights")
    parser.add_argument("--vgg-input", choices=("torchvision", "caffe"), help="input normalization (default: caffe for .npz)")
    parser.add_argument("--content-layer", default=_default("content_layer"))
    parser.add_argument("--style-layers", default=",".join(TrainConfig.style_layers), help="comma-separated")
    parser.add_argument("--checkpoint-every", type=int, default=_default("checkpoint_every"), help="steps (0 = only at the end)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    parser.add_argument(
        "--init", type=Path,
        help="start from this style file's weights: train a style longer, or (with --teacher) shrink its end kernels or blocks",
    )
    parser.add_argument("--run-dir", type=Path, help="checkpoint and previews (default runs/NAME)")
    parser.add_argument("--preview-image", type=Path, help="held-out photo to render (default: first content photo, held out)")
    parser.add_argument("--preview-every", type=int, default=_default("preview_every"), help="steps (0 = only at the end)")
    parser.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="auto = bf16 (or fp16) on CUDA, fp32 elsewhere")
    parser.add_argument("--seed", type=int, default=_default("seed"))
    meta = parser.add_argument_group("manifest entry")
    meta.add_argument("--display-name")
    meta.add_argument("--title", help="the painting's title")
    meta.add_argument("--artist")
    meta.add_argument("--year")
    meta.add_argument("--licence", help="e.g. 'public domain'")
    meta.add_argument("--variant-of", help="the style this is another network of, for the same painting")
    meta.add_argument("--default", action="store_true", help="mark this style as the default one")
    meta.add_argument(
        "--default-for", action="append", choices=DEVICE_CLASSES, default=[], help="machines of this kind start with this style (repeatable)"
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        content_dir=args.content_dir,
        output=args.output,
        style_image=args.style_image,
        teacher=args.teacher,
        width=args.width,
        end_kernel=args.end_kernel,
        kind=args.network,
        residual_blocks=args.residual_blocks,
        steps=args.steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        crop=args.crop,
        lr=args.lr,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        distill_weight=args.distill_weight,
        style_scales=parse_style_scales(args.style_scales),
        style_size=args.style_size,
        vgg=args.vgg,
        vgg_arch=args.vgg_arch,
        vgg_input=args.vgg_input,
        content_layer=args.content_layer,
        style_layers=tuple(s.strip() for s in args.style_layers.split(",") if s.strip()),
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        init=args.init,
        run_dir=args.run_dir,
        preview_image=args.preview_image,
        preview_every=args.preview_every,
        device=args.device,
        precision=args.precision,
        seed=args.seed,
        metadata={k: getattr(args, k) for k in ("display_name", "title", "artist", "year", "licence", "variant_of")},
        default_for=DEVICE_CLASSES if args.default else tuple(args.default_for),
    )


def run(args: argparse.Namespace) -> int:
    result = train(config_from_args(args))
    terms = ", ".join(f"{k} {v:.3g}" for k, v in result.last_terms.items())
    print(
        f"wrote {result.output} (steps {result.start_step}→{result.step}, {result.images_seen} images seen, "
        f"{result.images_per_second:.1f} images/s; {terms})"
    )
    return 0
