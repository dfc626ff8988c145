"""The pseudo-box stage folds a review in: stage 1 fitted once on the tiny dataset, the
stage run before and after decisions made through the review server."""
import json
import os

import pytest

from conftest import REPO_ROOT
from ppdet_wsd.pipeline import records
from ppdet_wsd.pipeline.evidence_stages import run_classifier, run_pseudo_boxes
from ppdet_wsd.pipeline.spec import load_pipeline_config
from ppdet_wsd.review.server import create_app


def _task(spec, stage):
    return {'spec': spec, 'dataset_dir': spec['dataset_dir'], 'output_dir': spec['output_dir'],
            'stage_dir': os.path.join(spec['output_dir'], stage)}


@pytest.mark.slow
def test_the_pseudo_box_stage_folds_the_review_in(tiny_dataset, tmp_path):
    spec = load_pipeline_config(os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml'), {
        'dataset_dir': tiny_dataset, 'output_dir': str(tmp_path / 'out'),
        'classifier': {'opts': {'PatchEvidence': {'mil_epochs': 8}}}})
    run_classifier(_task(spec, 'classifier'))
    task = _task(spec, 'pseudo_boxes')
    first = run_pseudo_boxes(task)
    assert first['few_boxes_used'] == 0 and first['review'] is None
    folder = task['stage_dir']
    with open(os.path.join(folder, 'pseudo_boxes.json')) as f:
        before = json.load(f)
    labelled = [im for im in before['images'] if im['image_labels']]
    assert all(os.path.isfile(os.path.join(folder, im['heat_map'])) for im in labelled)
    assert not any('heat_map' in im for im in before['images'] if not im['image_labels'])

    client = create_app(os.path.join(folder, 'pseudo_boxes.json'), tiny_dataset + '/images') \
        .test_client()
    queue = client.get('/api/state').get_json()['images']
    boxed = [im for im in queue if im['boxes']]
    for im in boxed[:3]:
        assert client.post('/api/decision', json={'file': im['file'],
                                                  'action': 'accept_all'}).status_code == 200
    x1, y1, x2, y2 = boxed[3]['boxes'][0]['box']
    client.post('/api/decision', json={'file': boxed[3]['file'], 'action': 'redraw',
                                       'box': 'p0', 'xyxy': [x1 + 1, y1 + 1, x2, y2]})
    client.post('/api/decision', json={'file': boxed[4]['file'], 'action': 'reject', 'box': 'p0'})
    client.post('/api/decision', json={'file': boxed[5]['file'], 'action': 'no_defect',
                                       'value': True})

    records.start(folder, 'another fingerprint')  # the runner redoes the stage: review kept
    second = run_pseudo_boxes(task)
    assert second['few_boxes_used'] == 6
    review = second['review']
    assert (review['images_reviewed'], review['no_defect_images'], review['boxes_redrawn'],
            review['boxes_rejected']) == (6, 1, 1, 1)
    assert review['refit']['refitted'] and review['refit']['images'] == 4
    assert review['refit']['extent'] in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    assert review['refit']['level_quantile'] in (0.8, 0.9, 0.95, 0.98, 0.995)
    assert set(review['refit']['scores']) == {'level_quantile', 'extent'}
    with open(os.path.join(folder, 'pseudo_boxes.json')) as f:
        after = json.load(f)
    with open(os.path.join(folder, 'pseudo_boxes_unreviewed.json')) as f:
        unreviewed = json.load(f)
    assert after['info']['excluded_images'] == [boxed[5]['file']]
    assert after['info']['few_boxes_used'] == 6 and after['info']['refit'] == review['refit']
    ids = {im['file_name']: im['id'] for im in after['images']}
    mine = [a for a in after['annotations'] if a['image_id'] == ids[boxed[3]['file']]]
    assert [(a['bbox'][0], a['score'], a['review']) for a in mine][0] == (x1 + 1, 1.0, 'accepted')
    for im in boxed[:3]:
        scores = [a['score'] for a in after['annotations'] if a['image_id'] == ids[im['file']]]
        assert scores == [1.0] * len(im['boxes'])
    assert not [a for a in after['annotations'] if a['image_id'] == ids[boxed[5]['file']]]
    untouched = {ids[im['file_name']] for im in after['images']} - \
        {ids[im['file']] for im in boxed[:6]}

    def rows(coco):
        return [(a['image_id'], a['category_id'], a['bbox'], a['score'])
                for a in coco['annotations'] if a['image_id'] in untouched]
    assert rows(after) == rows(unreviewed), 'images nobody reviewed keep their pseudo boxes'
