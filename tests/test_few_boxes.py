"""The explicit few-boxes mode: thresholds from at most N boxed val images per class."""
from types import SimpleNamespace

import numpy as np
import pytest

from ppdet_wsd.cam import CAMResult
from ppdet_wsd.pseudo.few_boxes import (THRESHOLDS, attach_truth, choose_class_thresholds,
                                        pick_boxed_images)

CLASSES = ['crack', 'spot']


def _record(i, label, gt_labels=None, loc_gt=True):
    img_label = np.array([label == 'crack', label == 'spot'], np.float32)
    gt = None if gt_labels is None else SimpleNamespace(
        labels=tuple(gt_labels), loc_gt=loc_gt, boxes=np.array([[4, 4, 12, 12]] * len(gt_labels),
                                                               np.float32))
    return {'im_file': f'{i}.png', 'img_label': img_label, 'gt': gt}


def test_picks_at_most_n_per_class_only_with_usable_truth():
    records = [_record(0, 'crack', ['crack']), _record(1, 'crack', ['crack']),
               _record(2, 'crack', ['crack']), _record(3, 'crack', ['crack'], loc_gt=False),
               _record(4, 'spot', None), _record(5, 'spot', ['spot']), _record(6, None, [])]
    picked = pick_boxed_images(records, CLASSES, per_class=2, seed=0)
    assert len(picked[0]) == 2 and set(picked[0]) <= {0, 1, 2}
    assert picked[1] == [5]
    assert pick_boxed_images(records, CLASSES, 2, seed=0) == picked  # seeded


def test_chooses_the_threshold_that_boxes_the_truth():
    # the map: 1.0 on the true box (4..12), 0.42 on a halo (0..16); thresholds at or above
    # 0.42 box the truth exactly, lower ones box the halo (IoU 64/256 = 0.25)
    heat = np.zeros((1, 20, 20), np.float32)
    heat[0, 0:16, 0:16] = 0.42
    heat[0, 4:12, 4:12] = 1.0

    def stub_cam(image, classes):
        return CAMResult(heat[None], np.ones((1, 2), np.float32), classes)

    def identity_transforms(record):
        return dict(record, image=np.zeros((3, 20, 20), np.float32), im_shape=(20, 20), h=20, w=20)
    records = [_record(0, 'crack', ['crack'])]
    thresholds, used = choose_class_thresholds(stub_cam, identity_transforms, records, CLASSES, 5)
    assert used == 1 and set(thresholds) == {'crack'}, 'no boxed spot image: no spot threshold'
    assert thresholds['crack'] == pytest.approx(min(t for t in THRESHOLDS if t >= 0.42))


def test_needs_annotations(tmp_path):
    with pytest.raises(FileNotFoundError, match='few-boxes mode needs annotations.json'):
        attach_truth([], str(tmp_path), str(tmp_path))
