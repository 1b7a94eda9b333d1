"""The paper's mask: bit-exact against OpenCV, and the properties the method relies on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fdstyle_core.stabilizers.base import MaskParams, grey
from fdstyle_core.stabilizers.paper import PaperStabilizer, paper_mask
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.errors import FdstyleError
from tests.conftest import read_clip


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1)[None].float()


def opencv_mask(prev: np.ndarray, cur: np.ndarray, p: MaskParams) -> np.ndarray:
    """Independent reference: float grey as the mean of R,G,B, then cv2.dilate/cv2.erode (default border)."""
    g_prev = prev.astype(np.float32).mean(axis=2)
    g_cur = cur.astype(np.float32).mean(axis=2)
    background = (np.abs(g_cur - g_prev) <= p.threshold).astype(np.uint8)
    background = cv2.dilate(background, np.ones((p.dilate_kernel,) * 2, np.uint8), iterations=p.dilate_iters)
    return cv2.erode(background, np.ones((p.erode_kernel,) * 2, np.uint8), iterations=p.erode_iters)


PARAMS = [
    MaskParams(threshold=12, dilate_iters=2, dilate_kernel=3, erode_iters=5, erode_kernel=5),
    MaskParams(threshold=5, dilate_iters=4, dilate_kernel=3, erode_iters=3, erode_kernel=7),
    MaskParams(threshold=25, dilate_iters=1, dilate_kernel=5, erode_iters=0, erode_kernel=3),
    MaskParams(threshold=8, dilate_iters=0, dilate_kernel=3, erode_iters=2, erode_kernel=1),
]


@pytest.mark.parametrize("params", PARAMS)
def test_mask_equals_opencv_on_real_frames(data_dir: Path, params: MaskParams) -> None:
    # frames three apart: a walking person leaves foreground blobs that survive the closing
    frames = read_clip(data_dir / "videos" / "cdnet_office", 10, (360, 240), start=700)[::3]
    for prev, cur in zip(frames, frames[1:]):
        ours = paper_mask(grey(to_tensor(cur)), grey(to_tensor(prev)), params)[0, 0].numpy().astype(np.uint8)
        reference = opencv_mask(prev, cur, params)
        assert ours.shape == reference.shape
        assert np.array_equal(ours, reference), f"{(ours != reference).sum()} pixels differ"
        assert 0 < reference.mean() < 1, "the frames must contain both classes"


def test_grey_is_the_plain_mean_of_rgb() -> None:
    pixel = np.array([[[30, 60, 150]]], np.uint8)
    assert grey(to_tensor(pixel)).item() == pytest.approx(80.0)


def test_even_kernels_are_refused() -> None:
    with pytest.raises(FdstyleError, match="dilate kernel must be an odd number"):
        MaskParams(dilate_kernel=4)


frames_strategy = arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3)))
params_strategy = st.builds(
    MaskParams,
    threshold=st.floats(0, 300),
    dilate_iters=st.integers(0, 4),
    dilate_kernel=st.sampled_from([1, 3, 5]),
    erode_iters=st.integers(0, 4),
    erode_kernel=st.sampled_from([1, 3, 5]),
)


@settings(max_examples=60, deadline=None)
@given(frame=frames_strategy, data=st.data())
def test_threshold_255_keeps_every_pixel(frame: np.ndarray, data: st.DataObject) -> None:
    other = data.draw(arrays(np.uint8, frame.shape))
    params = data.draw(params_strategy).__class__(
        threshold=data.draw(st.floats(255, 1000)), dilate_iters=1, dilate_kernel=3, erode_iters=3, erode_kernel=5
    )
    mask = paper_mask(grey(to_tensor(other)), grey(to_tensor(frame)), params)
    assert bool((mask == 1).all())


@settings(max_examples=60, deadline=None)
@given(frame=frames_strategy, params=params_strategy)
def test_identical_frames_are_all_background(frame: np.ndarray, params: MaskParams) -> None:
    g = grey(to_tensor(frame))
    assert bool((paper_mask(g, g, params) == 1).all())


@settings(max_examples=60, deadline=None)
@given(frame=frames_strategy, data=st.data(), params=params_strategy)
def test_output_equals_previous_output_where_background(
    frame: np.ndarray, data: st.DataObject, params: MaskParams
) -> None:
    second = data.draw(arrays(np.uint8, frame.shape))
    stabilizer = PaperStabilizer(params)
    paints = iter([torch.full((1, 3, *frame.shape[:2]), 10.0), torch.full((1, 3, *frame.shape[:2]), 200.0)])
    first = stabilizer.step(to_tensor(frame), lambda _: next(paints)).output
    result = stabilizer.step(to_tensor(second), lambda _: next(paints))
    assert result.mask is not None
    keep = result.mask.bool().expand_as(result.output)
    assert torch.equal(result.output[keep], first[keep])
    assert bool((result.output[~keep] == 200.0).all())


# --- style strength and keep colours ---------------------------------------------------------


def _still_frames(data_dir: Path) -> list[np.ndarray]:
    image = cv2.cvtColor(cv2.imread(str(data_dir / "models" / "reference" / "amber.jpg")), cv2.COLOR_BGR2RGB)
    return [np.ascontiguousarray(image[:96, :128])] * 3


@pytest.mark.parametrize("mode", ["reference", "paper"])
def test_strength_zero_shows_the_camera_and_full_strength_the_painting(candy: Path, data_dir: Path, mode: str) -> None:
    frames = _still_frames(data_dir)
    camera = Pipeline(PipelineConfig(style=str(candy), mode=mode, strength=0.0))
    painting = Pipeline(PipelineConfig(style=str(candy), mode=mode))
    for frame in frames:
        assert np.abs(camera.process(frame).astype(int) - frame).max() <= 1
        assert np.abs(painting.process(frame).astype(int) - frame).mean() > 20


def test_keep_colours_keeps_the_cameras_chroma_and_the_paintings_brightness(candy: Path, data_dir: Path) -> None:
    frame = _still_frames(data_dir)[0]
    painted = Pipeline(PipelineConfig(style=str(candy), mode="perframe")).process(frame)
    kept = Pipeline(PipelineConfig(style=str(candy), mode="perframe", keep_colours=True)).process(frame)
    ycc = {name: cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(float) for name, image in
           (("camera", frame), ("painted", painted), ("kept", kept))}
    unclipped = (ycc["kept"][..., 0] > 5) & (ycc["kept"][..., 0] < 250)
    assert np.abs(ycc["kept"][..., 1:] - ycc["camera"][..., 1:])[unclipped].mean() < 4
    assert np.abs(ycc["kept"][..., 0] - ycc["painted"][..., 0])[unclipped].mean() < 4
    assert np.abs(ycc["painted"][..., 1:] - ycc["camera"][..., 1:]).mean() > 8  # candy does change colours
