"""The default pipeline end to end on a matrix of dataset shapes, each a tiny synthetic
dataset (three runs cover eight shapes):

* coarse: labels good / defect while the boxes carry types, images of mixed sizes and
  aspect ratios (64x64 squares beside 64x320 strips), no splits.csv;
* no good: no good image at all, multi-label images, boxes of the label classes;
* folders: class folders, one defect class, no annotations.json.

Each report's numbers are checked against the per-image outputs the stages wrote (or
null with the reason), not against ranges.
"""
import json
import os
import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ppdet_wsd.demo.synthetic import make_defect_dataset
from ppdet_wsd.pipeline.runner import PipelineError, profile_dataset
from ppdet_wsd.pipeline.spec import load_pipeline_config
from test_pipeline_run import tiny_pipeline
from tool_runner import failing_tool, run_tool

BOX_KEYS = ('cam_maxboxacc_v2', 'cam_pxap', 'pseudo_map50', 'det_map50', 'det_map50_95')


def relabel(root, label_of):
    """Rewrite ``labels.csv`` with ``label_of(old label)`` for every row."""
    path = os.path.join(root, 'labels.csv')
    rows = [line.split(',') for line in open(path).read().split('\n')[1:] if line]
    with open(path, 'w') as f:
        f.write('file,label\n' + ''.join(f'{file},{label_of(label)}\n' for file, label in rows))


def coarse_dataset(root):
    make_defect_dataset(root, {'good': 12, 'scratch': 6, 'spot': 6}, seed=5,
                        image_shapes=[(64, 64), (64, 320)])
    relabel(root, lambda label: 'good' if label == 'good' else 'defect')
    os.remove(os.path.join(root, 'splits.csv'))
    return root


def no_good_dataset(root):
    make_defect_dataset(root, {'scratch': 8, 'spot': 8, 'crack': 8}, image_size=64, seed=6,
                        multi_label_fraction=0.25)
    return root


def folders_dataset(root):
    source = root + '_standard'
    make_defect_dataset(source, {'good': 10, 'spot': 10}, image_size=64, seed=7)
    for line in open(os.path.join(source, 'labels.csv')).read().split('\n')[1:]:
        if line:
            file, label = line.split(',')
            os.makedirs(os.path.join(root, label), exist_ok=True)
            shutil.copy(os.path.join(source, 'images', file), os.path.join(root, label, file))
    shutil.rmtree(source)
    return root


def run(tmp_path_factory, name, make):
    workdir = str(tmp_path_factory.mktemp(name))
    data = make(os.path.join(workdir, 'data'))
    log = run_tool('run_pipeline.py', '-c', tiny_pipeline(workdir, data, detector_epochs=1),
                   '-o', 'classifier.opts.PatchEvidence.mil_epochs=4', cwd=workdir)
    out = os.path.join(workdir, 'out')
    return {'log': log, 'out': out, 'report': json.load(open(os.path.join(out, 'report.json'))),
            'html': open(os.path.join(out, 'report.html')).read(),
            'test': json.load(open(os.path.join(out, 'evaluation', 'metrics.json')))}


@pytest.fixture(scope='module')
def coarse(tmp_path_factory):
    return run(tmp_path_factory, 'coarse', coarse_dataset)


@pytest.fixture(scope='module')
def no_good(tmp_path_factory):
    return run(tmp_path_factory, 'no_good', no_good_dataset)


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    return run(tmp_path_factory, 'folders', folders_dataset)


def check_verdicts(result):
    """The report's verdict numbers are those of the per-image scores of the test split."""
    report, test = result['report'], result['test']
    verdict = test['verdict']
    assert report['verdict_source'] == verdict['source'] in ('detector', 'classifier', 'fusion')
    assert verdict['val_separation'][verdict['source']] == \
        max(v for v in verdict['val_separation'].values() if v is not None)
    defective, scores = np.array(test['defective']), np.array(verdict['test']['defect_scores'])
    assert verdict['test']['defective'] == test['defective']
    judged = scores >= report['verdict_threshold']
    assert report['miss_rate'] == pytest.approx(np.mean(~judged[defective]))
    detector = np.array(test['defect_scores']) >= report['operating_threshold']
    assert report['detector']['at_operating_threshold']['miss_rate'] == \
        pytest.approx(np.mean(~detector[defective]))
    if (~defective).any():
        assert report['overkill_rate'] == pytest.approx(np.mean(judged[~defective]))
        assert report['image_auroc'] == pytest.approx(roc_auc_score(defective, scores))
    assert isinstance(report['fit_map50'], float), 'the fit check needs no true box'
    assert report['fit_map50'] == test['fit_to_targets']['det_map50']
    fit_per_class = test['fit_to_targets']['per_class_ap50']
    assert set(fit_per_class) == set(test['per_class'])
    assert report['fit_map50'] == pytest.approx(
        np.mean([v for v in fit_per_class.values() if v is not None])), \
        'the fit mAP is the mean of the per-class fits over the classes with training boxes'
    assert 'detector fit AP50 (train' in result['html']
    assert os.path.isfile(os.path.join(result['out'], 'classifier', 'evidence',
                                       'evidence_model.json'))
    assert os.path.isfile(os.path.join(report['exported_model'], 'infer_cfg.yml'))


@pytest.mark.slow
def test_coarse_labels_mixed_sizes_no_splits(coarse):
    report, test = coarse['report'], coarse['test']
    assert 'evaluation mode: class-agnostic' in coarse['log']
    dataset = report['dataset']
    assert dataset['classes'] == ['defect']
    # no splits.csv: seeded 70/10/20 per label; 12 good -> 8/1/3, 12 defect -> 8/1/3
    assert dataset['images'] == {'train': 16, 'val': 2, 'test': 6}
    assert dataset['evaluation']['box_classes'] == ['scratch', 'spot']
    assert report['evaluation_mode'] == 'class-agnostic'
    assert "['scratch', 'spot']" in report['evaluation_mode_reason']
    assert test['box_mode'] == 'class-agnostic'
    assert report['det_map50'] == report['det_map50_agnostic'] == test['boxes']['map50']
    assert report['det_map50'] is not None
    assert set(report['detector']['per_type_ap50']) == {'scratch', 'spot'}
    assert set(report['localization']['per_type_ap50']) == {'scratch', 'spot'}
    assert report['pseudo_map50'] == report['localization']['map50'] is not None
    assert report['threshold_source'] == 'val' and report['threshold_basis'] == 'images'
    check_verdicts(coarse)
    assert 'Per true box type' in coarse['html'] and 'class-agnostic' in coarse['html']


@pytest.mark.slow
def test_no_good_images_multi_label(no_good):
    report = no_good['report']
    assert report['dataset']['good_images'] == 0
    assert report['evaluation_mode'] == 'class-aware'
    for key in ('image_auroc', 'image_ap', 'overkill_rate', 'good_images_boxed'):
        assert report[key] is None
        assert report[key + '_reason'] == 'no good images in the test split'
    test = no_good['test']
    labels = np.array(test['labels'])
    scores = np.array(test['verdict']['test']['class_scores'])
    per_class = [roc_auc_score(labels[:, k], scores[:, k]) for k in range(labels.shape[1])
                 if 0 < labels[:, k].sum() < len(labels)]
    assert report['mean_class_auroc'] == pytest.approx(np.mean(per_class))
    assert any(';' in g for g in report['classifier']['per_group_accuracy']), 'multi-label'
    assert report['threshold_source'] == 'val' and report['threshold_basis'] == 'class pairs'
    assert set(report['detector']['per_class_ap50']) == {'crack', 'scratch', 'spot'}
    assert report['det_map50'] is not None and report['pseudo_map50'] is not None
    check_verdicts(no_good)
    assert 'no good images in the test split' in no_good['html']
    assert 'no good training image: heat map "fused" needs them, using "mil"' in no_good['log']
    assert report['classifier']['heat_map'] == 'mil'


@pytest.mark.slow
def test_class_folders_one_class_no_annotations(folders):
    report = folders['report']
    assert report['dataset']['classes'] == ['spot']
    assert report['dataset']['images'] == {'train': 14, 'val': 2, 'test': 4}
    assert report['evaluation_mode'] == 'none'
    for key in BOX_KEYS:
        assert report[key] is None
        assert report[key + '_reason'] == 'no box ground truth: no annotations.json'
    assert report['image_auroc'] is not None and report['overkill_rate'] is not None
    check_verdicts(folders)
    assert len(os.listdir(os.path.join(folders['out'], 'report_files', 'grid'))) == 4


def test_nothing_to_learn_is_an_error_before_training(tmp_path):
    data = str(tmp_path / 'data')
    make_defect_dataset(data, {'spot': 6}, image_size=32, seed=1)
    spec = load_pipeline_config(tiny_pipeline(str(tmp_path), data))
    with pytest.raises(PipelineError, match='every image is labelled "spot" and none is good'):
        profile_dataset(spec)
    error = failing_tool('run_pipeline.py', '-c', tiny_pipeline(str(tmp_path), data),
                         cwd=str(tmp_path))
    assert 'stage "dataset"' in error
    assert not os.path.exists(tmp_path / 'out' / 'classifier')
