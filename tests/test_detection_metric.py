"""Detector metrics: verdicts (miss / over-kill) and COCO box mAP."""
import numpy as np
import pytest

from ppdet_wsd.data.ground_truth import GroundTruthImage
from ppdet_wsd.metrics.detection_metric import detection_report
from ppdet_wsd_runtime.detections import (class_box_scores, clip_boxes, fit_boxes_to_image,
                                          sharpen_small_boxes, split_detections)

CLASSES = ['crack', 'spot']


def det(rows):
    return np.asarray(rows, np.float32).reshape(-1, 6)


def truth(file, boxes, labels):
    return GroundTruthImage(file=file, boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                            labels=tuple(labels), height=100, width=100)


def test_split_detections_drops_ppdet_padding_rows():
    bbox = det([[0, 0.9, 1, 1, 5, 5], [-1, 0, 0, 0, 0, 0], [1, 0.5, 2, 2, 8, 8]])
    parts = split_detections(bbox, np.array([1, 1, 1]))
    assert [len(p) for p in parts] == [1, 0, 1]


def test_clip_boxes_to_the_image():
    d = det([[0, 0.9, -5, -2, 120, 50]])
    clip_boxes(d, height=40, width=100)
    assert d[0, 2:].tolist() == [0, 0, 100, 40]


def spot_image():
    grey = np.full((80, 80), 120.0)
    grey[30:35, 40:44] = 40.0  # a dark 4x5 spot
    return grey


def test_small_boxes_take_their_edges_from_the_image_within_half_a_stride():
    d = det([[0, 0.9, 37, 27, 47, 38],     # 10x11 around the spot: under 2 strides of 8
             [1, 0.5, 36, 26, 48, 39],     # 12x13: shrinks by at most 4 px a side
             [0, 0.4, 20, 20, 60, 50],     # 40x30: a large box keeps its edges
             [0, 0.3, 2, 2, 12, 12]])      # small, but nothing stands out in it
    sharpen_small_boxes(d, spot_image(), stride=8)
    assert d[:, 2:].tolist() == [[40, 30, 44, 35], [40, 30, 44, 35], [20, 20, 60, 50],
                                 [2, 2, 12, 12]]
    assert d[:, :2].ravel().tolist() == pytest.approx([0, 0.9, 1, 0.5, 0, 0.4, 0, 0.3])
    far = det([[0, 0.9, 32, 22, 52, 43]])  # 20x21: 2.5 strides of 8, but 1.25 of 16
    sharpen_small_boxes(far, spot_image(), stride=8)
    assert far[0, 2:].tolist() == [32, 22, 52, 43]
    sharpen_small_boxes(far, spot_image(), stride=16)
    assert far[0, 2:].tolist() == [40, 30, 44, 35]


def test_fit_boxes_to_image_clips_then_sharpens_in_image_pixels():
    rgb = np.repeat(spot_image()[..., None], 3, axis=2).astype(np.uint8)
    d = det([[0, 0.9, 38, 28, 47, 37], [1, 0.5, -5, 60, 90, 95]])
    fit_boxes_to_image(d, rgb, input_stride=8, scale_factor=[1.6, 1.6])   # 5 image pixels per stride
    assert d[:, 2:].tolist() == [[40, 30, 44.5, 35], [0, 60, 80, 80]], \
        'the 9x9 box moves in by at most 2.5 px a side; the large box is only clipped'
    wide = det([[0, 0.9, 37, 27, 47, 38]])                   # 10x11: not under 2 strides
    fit_boxes_to_image(wide, rgb, input_stride=8, scale_factor=[1.6, 1.6])
    assert wide[0, 2:].tolist() == [37, 27, 47, 38]


def test_class_box_scores_take_the_best_box_per_class():
    scores = class_box_scores([det([[0, 0.3, 0, 0, 1, 1], [0, 0.6, 0, 0, 1, 1]]), det([])], 2)
    assert scores.ravel().tolist() == pytest.approx([0.6, 0.0, 0.0, 0.0])


def test_verdicts_from_mil_or_detections_and_their_rates():
    labels = np.array([[1, 0], [0, 1], [0, 0], [0, 0]])
    im_scores = np.array([[0.9, 0.1], [0.2, 0.3], [0.1, 0.1], [0.7, 0.0]])
    detections = [det([]), det([[1, 0.8, 0, 0, 5, 5]]), det([[0, 0.2, 0, 0, 5, 5]]), det([])]
    report = detection_report(labels, im_scores, detections, CLASSES, threshold=0.5)
    assert report['miss_rate'] == 0.0, 'image 2 is found by its box, image 1 by MIL'
    assert report['overkill_rate'] == 0.5, 'image 4 is judged defective by MIL'
    assert report['verdict_sources']['mil']['miss_rate'] == 0.5
    assert report['verdict_sources']['detections']['miss_rate'] == 0.5
    assert report['verdict_sources']['detections']['overkill_rate'] == 0.0
    assert 'det_map50' not in report, 'no ground truth given: no box metrics'


def test_box_map_against_ground_truth():
    files = ['a.png', 'b.png', 'c.png']
    gt = {'a.png': truth('a.png', [[10, 10, 30, 30]], ['crack']),
          'b.png': truth('b.png', [[50, 50, 70, 60]], ['spot']),
          'c.png': truth('c.png', [], [])}
    perfect = [det([[0, 0.9, 10, 10, 30, 30]]), det([[1, 0.8, 50, 50, 70, 60]]), det([])]
    labels = np.array([[1, 0], [0, 1], [0, 0]])
    report = detection_report(labels, np.zeros((3, 2)), perfect, CLASSES, 0.5, files, gt)
    assert report['det_map50'] == pytest.approx(1.0) and report['det_map50_95'] == pytest.approx(1.0)
    swapped = [det([[1, 0.9, 10, 10, 30, 30]]), det([[0, 0.8, 50, 50, 70, 60]]), det([])]
    report = detection_report(labels, np.zeros((3, 2)), swapped, CLASSES, 0.5, files, gt)
    assert report['det_map50'] == pytest.approx(0.0)
    assert report['det_map50_agnostic'] == pytest.approx(1.0)
