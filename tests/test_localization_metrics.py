"""Localisation metrics and the evaluation-only ground-truth loader, on hand-computed cases."""
import json

import cv2
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from ppdet_wsd.data.ground_truth import GroundTruthImage, load_ground_truth
from ppdet_wsd.data.labels import DatasetError
from ppdet_wsd.demo.synthetic import make_defect_dataset
from ppdet_wsd.metrics.localization import (box_acc_at, box_acc_table, box_iou, coco_box_map,
                                            corloc, max_box_acc_v2, pxap)


def box_map(shape, *boxes, value=1.0):
    """float32 map of ``shape`` that is ``value`` inside the xyxy ``boxes``, 0 elsewhere."""
    heat = np.zeros(shape, np.float32)
    for x1, y1, x2, y2 in boxes:
        heat[y1:y2, x1:x2] = value
    return heat


# ----------------------------------------------------------------------------- box_iou

def test_box_iou_hand_values():
    a = [[0, 0, 10, 10], [0, 0, 0, 0]]
    b = [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]]
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    # overlap 5x10 = 50, union 100 + 100 - 50 = 150
    np.testing.assert_allclose(iou[0], [1 / 3, 1.0, 0.0])
    np.testing.assert_array_equal(iou[1], [0.0, 0.0, 0.0])  # no area: 0, not NaN
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


# ----------------------------------------------------------------------------- BoxAcc

def test_perfect_map_scores_100():
    gt = np.array([[4, 6, 12, 16]], np.float32)
    heat = box_map((20, 20), (4, 6, 12, 16))
    result = max_box_acc_v2([heat], [gt])
    assert result['maxboxacc_v2'] == 100.0
    assert result['per_iou'] == {0.3: 100.0, 0.5: 100.0, 0.7: 100.0}
    # foreground is strictly above the threshold: threshold 0 already boxes the blob exactly
    assert result['best_threshold'] == {d: 0.0 for d in (0.3, 0.5, 0.7)}


def test_shifted_map_is_right_only_at_iou_03():
    # gt 10x10 at the origin, map shifted 4 px right: overlap 6x10 = 60, union 140, IoU 3/7
    gt = np.array([[0, 0, 10, 10]], np.float32)
    heat = box_map((20, 20), (4, 0, 14, 10))
    result = max_box_acc_v2([heat], [gt])
    assert result['per_iou'] == {0.3: 100.0, 0.5: 0.0, 0.7: 0.0}
    assert result['maxboxacc_v2'] == pytest.approx(100 / 3)


def test_empty_map_boxes_nothing_at_any_threshold():
    # all zeros: no pixel is strictly above any threshold, so no box and no score
    # (an empty map cannot earn credit through a whole-image box)
    gt = np.array([[0, 0, 6, 6]], np.float32)
    heat = np.zeros((10, 10), np.float32)
    result = max_box_acc_v2([heat], [gt])
    assert result['per_iou'] == {0.3: 0.0, 0.5: 0.0, 0.7: 0.0}
    assert result['maxboxacc_v2'] == 0.0
    fixed = box_acc_at([heat], [gt], 0.5)
    assert fixed == {'box_acc': 0.0, 'per_iou': {0.3: 0.0, 0.5: 0.0, 0.7: 0.0},
                     'threshold': 0.5}


def test_several_instances_need_all_contours():
    # gt: a small box A and a box B; the map has an exact blob on A and a larger blob C
    # that touches no gt box. All contours finds A; the largest contour alone is C.
    gt = np.array([[2, 2, 6, 6], [14, 14, 18, 18]], np.float32)
    heat = box_map((24, 24), (2, 2, 6, 6), (12, 0, 24, 8))
    assert box_acc_at([heat], [gt], 0.5)['per_iou'] == {0.3: 100.0, 0.5: 100.0, 0.7: 100.0}
    largest = box_acc_at([heat], [gt], 0.5, all_contours=False)
    assert largest['per_iou'] == {0.3: 0.0, 0.5: 0.0, 0.7: 0.0}
    # the whole image (576 px) at threshold 0 is no rescue: IoU 16 / 576
    assert max_box_acc_v2([heat], [gt], all_contours=False)['maxboxacc_v2'] == 0.0


def test_images_are_averaged_and_may_differ_in_size():
    perfect = box_map((20, 20), (4, 6, 12, 16))
    shifted = box_map((20, 30), (4, 0, 14, 10))
    gts = [np.array([[4, 6, 12, 16]]), np.array([[0, 0, 10, 10]])]
    result = max_box_acc_v2([perfect, shifted], gts)
    assert result['per_iou'] == {0.3: 100.0, 0.5: 50.0, 0.7: 50.0}
    assert result['maxboxacc_v2'] == pytest.approx(200 / 3)
    table = box_acc_table([perfect, shifted], gts, cam_thresholds=[0.0, 0.5, 1.0])
    # 0 and 0.5 box both blobs exactly; at 1.0 nothing is strictly above -> no box
    np.testing.assert_array_equal(table, [[100, 50, 50], [100, 50, 50], [0, 0, 0]])


def test_box_acc_rejects_images_without_gt_boxes():
    heat = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match='image 1 has no gt box'):
        max_box_acc_v2([heat, heat], [[[0, 0, 4, 4]], np.zeros((0, 4))])
    with pytest.raises(ValueError, match='one gt box list per heat map'):
        max_box_acc_v2([heat], [])
    with pytest.raises(ValueError, match='IoU thresholds'):
        box_acc_at([heat], [[[0, 0, 4, 4]]], 0.5, iou_thresholds=(0.0,))


# ----------------------------------------------------------------------------- PxAP

def test_pxap_perfect_map_is_1():
    mask = box_map((20, 20), (4, 6, 12, 16)) > 0
    result = pxap([mask.astype(np.float32)], [mask])
    assert result == {'pxap': 1.0, 'pixel_auroc': 1.0}


def test_pxap_hand_case_pools_pixels_of_all_images():
    # pooled ranking 0.9 (defect), 0.6 (bg), 0.4 (defect), 0.1 (bg):
    # AP = 1/2 * 1 + 1/2 * 2/3 = 5/6; AUROC = 3 of 4 (defect, bg) pairs ordered = 0.75
    heatmaps = [np.array([[0.9, 0.6]]), np.array([[0.4, 0.1]])]
    masks = [np.array([[True, False]]), np.array([[True, False]])]
    result = pxap(heatmaps, masks)
    assert result['pxap'] == pytest.approx(5 / 6)
    assert result['pixel_auroc'] == pytest.approx(0.75)


def test_pxap_equals_sklearn_on_scores_already_in_bins():
    rng = np.random.default_rng(0)
    heatmaps = [(rng.integers(0, 1000, (6, 7)) + 0.5) / 1000 for _ in range(3)]
    masks = [rng.random((6, 7)) < h for h in heatmaps]  # informative, with ties
    expected = average_precision_score(np.concatenate([m.ravel() for m in masks]),
                                       np.concatenate([h.ravel() for h in heatmaps]))
    assert pxap(heatmaps, masks)['pxap'] == pytest.approx(expected)


def test_pxap_needs_a_defect_pixel_and_matching_shapes():
    with pytest.raises(ValueError, match='no defect pixel'):
        pxap([np.ones((2, 2))], [np.zeros((2, 2), bool)])
    with pytest.raises(ValueError, match='same'):
        pxap([np.ones((2, 2))], [np.ones((2, 3), bool)])
    assert pxap([np.ones((2, 2))], [np.ones((2, 2), bool)])['pixel_auroc'] is None


# ----------------------------------------------------------------------------- CorLoc

def test_corloc_hand_case():
    a, b, c = [0, 0, 10, 10], [20, 20, 30, 30], [0, 20, 10, 30]
    gt = [{'spot': [a]},
          {'spot': [b], 'crack': [c]},
          {},                                  # good image: no pair
          {'spot': np.zeros((0, 4))}]          # no box: no pair
    pred = [{'spot': ([[40, 40, 50, 50], a], [0.9, 0.5])},   # top box is wrong
            {'spot': ([[21, 20, 30, 30]], [0.7])},           # IoU 0.9: right; crack missed
            {'spot': ([a], [0.8])},
            {}]
    result = corloc(pred, gt)
    assert result == {'corloc': pytest.approx(1 / 3), 'num_pairs': 3,
                      'per_class': {'crack': 0.0, 'spot': 0.5}}
    assert corloc([{}], [{}]) == {'corloc': None, 'per_class': {}, 'num_pairs': 0}


# ----------------------------------------------------------------------------- COCO mAP

CLASSES = ['crack', 'scratch', 'spot']


def record(file, boxes=(), labels=(), loc_gt=True, size=40):
    return GroundTruthImage(file=file, boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                            labels=tuple(labels), height=size, width=size, loc_gt=loc_gt)


def ground_truth():
    """Two defect images, a good image and an image without usable ground truth."""
    return {'a.png': record('a.png', [[0, 0, 10, 10], [20, 20, 30, 36]], ['spot', 'scratch']),
            'b.png': record('b.png', [[5, 5, 15, 15]], ['spot']),
            'good.png': record('good.png'),
            'nogt.png': record('nogt.png', [[0, 0, 40, 40]], ['scratch'], loc_gt=False)}


def perfect_predictions():
    return [{'file': f, 'class': label, 'box': list(box), 'score': 1.0}
            for f, r in ground_truth().items() if r.loc_gt
            for box, label in zip(r.boxes, r.labels)]


def test_coco_perfect_predictions_score_1():
    result = coco_box_map(perfect_predictions(), ground_truth(), CLASSES)
    assert result['map50'] == pytest.approx(1.0) and result['map50_95'] == pytest.approx(1.0)
    assert result['per_class_ap50'] == {'crack': None, 'scratch': pytest.approx(1.0),
                                        'spot': pytest.approx(1.0)}
    assert (result['num_images'], result['num_gt_boxes'], result['num_predictions']) == (3, 3, 3)


def test_coco_iou_064_counts_at_05_to_06_only():
    # (0,0,8,8) vs (0,0,10,10): IoU 64 / 100 -> matched at IoU .50 .55 .60 of the ten
    gt = {'a.png': record('a.png', [[0, 0, 10, 10]], ['spot'])}
    preds = [{'file': 'a.png', 'class': 'spot', 'box': [0, 0, 8, 8], 'score': 0.9}]
    result = coco_box_map(preds, gt, CLASSES)
    assert result['map50'] == pytest.approx(1.0)
    assert result['map50_95'] == pytest.approx(0.3)


def test_coco_false_positive_on_a_good_image_lowers_ap():
    gt = {'a.png': record('a.png', [[0, 0, 10, 10]], ['spot']), 'good.png': record('good.png')}
    hit = {'file': 'a.png', 'class': 'spot', 'box': [0, 0, 10, 10], 'score': 0.5}
    # ranked FP (0.9) then TP: precision 1/2 at recall 1, interpolated 0.5 at every recall
    ranked_first = {'file': 'good.png', 'class': 'spot', 'box': [0, 0, 10, 10], 'score': 0.9}
    assert coco_box_map([hit, ranked_first], gt, CLASSES)['map50'] == pytest.approx(0.5)
    # ranked after the hit, the FP costs nothing
    ranked_last = dict(ranked_first, score=0.1)
    assert coco_box_map([hit, ranked_last], gt, CLASSES)['map50'] == pytest.approx(1.0)


def test_coco_no_predictions_is_zero_not_a_crash():
    result = coco_box_map([], ground_truth(), CLASSES)
    assert result['map50'] == 0.0 and result['map50_95'] == 0.0
    assert result['per_class_ap50'] == {'crack': None, 'scratch': 0.0, 'spot': 0.0}


def test_coco_images_without_loc_gt_are_left_out():
    # a confident false box on the loc_gt=false image changes nothing
    preds = perfect_predictions() + [
        {'file': 'nogt.png', 'class': 'spot', 'box': [0, 0, 5, 5], 'score': 2.0}]
    result = coco_box_map(preds, ground_truth(), CLASSES)
    assert result['map50'] == pytest.approx(1.0) and result['num_predictions'] == 3


def test_coco_class_agnostic_forgives_the_wrong_class():
    preds = [dict(p, **{'class': 'crack'}) for p in perfect_predictions()]
    per_class = coco_box_map(preds, ground_truth(), CLASSES)
    assert per_class['per_class_ap50'] == {'crack': None, 'scratch': 0.0, 'spot': 0.0}
    agnostic = coco_box_map(preds, ground_truth(), CLASSES, class_agnostic=True)
    assert agnostic['map50'] == pytest.approx(1.0)
    assert agnostic['per_class_ap50'] == {'defect': pytest.approx(1.0)}


def test_coco_rejects_unknown_files_and_classes():
    with pytest.raises(ValueError, match='not in the ground truth'):
        coco_box_map([{'file': 'x.png', 'class': 'spot', 'box': [0, 0, 1, 1], 'score': 1}],
                     ground_truth(), CLASSES)
    with pytest.raises(ValueError, match='"dent" is not one of'):
        coco_box_map([{'file': 'a.png', 'class': 'dent', 'box': [0, 0, 1, 1], 'score': 1}],
                     ground_truth(), CLASSES)


# ----------------------------------------------------------------------------- loader

def write_annotations(root, coco):
    path = root / 'annotations.json'
    path.write_text(coco if isinstance(coco, str) else json.dumps(coco))
    return path


def tiny_coco():
    return {'images': [{'id': 1, 'file_name': 'a.png', 'width': 8, 'height': 6},
                       {'id': 2, 'file_name': 'b.jpg', 'width': 8, 'height': 6},
                       {'id': 3, 'file_name': 'sub/c.png', 'width': 8, 'height': 6,
                        'loc_gt': False}],
            'annotations': [{'id': 1, 'image_id': 1, 'category_id': 7, 'bbox': [1, 2, 3, 2]},
                            {'id': 2, 'image_id': 1, 'category_id': 9, 'bbox': [0, 0, 8, 6]},
                            {'id': 3, 'image_id': 3, 'category_id': 7, 'bbox': [0, 0, 1, 1]}],
            'categories': [{'id': 7, 'name': 'spot'}, {'id': 9, 'name': 'crack'}]}


def test_load_ground_truth_reads_boxes_labels_and_masks(tmp_path):
    write_annotations(tmp_path, tiny_coco())
    mask = np.zeros((6, 8), np.uint8)
    mask[2:4, 1:4] = 255
    (tmp_path / 'masks').mkdir()
    assert cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), mask)
    gt = load_ground_truth(str(tmp_path))
    assert list(gt) == ['a.png', 'b.jpg', 'sub/c.png']
    a = gt['a.png']
    assert a.boxes.dtype == np.float32
    np.testing.assert_array_equal(a.boxes, [[1, 2, 4, 4], [0, 0, 8, 6]])
    assert a.labels == ('spot', 'crack') and (a.height, a.width, a.loc_gt) == (6, 8, True)
    np.testing.assert_array_equal(a.mask(), mask > 0)
    assert gt['b.jpg'].boxes.shape == (0, 4) and gt['b.jpg'].labels == ()
    assert gt['b.jpg'].mask() is None                # no mask file
    assert gt['sub/c.png'].loc_gt is False
    assert list(load_ground_truth(str(tmp_path), files=['b.jpg'])) == ['b.jpg']


def test_load_ground_truth_without_annotations_is_none(tmp_path):
    assert load_ground_truth(str(tmp_path)) is None


@pytest.mark.parametrize('broken, message', [
    ('{"images": [', 'not valid JSON'),
    ({'annotations': []}, '"images" list'),
    ({'images': [{'id': 1, 'file_name': 'a.png', 'width': 8}]}, r'images\[0\]: malformed'),
    ({'images': [{'id': 1, 'file_name': 'a.png', 'width': 8, 'height': 6, 'loc_gt': 'no'}]},
     r'images\[0\]: malformed'),
    ({'images': [{'id': 1, 'file_name': 'a.png', 'width': 8, 'height': 6}],
      'annotations': [{'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 1]}],
      'categories': [{'id': 1, 'name': 'spot'}]}, r'annotations\[0\]: malformed'),
    ({'images': [{'id': 1, 'file_name': 'a.png', 'width': 8, 'height': 6}],
      'annotations': [{'image_id': 2, 'category_id': 1, 'bbox': [0, 0, 1, 1]}],
      'categories': [{'id': 1, 'name': 'spot'}]}, 'unknown image_id 2'),
    ({'images': [{'id': 1, 'file_name': 'a.png', 'width': 8, 'height': 6},
                 {'id': 2, 'file_name': 'a.png', 'width': 8, 'height': 6}]}, 'listed twice'),
])
def test_load_ground_truth_errors_name_the_file(tmp_path, broken, message):
    path = write_annotations(tmp_path, broken)
    with pytest.raises(DatasetError, match=message) as err:
        load_ground_truth(str(tmp_path))
    assert str(path) in str(err.value)


def test_load_ground_truth_missing_file_and_bad_mask(tmp_path):
    write_annotations(tmp_path, tiny_coco())
    with pytest.raises(DatasetError, match='no image entry .* "zz.png"'):
        load_ground_truth(str(tmp_path), files=['a.png', 'zz.png'])
    (tmp_path / 'masks').mkdir()
    assert cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), np.zeros((5, 5), np.uint8))
    with pytest.raises(DatasetError, match='a.png: mask is 5x5'):
        load_ground_truth(str(tmp_path))['a.png'].mask()


def test_synthetic_dataset_round_trip(tmp_path):
    summary = make_defect_dataset(str(tmp_path), {'good': 2, 'spot': 2}, image_size=48)
    gt = load_ground_truth(str(tmp_path))
    assert len(gt) == 4 and sum(len(r.boxes) for r in gt.values()) == summary['num_boxes']
    defective = [r for r in gt.values() if len(r.boxes)]
    assert len(defective) == 2 and all(r.labels[0] == 'spot' for r in defective)
    for r in gt.values():
        mask = r.mask()
        assert mask.shape == (48, 48) and mask.any() == bool(len(r.boxes))
    # the masks as maps are perfect pixel maps; the boxes as detections are perfect
    assert pxap([r.mask().astype(np.float32) for r in defective],
                [r.mask() for r in defective])['pxap'] == 1.0
    preds = [{'file': r.file, 'class': c, 'box': b, 'score': 1.0}
             for r in defective for b, c in zip(r.boxes, r.labels)]
    assert coco_box_map(preds, gt, summary['categories'])['map50_95'] == pytest.approx(1.0)


def test_stage2_metrics_count_only_the_boxed_images():
    """Ground truth of the whole dataset, boxes for a split: images never boxed are not
    misses (the stage-2 benchmark loads annotations.json for every image)."""
    from ppdet_wsd.metrics.pseudo_box_report import localization_metrics
    truth = ground_truth()
    heat = np.zeros((40, 40), np.float32)
    heat[5:15, 5:15] = 1.0
    run = {'files': ['b.png', 'good.png'], 'labels': [('spot',), ()], 'heat': [heat, None],
           'boxes': [[{'class': 'spot', 'box': [5, 5, 15, 15], 'score': 0.9}], []]}
    result = localization_metrics(run, truth, CLASSES, all_contours=True, rule_threshold=0.5)
    assert result['map50'] == pytest.approx(1.0), 'a.png is not in the run: not a miss'
    assert result['images'] == 1 and result['maxboxacc_v2']['maxboxacc_v2'] == pytest.approx(100)
