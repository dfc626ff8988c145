"""What a dataset's shape decides before training: the box evaluation mode, and the
fallbacks when there is no good image (model selection, threshold, report reasons)."""
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from ppdet_wsd.data.ground_truth import GroundTruthImage
from ppdet_wsd.demo.synthetic import make_defect_dataset
from ppdet_wsd.engine.training import checkpointer as checkpointer_module
from ppdet_wsd.engine.training.checkpointer import WSDCheckpointer
from ppdet_wsd.metrics import image_level_report, operating_threshold, selection_score
from ppdet_wsd.metrics.box_mode import box_evaluation_mode
from ppdet_wsd.metrics.detection_metric import box_report
from ppdet_wsd.metrics.localization import coco_box_map
from ppdet_wsd.pipeline.box_truth import dataset_box_mode
from ppdet_wsd.pipeline.report import null_reasons


def truth(file, boxes, labels, size=100):
    return GroundTruthImage(file=file, boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                            labels=tuple(labels), height=size, width=size)


TYPED = {'a.png': truth('a.png', [[0, 0, 10, 10], [50, 50, 70, 70]], ['open', 'short']),
         'b.png': truth('b.png', [[20, 20, 40, 40]], ['open']),
         'g.png': truth('g.png', [], [])}


def test_the_mode_follows_the_box_categories():
    assert box_evaluation_mode(['open', 'short'], TYPED)['mode'] == 'class-aware'
    assert box_evaluation_mode(['open', 'short', 'spur'], TYPED)['mode'] == 'class-aware'
    coarse = box_evaluation_mode(['defect'], TYPED)
    assert coarse['mode'] == 'class-agnostic' and coarse['box_classes'] == ['open', 'short']
    assert "['open', 'short']" in coarse['reason']
    assert box_evaluation_mode(['defect'], None) == {
        'mode': 'none', 'reason': 'no annotations.json', 'box_classes': []}
    assert box_evaluation_mode(['x'], {'g.png': TYPED['g.png']})['mode'] == 'none'


def test_the_dataset_stage_never_fails_on_a_file_only_needed_to_measure(tmp_path):
    root = str(tmp_path / 'd')
    make_defect_dataset(root, {'good': 2, 'spot': 2}, image_size=32, seed=1)
    files = ['good_0000.png', 'spot_0001.png']
    assert dataset_box_mode(root, ['spot'], files)['mode'] == 'class-aware'
    assert dataset_box_mode(root, ['defect'], files)['mode'] == 'class-agnostic'
    missing = dataset_box_mode(root, ['spot'], files + ['new.png'])
    assert missing['mode'] == 'none' and '1 of the 3 test images' in missing['reason']
    open(os.path.join(root, 'annotations.json'), 'w').write('{not json')
    broken = dataset_box_mode(root, ['spot'], files)
    assert broken['mode'] == 'none' and 'not valid JSON' in broken['reason']


def test_class_agnostic_boxes_are_measured_per_true_type():
    hit_open = {'file': 'a.png', 'class': 'defect', 'box': [0, 0, 10, 10], 'score': 0.9}
    hit_b = {'file': 'b.png', 'class': 'defect', 'box': [20, 20, 40, 40], 'score': 0.8}
    result = coco_box_map([hit_open, hit_b], TYPED, ['defect'], class_agnostic=True)
    # 2 of 3 boxes found, both at the top of the ranking: AP = 2/3 over 101 recall points
    assert result['per_type_ap50'] == {'open': 1.0, 'short': 0.0}
    assert result['map50'] == pytest.approx(67 / 101)
    with pytest.raises(ValueError, match='class "open" is not one of'):
        coco_box_map([hit_open], TYPED, ['defect'])  # what issue 16 crashed on
    report = box_report([hit_open, hit_b], TYPED, ['defect'], 'class-agnostic')
    assert report['det_map50'] == report['det_map50_agnostic'] == result['map50']
    assert report['boxes']['per_type_ap50'] == {'open': 1.0, 'short': 0.0}
    assert box_report([hit_open], TYPED, ['defect'], 'none') == {'box_mode': 'none'}


NO_GOOD_LABELS = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], np.float32)
NO_GOOD_SCORES = np.array([[0.9, 0.2], [0.7, 0.6], [0.3, 0.8], [0.6, 0.7]], np.float32)


def test_without_good_images_the_defect_classes_decide():
    report = image_level_report(NO_GOOD_LABELS, NO_GOOD_SCORES, ['a', 'b'])
    assert report['image_auroc'] is None and report['image_ap'] is None
    assert report['overkill_rate'] is None and report['miss_rate'] == 0.0
    # class a: positives 0.9, 0.7, 0.6 vs negative 0.3 -> AUROC 1; class b: 0.8, 0.7 vs
    # 0.2, 0.6 -> AUROC 1
    assert report['mean_class_auroc'] == 1.0 and report['mean_class_ap'] == 1.0
    assert selection_score(report) == ('mean_class_ap', 1.0)
    assert selection_score({'image_ap': 0.4, 'mean_class_ap': 0.9}) == ('image_ap', 0.4)
    threshold, basis = operating_threshold(NO_GOOD_LABELS, NO_GOOD_SCORES.max(axis=1),
                                           NO_GOOD_SCORES)
    # pooled pairs: positives .9 .8 .7 .7 .6, negatives .6 .3 .2; from 0.7 recall 4/5 with
    # no false pair (J 0.8) beats 0.6 (recall 1, one false pair in 3: J 0.67); the threshold
    # is half-way between 0.7 and the next score below, 0.6
    assert basis == 'class pairs' and threshold == pytest.approx(0.65)
    assert operating_threshold([[1], [1]], [0.2, 0.9], [[0.2], [0.9]]) == (None, None)
    labels = [[1, 0], [0, 0]]
    assert operating_threshold(labels, [0.8, 0.1], [[0.8, 0.0], [0.1, 0.0]])[1] == 'images'


def _fake_trainer(save_dir):
    cfg = SimpleNamespace(save_dir=str(save_dir), filename='run', epoch=2, snapshot_epoch=1)
    return SimpleNamespace(cfg=cfg, model=SimpleNamespace(state_dict=lambda: {}),
                           use_ema=False, optimizer=None, _metrics=[])


def test_best_model_without_good_val_images_and_without_any_score(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(checkpointer_module, 'save_model',
                        lambda w, o, d, name, e, ema_model=None: saved.append(name))
    trainer = _fake_trainer(tmp_path)
    metric = SimpleNamespace(results={'image_ap': None, 'mean_class_ap': 0.6})
    metric.get_results = lambda: metric.results
    trainer._metrics = [metric]
    callback = WSDCheckpointer(trainer)
    callback.on_epoch_end({'mode': 'eval', 'epoch_id': 0, 'save_best_model': True})
    assert saved == ['best_model'] and callback.best == 0.6

    undefined = WSDCheckpointer(trainer)  # one class, every val image labelled with it
    metric.results = {'image_ap': None, 'mean_class_ap': None}
    undefined.on_epoch_end({'mode': 'eval', 'epoch_id': 1, 'save_best_model': True})
    os.makedirs(tmp_path / 'run', exist_ok=True)
    open(tmp_path / 'run' / 'model_final.pdparams', 'wb').write(b'final')
    undefined.on_train_end({'save_best_model': True})
    assert open(tmp_path / 'run' / 'best_model.pdparams', 'rb').read() == b'final'


def test_every_null_number_has_its_reason():
    profile = {'images': {'test': 5}, 'good_images_per_split': {'test': 0},
               'evaluation': {'mode': 'none', 'reason': 'no annotations.json'}}
    numbers = {'image_auroc': None, 'image_ap': None, 'overkill_rate': None, 'miss_rate': 0.2,
               'mean_class_auroc': 0.7, 'mean_class_ap': 0.8, 'det_map50': None,
               'cam_pxap': None}
    reasons = null_reasons(numbers, profile)
    assert reasons['image_auroc_reason'] == 'no good images in the test split'
    assert reasons['overkill_rate_reason'] == 'no good images in the test split'
    assert reasons['det_map50_reason'] == 'no box ground truth: no annotations.json'
    assert 'miss_rate_reason' not in reasons and 'mean_class_ap_reason' not in reasons
    json.dumps(reasons)
