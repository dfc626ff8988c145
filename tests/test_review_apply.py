"""How a review reaches training: folded into the pseudo boxes, "no defect visible" images
left out by BoxLabelDataSet, the pseudo_boxes stage (only) redone, the review file kept."""
import json
import os

import numpy as np
import pytest

from review_fixture import make_review_case
from ppdet_wsd.data.box_dataset import BoxLabelDataSet
from ppdet_wsd.pipeline import records
from ppdet_wsd.pipeline.runner import plan_fingerprints, profile_dataset
from ppdet_wsd.pipeline.spec import load_pipeline_config
from ppdet_wsd.review.apply import apply_review
from ppdet_wsd.review.decisions import apply_decision
from ppdet_wsd.review.pseudo_file import coco_to_images, resolve_sources
from ppdet_wsd.review.refit import match_f1
from ppdet_wsd.review.store import empty_review, review_fingerprint
from ppdet_wsd_runtime.atomic import write_json_atomic
from conftest import REPO_ROOT


def _reviewed(pseudo_file, decisions):
    with open(pseudo_file) as f:
        coco = json.load(f)
    classes, images = coco_to_images(coco)
    by_file = {im['file']: im for im in images}
    review = empty_review()
    for d in decisions:
        apply_decision(review, by_file[d['file']], d, classes)
    return coco, review


def test_a_review_replaces_the_boxes_of_the_images_it_touched(tmp_path):
    pseudo, _ = make_review_case(str(tmp_path))
    coco, review = _reviewed(pseudo, [
        {'file': 'a.png', 'action': 'reject', 'box': 'p1'},
        {'file': 'a.png', 'action': 'redraw', 'box': 'p0', 'xyxy': [2, 2, 10, 10]},
        {'file': 'b.png', 'action': 'add', 'xyxy': [0, 0, 5, 5], 'class': 'spot'},
        {'file': 'sub/c.png', 'action': 'no_defect', 'value': True}])
    merged, summary = apply_review(coco, review)
    rows = [(a['id'], a['image_id'], a['category_id'], a['bbox'], a['score'], a.get('review'))
            for a in merged['annotations']]
    assert rows == [(1, 1, 1, [2.0, 2.0, 8.0, 8.0], 1.0, 'accepted'),
                    (2, 2, 2, [10.0, 10.0, 10.0, 10.0], 0.2, 'pending'),
                    (3, 2, 2, [0.0, 0.0, 5.0, 5.0], 1.0, 'accepted')]
    assert [im.get('review') for im in merged['images']] == \
        ['done', 'partial', 'no_defect', None, None]
    assert merged['info']['excluded_images'] == ['sub/c.png']
    assert summary == {'images_reviewed': 3, 'images_done': 2, 'no_defect_images': 1,
                       'boxes_reviewed': 3, 'boxes_accepted': 2, 'boxes_rejected': 1,
                       'boxes_redrawn': 1, 'boxes_relabelled': 0, 'boxes_added': 1,
                       'actions': 4, 'per_class': {'scratch': {'images': 2, 'boxes': 1},
                                                   'spot': {'images': 1, 'boxes': 1}}}
    assert merged['info']['review'] == summary and len(coco['annotations']) == 4, \
        'the input is not changed'


def _train_files(root, boxes_file):
    dataset = BoxLabelDataSet(dataset_dir=root, boxes_file=boxes_file)
    dataset.check_or_download_dataset()
    dataset.parse_dataset()
    return sorted(os.path.basename(r['im_file']) for r in dataset.roidbs)


def test_box_dataset_leaves_out_images_without_a_visible_defect(tiny_dataset, tmp_path):
    coco = {'annotations': [], 'images': [],
            'categories': [{'id': k + 1, 'name': c} for k, c in
                           enumerate(('crack', 'scratch', 'spot'))]}
    plain = tmp_path / 'plain.json'
    plain.write_text(json.dumps(coco))
    every = _train_files(tiny_dataset, str(plain))
    crack = next(f for f in every if f.startswith('crack'))
    reviewed = tmp_path / 'reviewed.json'
    reviewed.write_text(json.dumps(dict(coco, info={'excluded_images': [crack]})))
    assert _train_files(tiny_dataset, str(reviewed)) == [f for f in every if f != crack]


def test_match_f1_pairs_boxes_one_to_one_by_class_and_image():
    truth = [(0, 'a', [0, 0, 10, 10]), (0, 'a', [20, 20, 30, 30]), (1, 'b', [0, 0, 10, 10])]
    predicted = [(0, 'a', [0, 0, 10, 12]), (0, 'a', [1, 0, 10, 10]), (1, 'a', [0, 0, 10, 10])]
    # one match (image 0): the second prediction cannot match the same true box
    assert match_f1(predicted, truth, 0.5) == pytest.approx(2 * 1 / 6)
    assert match_f1(predicted, truth, 0.95) == 0.0
    assert match_f1([], [], 0.5) == 1.0


def test_the_review_redoes_only_the_pseudo_boxes_and_downstream(tiny_dataset, tmp_path):
    spec = load_pipeline_config(os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml'),
                                {'dataset_dir': tiny_dataset, 'output_dir': str(tmp_path / 'out')})
    profile = profile_dataset(spec)
    before = plan_fingerprints(spec, profile)
    path = tmp_path / 'out' / 'pseudo_boxes' / 'review.json'
    review = empty_review()
    write_json_atomic(str(path), review)
    first = plan_fingerprints(spec, profile)
    assert {s for s in before if before[s] != first[s]} == \
        {'pseudo_boxes', 'detector', 'evaluation', 'export'}
    image = {'file': 'x.png', 'width': 9, 'height': 9, 'boxes': []}
    apply_decision(review, image, {'action': 'no_defect', 'value': True}, ['crack'])
    write_json_atomic(str(path), review)
    second = plan_fingerprints(spec, profile)
    assert {s for s in first if first[s] != second[s]} == \
        {'pseudo_boxes', 'detector', 'evaluation', 'export'}
    review['actions'] += 5  # counters are not decisions
    write_json_atomic(str(path), review)
    assert plan_fingerprints(spec, profile) == second
    assert review_fingerprint(str(tmp_path / 'none.json')) is None


def test_a_redone_stage_keeps_the_review_file(tmp_path):
    stage = str(tmp_path / 'pseudo_boxes')
    records.start(stage, 'a')
    for name in ('review.json', 'pseudo_boxes.json'):
        open(os.path.join(stage, name), 'w').close()
    os.makedirs(os.path.join(stage, 'heat'))
    records.finish(stage, 'a', {})
    assert records.start(stage, 'b') is False
    assert sorted(os.listdir(stage)) == sorted([records.STARTED, 'review.json'])


def test_sources_from_an_output_folder_or_by_hand(tmp_path):
    pseudo, images = make_review_case(str(tmp_path))
    assert resolve_sources(str(tmp_path)) == (pseudo, images)
    unreviewed = os.path.join(os.path.dirname(pseudo), 'pseudo_boxes_unreviewed.json')
    os.link(pseudo, unreviewed)
    assert resolve_sources(str(tmp_path)) == (unreviewed, images)
    assert resolve_sources(None, pseudo, str(tmp_path)) == (pseudo, str(tmp_path))
    for args, message in [((None, None), 'give a pipeline output folder'),
                          ((str(tmp_path / 'x'),), 'no pseudo-box file'),
                          ((None, pseudo, str(tmp_path / 'nope')), 'no such image folder')]:
        with pytest.raises(ValueError, match=message):
            resolve_sources(*args)


class _Model:
    settings = {'extent': 0.5}


def test_the_extent_changes_only_when_clearly_better(monkeypatch):
    from types import SimpleNamespace
    from ppdet_wsd.review import refit
    truth_box = [0, 0, 10, 10]
    widths = {}  # extent -> predicted box width: IoU with the true box = width / 10

    def fake_results(model, store, images, image_root, desc):
        width = widths[model.settings['extent']]
        return [{'boxes': [{'class': 'a', 'box': [0, 0, width, 10]}]} for _ in images]
    monkeypatch.setattr(refit, 'evidence_results', fake_results)
    images = [SimpleNamespace(file='x.png')]
    truth = [(0, 'a', truth_box)]
    widths.update({0.3: 4, 0.4: 6, 0.5: 6, 0.6: 8, 0.7: 2, 0.8: 1})
    model = _Model()
    extent, scores = refit.choose_extent(model, None, images, '', truth)
    # F1 at IoU 0.3 / 0.5 / 0.7: width 6 -> 1, 1, 0; width 8 -> 1, 1, 1
    assert extent == 0.6 and scores[0.5] == pytest.approx(2 / 3) and scores[0.6] == 1.0
    assert model.settings['extent'] == 0.5, 'the model keeps its setting'
    widths.update({0.6: 6})
    assert refit.choose_extent(model, None, images, '', truth)[0] == 0.5, 'a tie keeps it'


def test_the_level_quantile_changes_only_when_clearly_better(monkeypatch):
    """The review chooses the false-alarm rate whose level keeps the accepted box and
    drops the region nobody accepted; the model keeps its own settings and levels."""
    from types import SimpleNamespace
    from ppdet_wsd.evidence.model import ANY_CLASS
    from ppdet_wsd.review import refit
    regions = {'a': ([0, 0, 10, 10], 92.0), 'b': ([50, 50, 60, 60], 85.0)}  # box, peak

    def fake_results(model, store, images, image_root, desc):
        level = model.levels[ANY_CLASS].level
        return [{'boxes': [{'class': 'a', 'box': box} for box, peak in regions.values()
                           if peak > level]} for _ in images]
    monkeypatch.setattr(refit, 'evidence_results', fake_results)
    negatives = {ANY_CLASS: [np.full((2, 2), v, np.float32) for v in range(100)]}
    model = SimpleNamespace(settings={'level_quantile': 0.95}, levels={'kept': True})
    images, truth = [SimpleNamespace(file='x.png')], [(0, 'a', regions['a'][0])]
    quantile, scores = refit.choose_level_quantile(model, None, images, '', truth, negatives)
    # levels 79.2 / 89.1 / 94.05 / 97.02 / 98.5: both regions, the true one, none, none, none
    assert quantile == 0.9 and scores[0.8] == pytest.approx(2 / 3) and scores[0.9] == 1.0
    assert scores[0.95] == scores[0.995] == 0.0
    assert model.settings == {'level_quantile': 0.95} and model.levels == {'kept': True}
    regions['b'] = ([50, 50, 60, 60], 95.0)  # now no quantile beats 0.95 by enough
    regions['a'] = ([0, 0, 10, 10], 96.0)
    assert refit.choose_level_quantile(model, None, images, '', truth, negatives)[0] == 0.95


def test_each_image_is_searched_once_during_the_refit():
    from types import SimpleNamespace
    from ppdet_wsd.review import refit
    calls = []

    class Bank:
        def distances(self, patches):
            calls.append(patches.shape)
            return patches.sum(axis=-1)
    model = SimpleNamespace(bank=Bank(), group_bank=Bank())
    patches = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    with refit._distances_once(model):
        first = model.bank.distances(patches)
        again = model.bank.distances(patches.copy())
        other = model.bank.distances(patches + 1)
        coarse = [model.group_bank.distances(patches) for _ in range(2)]   # its own memo
    assert calls == [(2, 3, 4)] * 3 and np.array_equal(first, again)
    assert np.array_equal(coarse[0], first) and np.array_equal(coarse[1], first)
    assert np.array_equal(other, (patches + 1).sum(axis=-1))
    model.bank.distances(patches)
    assert len(calls) == 4, 'outside the block every call searches'


def test_a_broken_review_file_stops_the_plan_naming_it(tiny_dataset, tmp_path):
    from ppdet_wsd.pipeline.runner import PipelineError
    spec = load_pipeline_config(os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml'),
                                {'dataset_dir': tiny_dataset, 'output_dir': str(tmp_path)})
    os.makedirs(tmp_path / 'pseudo_boxes')
    (tmp_path / 'pseudo_boxes' / 'review.json').write_text('{"format": "other"}')
    with pytest.raises(PipelineError, match='stage "pseudo_boxes": .*review.json: not a'):
        plan_fingerprints(spec, profile_dataset(spec))
