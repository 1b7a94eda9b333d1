"""Metric functions on constructed cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fdstyle_core.evaluation import metrics
from fdstyle_core.stabilizers.optical_flow import consistent
from tests.synthetic import shifted, texture


def test_identical_frames_have_zero_flicker() -> None:
    frames = [texture()] * 4
    assert metrics.background_flicker(frames, frames) == 0.0
    assert metrics.flicker_per_frame(frames, frames) == [0.0, 0.0, 0.0]


def test_flicker_is_the_mean_change_on_static_pixels() -> None:
    inputs = [texture()] * 2
    outputs = [np.full_like(inputs[0], 100), np.full_like(inputs[0], 107)]
    assert metrics.background_flicker(inputs, outputs) == pytest.approx(7.0)


def test_flicker_ignores_pixels_near_foreground() -> None:
    inputs = [texture()] * 2
    outputs = [np.zeros_like(inputs[0]), np.zeros_like(inputs[0])]
    outputs[1][:, :10] = 50  # changes only on the left
    foreground = [np.zeros(inputs[0].shape[:2], bool) for _ in range(2)]
    foreground[1][:, :5] = True
    assert metrics.background_flicker(inputs, outputs) > 0
    assert metrics.background_flicker(inputs, outputs, foreground) == 0.0


def test_exact_flow_warps_a_known_shift_to_zero_error() -> None:
    before = texture()
    after = shifted(before, 3, 2)
    forward = np.zeros(before.shape[:2] + (2,), np.float32)
    forward[:] = (3, 2)
    valid = consistent(forward, -forward)
    # The strip the content came in from has no source: it must be excluded, the rest kept.
    assert not valid[:, -3:].any() and not valid[-2:, :].any() and valid[:-2, :-3].all()
    reference = metrics.WarpReference(forward, valid)
    unwarped = metrics.WarpReference(np.zeros_like(forward), valid)
    assert metrics.warp_error([before, after], [reference]) < 1e-7
    assert metrics.warp_error([before, after], [unwarped]) > 1e-3


def test_dis_flow_recovers_a_shift_for_e_warp() -> None:
    before = texture(seed=1)
    after = shifted(before, 4, -2)
    references = metrics.warp_references([before, after])
    assert references[0].valid.mean() > 0.5
    assert np.allclose(np.median(references[0].flow[references[0].valid], axis=0), (4, -2), atol=0.1)
    still = metrics.warp_error([before, before], metrics.warp_references([before, before]))
    assert metrics.warp_error([before, after], references) < 1e-4
    assert still == 0.0


def test_forward_backward_disagreement_is_occlusion() -> None:
    forward = np.zeros((20, 20, 2), np.float32)
    backward = np.zeros_like(forward)
    backward[5:10, 5:10] = (4, 0)  # the way back does not undo the way there
    valid = consistent(forward, backward)
    assert not valid[5:10, 5:10].any()
    assert valid[12:, 12:].all()


def test_motion_boundary_is_excluded() -> None:
    forward = np.zeros((20, 20, 2), np.float32)
    forward[:, 10:] = (1, 0)
    backward = -forward
    valid = consistent(forward, backward)
    assert not valid[:, 9:11].any()
    assert valid[:, :7].all()


def test_follow_ratio_one_for_perframe_zero_for_frozen() -> None:
    inputs = [texture(seed=s) for s in range(3)]
    perframe = [texture(seed=10 + s) for s in range(3)]
    assert metrics.follow_ratio(inputs, perframe, perframe) == pytest.approx(1.0)
    assert metrics.follow_ratio(inputs, [perframe[0]] * 3, perframe) == 0.0


def test_ghosting_on_uncovered_background() -> None:
    shape = (10, 10)
    foreground = [np.zeros(shape, bool) for _ in range(3)]
    foreground[1][2:4, 2:4] = True  # 4 pixels foreground at t=1, background again at t=2
    stylized = [np.full(shape + (3,), 100, np.uint8) for _ in range(3)]
    stale = [s.copy() for s in stylized]
    stale[2][2:4, 2:4] = 130  # the person's paint left behind
    kept = [None, np.ones(shape, bool), np.ones(shape, bool)]
    ghost = metrics.ghosting(stale, stylized, kept, foreground, recent=2)
    assert ghost.error == pytest.approx(30.0)
    assert ghost.stale == 1.0
    fresh = metrics.ghosting(stylized, stylized, [None] * 3, foreground, recent=2)
    assert (fresh.error, fresh.stale) == (0.0, 0.0)


def test_stale_means_not_repainted_since_the_person_left() -> None:
    """One row of 6 pixels, a person on pixels 0–3 at t=1..2, gone at t=3; known answer 5/8 stale."""
    shape = (1, 6)
    frames = 5
    foreground = [np.zeros(shape, bool) for _ in range(frames)]
    foreground[1][0, :4] = foreground[2][0, :4] = True
    kept = [None] + [np.ones(shape, bool) for _ in range(frames - 1)]
    kept[1][0, :4] = kept[2][0, :4] = False  # the person is painted while present
    kept[3][0, 0] = False  # pixel 0 repainted the frame the person left, then kept: not stale
    kept[4][0, 1] = False  # pixel 1 repainted one frame later: stale at t=3 only
    # pixel 2 is repainted at t=2 (still foreground) and kept since: stale; pixel 3 the same.
    stylized = [np.zeros(shape + (3,), np.uint8)] * frames
    ghost = metrics.ghosting(stylized, stylized, kept, foreground, recent=3)
    # uncovered: pixels 0–3 at t=3 and t=4 (8 pixel-frames); stale: 1@3, 2@3, 2@4, 3@3, 3@4
    assert ghost.stale == pytest.approx(5 / 8)
    assert metrics.ghosting(stylized, stylized, [None] * frames, foreground, recent=3).stale == 0.0


def test_seam_visibility_hard_cut_versus_feathered_blend() -> None:
    """Old and new paint differ by 60 grey levels; a hard cut at x=8 shows, an 8-px ramp far less."""
    width = 16
    fresh = np.full((4, width, 3), 100, np.uint8)
    fresh[:, :, 0] = np.arange(width) * 15  # texture: S_t's own gradient energy is 15² per pixel
    old = fresh.astype(np.int16) + 60
    kept = np.zeros((4, width), bool)
    kept[:, 8:] = True
    hard = np.where(kept[:, :, None], old, fresh).astype(np.uint8)
    ramp = np.clip((np.arange(width) - 4) / 8, 0, 1)[None, :, None]
    soft = (fresh + ramp * (old - fresh)).round().astype(np.uint8)
    assert metrics.seam_pixels(kept)[0].nonzero()[0].tolist() == [7, 8]
    hard_ratio = metrics.seam_visibility([hard], [fresh], [kept])
    soft_ratio = metrics.seam_visibility([soft], [fresh], [kept])
    # by hand: hard (45² + 2·30²)/15² = 17, soft ((15 + 7.5)² + 2·7.5²)/15² = 2.75
    assert hard_ratio == pytest.approx(17.0) and soft_ratio == pytest.approx(2.75, abs=0.1)
    assert metrics.seam_visibility([fresh], [fresh], [kept]) == pytest.approx(1.0)
    assert np.isnan(metrics.seam_visibility([fresh], [fresh], [None]))


def test_fidelity_measures_distance_to_fresh_stylization_where_input_moves() -> None:
    inputs = [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)]
    inputs[1][:4] = 200
    stylized = [np.full((8, 8, 3), 50, np.uint8)] * 2
    output = [stylized[0], stylized[1].copy()]
    output[1][:4] = 60
    output[1][4:] = 250  # static pixels do not count
    assert metrics.fidelity(inputs, output, stylized) == pytest.approx(10.0)


def test_cdnet_counts_follow_the_labels_and_roi() -> None:
    truth = np.array(
        [
            [255, 255, 255, 0],
            [0, 50, 50, 0],
            [85, 85, 170, 170],
            [255, 0, 0, 0],
        ],
        np.uint8,
    )
    predicted = np.array(
        [
            [1, 1, 0, 1],  # TP TP FN FP
            [0, 1, 0, 0],  # TN FP(shadow is background) TN TN
            [1, 1, 1, 1],  # ignored: outside ROI and unknown
            [1, 1, 0, 0],  # outside the ROI mask below: ignored
        ],
        bool,
    )
    roi = np.ones_like(predicted)
    roi[3] = False
    counts = metrics.Counts()
    counts.add(predicted, truth, roi)
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (2, 2, 1, 3)
    assert counts.recall == pytest.approx(2 / 3)
    assert counts.precision == pytest.approx(0.5)
    assert counts.f_measure == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert counts.pwc == pytest.approx(100 * 3 / 8)
    counts.add(predicted, truth, roi)  # counts sum over frames; the rates stay the same
    assert (counts.tp, counts.pwc) == (4, pytest.approx(37.5))
