"""BoxLabelDataSet: image labels from labels.csv plus boxes from a COCO file."""
import json

import numpy as np
import pytest

from ppdet_wsd.data.box_dataset import BoxLabelDataSet, boxes_as_truth
from ppdet_wsd.data.labels import DatasetError


def _dataset(root, boxes_file, **kwargs):
    dataset = BoxLabelDataSet(dataset_dir=root, boxes_file=boxes_file, **kwargs)
    dataset.check_or_download_dataset()
    dataset.parse_dataset()
    return dataset


def _coco(images, annotations, categories=('crack', 'scratch', 'spot')):
    return {'images': [{'id': i + 1, 'file_name': f, 'width': 64, 'height': 64}
                       for i, f in enumerate(images)],
            'annotations': [dict({'id': k + 1}, **a) for k, a in enumerate(annotations)],
            'categories': [{'id': i + 1, 'name': c} for i, c in enumerate(categories)]}


def _write(path, coco):
    path.write_text(json.dumps(coco))
    return str(path)


def _by_label(dataset):
    return {tuple(r['img_label']): r for r in dataset.roidbs}


def test_true_boxes_of_the_synthetic_dataset(tiny_dataset):
    dataset = _dataset(tiny_dataset, f'{tiny_dataset}/annotations.json')
    good = [r for r in dataset.roidbs if not r['img_label'].any()]
    bad = [r for r in dataset.roidbs if r['img_label'].any()]
    assert good and all(r['gt_bbox'].shape == (0, 4) for r in good)
    assert bad and all(len(r['gt_bbox']) >= 1 for r in bad)
    for r in bad:
        assert r['gt_bbox'].dtype == np.float32 and r['gt_class'].dtype == np.int32
        assert (r['gt_score'] == 1.0).all(), 'true boxes count fully'
        assert (r['img_label'][r['gt_class'].ravel()] == 1).all()
        assert (r['gt_bbox'][:, 2:] > r['gt_bbox'][:, :2]).all()


def test_pseudo_box_scores_min_score_and_classes_outside_the_label(tiny_dataset, tmp_path):
    train = _dataset(tiny_dataset, f'{tiny_dataset}/annotations.json')
    crack = next(r for r in train.roidbs if r['img_label'].tolist() == [1, 0, 0])
    name = crack['im_file'].split('/images/')[-1]
    coco = _coco([name], [
        {'image_id': 1, 'category_id': 1, 'bbox': [1, 2, 10, 5], 'score': 0.7},
        {'image_id': 1, 'category_id': 1, 'bbox': [30, 30, 4, 4], 'score': 0.05},
        {'image_id': 1, 'category_id': 3, 'bbox': [5, 5, 5, 5], 'score': 0.9}])  # spot: not labelled
    dataset = _dataset(tiny_dataset, _write(tmp_path / 'pseudo.json', coco), min_score=0.1)
    record = next(r for r in dataset.roidbs if r['im_file'] == crack['im_file'])
    assert record['gt_bbox'].tolist() == [[1, 2, 11, 7]]
    assert record['gt_class'].tolist() == [[0]] and record['gt_score'].ravel() == pytest.approx([0.7])
    others = [r for r in dataset.roidbs if r['im_file'] != crack['im_file']]
    assert others and all(len(r['gt_bbox']) == 0 for r in others), \
        'images missing from the file train as images without boxes'


def test_drop_unboxed_defective_keeps_good_images(tiny_dataset, tmp_path):
    path = _write(tmp_path / 'empty.json', _coco([], []))
    kept = _dataset(tiny_dataset, path)
    dropped = _dataset(tiny_dataset, path, drop_unboxed_defective=True)
    assert len(dropped.roidbs) == sum(not r['img_label'].any() for r in kept.roidbs)


@pytest.mark.parametrize('coco, message', [
    (_coco([], [], categories=('rust',)), r"categories \['rust'\]"),
    (_coco(['a.png'], [{'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 0, 3]}]), 'empty'),
    (_coco(['a.png'], [{'image_id': 9, 'category_id': 1, 'bbox': [0, 0, 2, 3]}]), r'annotations\[0\]'),
    ({'images': 'nope'}, 'not a COCO file'),
])
def test_bad_boxes_files_are_errors_naming_the_file(tiny_dataset, tmp_path, coco, message):
    path = _write(tmp_path / 'bad.json', coco)
    with pytest.raises(DatasetError, match=message) as err:
        _dataset(tiny_dataset, path)
    assert 'bad.json' in str(err.value)


def test_a_missing_boxes_file_is_a_clear_error(tiny_dataset, tmp_path):
    with pytest.raises(DatasetError, match='boxes file not found'):
        _dataset(tiny_dataset, str(tmp_path / 'nope.json'))
    with pytest.raises(DatasetError, match='needs boxes_file'):
        _dataset(tiny_dataset, None)


def test_an_epoch_is_every_defective_image_plus_a_fresh_draw_of_good_ones(tiny_dataset):
    dataset = _dataset(tiny_dataset, f'{tiny_dataset}/annotations.json', good_per_defective=0.5)
    good = {i for i, r in enumerate(dataset.roidbs) if not r['img_label'].any()}
    defective = set(range(len(dataset.roidbs))) - good
    draws = []
    for epoch in range(3):
        dataset.set_epoch(epoch)
        order = dataset.epoch_order.tolist()
        assert len(dataset) == len(order) == len(defective) + int(np.ceil(0.5 * len(defective)))
        assert defective <= set(order) and len(set(order)) == len(order)
        draws.append(set(order) & good)
    assert draws[0] != draws[1] or draws[1] != draws[2], 'a new draw each epoch'
    dataset.set_epoch(1)
    assert set(dataset.epoch_order.tolist()) & good == draws[1], 'seeded by epoch'
    dataset.good_per_defective = None
    assert dataset.epoch_indices(0).tolist() == list(range(len(dataset.roidbs)))


def test_training_boxes_can_be_the_truth_a_detector_is_measured_against(tmp_path):
    coco = _coco(['a.png', 'b.png'], [{'image_id': 1, 'category_id': 2, 'bbox': [1, 2, 3, 4],
                                       'score': 0.4}], categories=('crack', 'scratch'))
    truth = boxes_as_truth(_write(tmp_path / 'p.json', coco), ['crack', 'scratch'],
                           ['a.png', 'b.png', 'c.png'], [(10, 20), (30, 40), (5, 6)])
    assert truth['a.png'].boxes.tolist() == [[1, 2, 4, 6]] and truth['a.png'].labels == ('scratch',)
    assert (truth['a.png'].height, truth['a.png'].width) == (10, 20)
    assert truth['b.png'].boxes.shape == (0, 4) and truth['c.png'].labels == ()
    assert truth['c.png'].loc_gt and truth['c.png'].mask_path is None
