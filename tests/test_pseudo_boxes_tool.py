"""gen_pseudo_boxes' engine: COCO output, review gallery, and resuming after a crash."""
import json
import os

import numpy as np
import pytest
from ppdet.core.workspace import AttrDict

from ppdet_wsd.data.image_label_dataset import ImageLabelDataSet
from ppdet_wsd.engine.prediction import cam_boxes as engine
from ppdet_wsd.pseudo.generator import CAMPseudoBoxGenerator
from tiny_models import tiny_classifier

READER = [{'DecodeImage': {}}, {'Resize': {'target_size': [32, 32], 'keep_ratio': False}},
          {'NormalizeImage': {'mean': [0.5] * 3, 'std': [0.5] * 3, 'is_scale': True}},
          {'Permute': {}}]


@pytest.fixture
def setup(tiny_dataset, tmp_path):
    dataset = ImageLabelDataSet(dataset_dir=tiny_dataset, split=None)
    dataset.parse_dataset()
    cfg = AttrDict(EvalReader={'sample_transforms': READER, 'batch_size': 4},
                   weights='w')
    model = tiny_classifier(num_classes=3)
    model.eval()
    # a generator that boxes whatever is above 10% of each map: some boxes for every label
    generator = CAMPseudoBoxGenerator(threshold=0.1, min_area_frac=0.0)
    return model, cfg, dataset, generator, str(tmp_path / 'out')


def test_writes_coco_with_every_image_scores_labels_and_a_gallery(setup):
    model, cfg, dataset, generator, out = setup
    path = engine.generate_pseudo_boxes(model, cfg, dataset, dataset.classes, generator, out,
                                        chunk_size=8, num_review=6)
    coco = json.load(open(path))
    assert len(coco['images']) == 30
    assert [c['name'] for c in coco['categories']] == ['crack', 'scratch', 'spot']
    by_image = {}
    for a in coco['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
        assert 0.0 <= a['score'] <= 1.0 and a['bbox'][2] > 0 and a['bbox'][3] > 0
    for image in coco['images']:
        labels = image['image_labels']
        boxes = by_image.get(image['id'], [])
        assert set(image['class_scores']) == {'crack', 'scratch', 'spot'}
        if not labels:
            assert boxes == [], 'good images are present but get no box'
        names = {coco['categories'][a['category_id'] - 1]['name'] for a in boxes}
        assert names <= set(labels), 'never a class the image label excludes'
    assert coco['info']['few_boxes_used'] == 0
    html = open(os.path.join(out, 'review', 'index.html')).read()
    pictures = [f for f in os.listdir(os.path.join(out, 'review')) if f.endswith('.png')]
    assert len(pictures) == 6 and all(p in html for p in pictures)
    assert not os.path.exists(os.path.join(out, engine.PARTS))


def test_a_crash_keeps_finished_chunks_and_the_rerun_skips_them(setup, monkeypatch):
    model, cfg, dataset, generator, out = setup
    real_chunk = engine._chunk_records
    calls = []

    def crash_on_third(*args, **kwargs):
        calls.append(len(args[3]))
        if len(calls) == 3:
            raise RuntimeError('killed mid-run')
        return real_chunk(*args, **kwargs)
    monkeypatch.setattr(engine, '_chunk_records', crash_on_third)
    with pytest.raises(RuntimeError, match='killed'):
        engine.generate_pseudo_boxes(model, cfg, dataset, dataset.classes, generator, out,
                                     chunk_size=8, num_review=0)
    assert not os.path.exists(os.path.join(out, 'pseudo_boxes.json'))
    finished = sorted(f for f in os.listdir(os.path.join(out, engine.PARTS)) if f[0].isdigit())
    assert finished == ['000000.json', '000001.json']
    calls.clear()
    path = engine.generate_pseudo_boxes(model, cfg, dataset, dataset.classes, generator, out,
                                        chunk_size=8, num_review=0)
    assert calls == [8, 6], 'only the unfinished chunks run again'
    resumed = json.load(open(path))
    monkeypatch.setattr(engine, '_chunk_records', real_chunk)
    fresh = json.load(open(engine.generate_pseudo_boxes(
        model, cfg, dataset, dataset.classes, generator, out + '_fresh', chunk_size=8,
        num_review=0)))
    assert resumed['annotations'] == fresh['annotations']


def test_changed_settings_discard_old_parts(setup, monkeypatch):
    model, cfg, dataset, generator, out = setup
    parts = os.path.join(out, engine.PARTS)
    os.makedirs(parts)
    with open(os.path.join(parts, 'settings.json'), 'w') as f:
        json.dump({'fingerprint': 'other settings'}, f)
    with open(os.path.join(parts, '000000.json'), 'w') as f:
        json.dump([{'stale': True}], f)
    path = engine.generate_pseudo_boxes(model, cfg, dataset, dataset.classes, generator, out,
                                        chunk_size=8, num_review=0)
    assert len(json.load(open(path))['images']) == 30
    np.testing.assert_equal(os.path.exists(parts), False)
