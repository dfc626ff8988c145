"""The deploy runtime (Paddle Inference with oneDNN, decoding and NMS in numpy) against the
eager model, the runner's results file, its errors, and that it never imports ppdet or the
plugin."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from conftest import REPO_ROOT
from deploy_fixture import (CLASSES, THRESHOLD, assert_same_detections, assert_same_rows,
                            eager_classifier, eager_detections, export_tiny, odd_images)
from ppdet_wsd.deploy.graph import static_friendly_resizing
from ppdet_wsd_runtime.image_io import read_image_rgb
from ppdet_wsd_runtime.model_dir import ModelFolderError
from ppdet_wsd_runtime.predictor import ExportedClassifier, ExportedDetector
from ppdet_wsd_runtime.runner import run_deploy
from tiny_models import tiny_classifier, tiny_detector


@pytest.fixture(scope='module')
def images(tiny_dataset, tmp_path_factory):
    """``(10 tiny-dataset images + 4 odd ones (sizes, grey, 16-bit, RGBA), the folder of
    the odd ones, which also holds 2 unreadable files)``."""
    folder = tmp_path_factory.mktemp('deploy_images') / 'odd'
    odd = odd_images(str(folder))
    (folder / 'broken.png').write_bytes(b'not an image')
    (folder / 'empty.jpg').write_bytes(b'')
    return sorted(glob.glob(os.path.join(tiny_dataset, 'images', '*')))[::3] + odd, str(folder)


@pytest.fixture(scope='module')
def detector(tmp_path_factory):
    """The tiny detector (every box kept by its NMS, boxes voted) and its export folder."""
    model = tiny_detector()
    model.eval()
    return model, export_tiny(model, str(tmp_path_factory.mktemp('export')), detector=True)


@pytest.fixture(scope='module')
def plain_detector(tmp_path_factory):
    """The tiny detector without box voting, and its export folder. The untrained model's
    scores are all about 0.01: oneDNN's float noise reorders such near ties, which changes
    which boxes vote for a kept one, so oneDNN is compared without voting (the runner's
    test below compares voted boxes, without oneDNN)."""
    model = tiny_detector(vote_iou=0.0)
    model.eval()
    return model, export_tiny(model, str(tmp_path_factory.mktemp('export')), detector=True)


def test_the_export_records_box_voting(detector, plain_detector):
    for (_, model_dir), vote_iou in ((detector, 0.5), (plain_detector, 0.0)):
        assert ExportedDetector(model_dir).decoder.cfg['nms']['vote_iou'] == vote_iou


def test_exported_detector_with_onednn_equals_the_eager_model(plain_detector, images):
    model, model_dir = plain_detector
    paths = images[0]
    exported = ExportedDetector(model_dir)
    assert exported.threshold == pytest.approx(THRESHOLD) and exported.classes == CLASSES
    assert_same_detections(exported.predict(paths), eager_detections(model, paths))


def test_the_runner_writes_the_eager_verdicts_and_boxes(detector, images, tmp_path):
    model, model_dir = detector
    paths, odd_folder = images
    out = tmp_path / 'out'
    document = run_deploy(model_dir, odd_folder, str(out), batch_size=3, draw=True,
                          min_box_score=0.0)
    assert json.loads((out / 'results.json').read_text()) == document
    by_file = {r['file']: r for r in document['images']}
    assert sorted(by_file) == sorted(paths[10:])
    assert [os.path.basename(u['file']) for u in document['unreadable']] == ['broken.png',
                                                                             'empty.jpg']
    assert 'empty file' in document['unreadable'][1]['error']
    for path, (det, im_score) in zip(paths[10:], eager_detections(model, paths[10:])):
        result = by_file[path]
        scores = np.maximum(im_score, [det[det[:, 0] == c, 1].max(initial=0) for c in range(3)])
        assert [result['scores'][c] for c in CLASSES] == pytest.approx(scores, abs=1e-5)
        assert result['verdict'] == ('defective' if scores.max() >= THRESHOLD else 'good')
        rows = np.array([[CLASSES.index(b['class']), b['score'], *b['box']]
                         for b in result['boxes']])
        assert_same_rows(rows, det)
        assert list(rows[:, 1]) == sorted(rows[:, 1], reverse=True)
        assert os.path.isfile(result['picture'])
    default = run_deploy(model_dir, odd_folder, str(tmp_path / 'default'))
    assert all(b['score'] >= THRESHOLD for r in default['images'] for b in r['boxes'])


def test_batch_size_does_not_change_the_results(detector, images, tmp_path):
    _, model_dir = detector
    pattern = os.path.join(images[1], '*.png')
    one = run_deploy(model_dir, pattern, str(tmp_path / 'one'), batch_size=1, min_box_score=0)
    four = run_deploy(model_dir, pattern, str(tmp_path / 'four'), batch_size=4, min_box_score=0)
    assert len(one['images']) == 4 and len(one['unreadable']) == 1  # broken.png
    for a, b in zip(one['images'], four['images'], strict=True):
        assert a['scores'] == pytest.approx(b['scores'], abs=1e-5)
        assert_same_rows(*(np.array([[CLASSES.index(x['class']), x['score'], *x['box']]
                                     for x in r['boxes']]) for r in (a, b)))


def imported_modules(stderr):
    """The modules a ``python -X importtime`` run imported, from its ``stderr``."""
    return {line.split('|')[-1].strip() for line in stderr.splitlines()
            if line.startswith('import time:')}


def assert_runtime_only(imported):
    """The deploy runtime ran, and neither ppdet nor the plugin ``ppdet_wsd`` (whose import
    registers everything with ppdet) was imported."""
    assert 'ppdet_wsd_runtime.runner' in imported
    assert not {m for m in imported if m in ('ppdet', 'ppdet_wsd')
                or m.startswith(('ppdet.', 'ppdet_wsd.'))}


def test_the_runner_command_imports_no_ppdet(detector, images, tmp_path):
    """``python -m ppdet_wsd_runtime`` in a fresh process: same results as in-process, and
    ``-X importtime`` lists paddle.inference but no module of ppdet or of the plugin."""
    _, model_dir = detector
    out = tmp_path / 'cli'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run([sys.executable, '-X', 'importtime', '-m', 'ppdet_wsd_runtime',
                             model_dir, images[1], '--out', str(out), '--batch-size', '2',
                             '--min-box-score', '0'], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = imported_modules(result.stderr)
    assert 'paddle.inference' in imported
    assert_runtime_only(imported)
    assert '4 images: ' in result.stdout and '2 unreadable images skipped' in result.stdout
    assert 'broken.png: not a readable image' in result.stdout
    in_process = run_deploy(model_dir, images[1], str(tmp_path / 'ref'), min_box_score=0)
    from_cli = json.loads((out / 'results.json').read_text())
    assert [r['scores'] for r in from_cli['images']] == [r['scores'] for r in in_process['images']]


def test_tools_deploy_runs_the_same_runner_without_ppdet(detector, images, tmp_path):
    _, model_dir = detector
    result = subprocess.run([sys.executable, '-X', 'importtime',
                             os.path.join(REPO_ROOT, 'tools', 'deploy.py'), model_dir,
                             os.path.join(images[1], 'wide.png'), '--out', str(tmp_path),
                             '--backend', 'paddle'], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_runtime_only(imported_modules(result.stderr))
    assert len(json.loads((tmp_path / 'results.json').read_text())['images']) == 1


def test_no_runtime_module_imports_ppdet_or_the_plugin():
    """Every module of ``ppdet_wsd_runtime`` (the runner's and the helpers the plugin shares)
    imports in a fresh process without ppdet or ``ppdet_wsd`` being loaded."""
    code = ('import pkgutil, sys, importlib, ppdet_wsd_runtime as r\n'
            'for m in pkgutil.iter_modules(r.__path__):\n'
            '    if m.name != "__main__":\n'
            '        importlib.import_module("ppdet_wsd_runtime." + m.name)\n'
            'print(" ".join(sorted(sys.modules)))')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(result.stdout.split())
    assert {'ppdet_wsd_runtime.runner', 'ppdet_wsd_runtime.heatmap'} <= loaded
    assert not {m for m in loaded if m in ('ppdet', 'ppdet_wsd')
                or m.startswith(('ppdet.', 'ppdet_wsd.'))}


@pytest.mark.parametrize('break_it, message', [
    (lambda d: None, 'no such model folder'),
    (lambda d: os.makedirs(d), 'infer_cfg.yml: not found'),
    (lambda d: (os.makedirs(d), open(os.path.join(d, 'infer_cfg.yml'), 'w').write('arch: [')),
     'infer_cfg.yml: not readable YAML'),
    (lambda d: (os.makedirs(d), open(os.path.join(d, 'infer_cfg.yml'), 'w').write('arch: X\n')),
     'infer_cfg.yml: missing classes'),
])
def test_a_broken_model_folder_is_a_clear_error(break_it, message, tmp_path):
    model_dir = str(tmp_path / 'model')
    break_it(model_dir)
    with pytest.raises(ModelFolderError, match=message):
        run_deploy(model_dir, str(tmp_path), str(tmp_path / 'out'))


def test_missing_model_files_and_images_are_clear_errors(detector, tmp_path):
    _, model_dir = detector
    incomplete = tmp_path / 'incomplete'
    incomplete.mkdir()
    (incomplete / 'infer_cfg.yml').write_text(open(os.path.join(model_dir, 'infer_cfg.yml')).read())
    with pytest.raises(ModelFolderError, match='no model.json or model.pdmodel'):
        ExportedDetector(str(incomplete))
    with pytest.raises(ModelFolderError, match='model.onnx: not found.*--onnx'):
        ExportedDetector(str(incomplete), backend='onnx')
    with pytest.raises(FileNotFoundError, match='nowhere/\\*.png: no image found'):
        run_deploy(model_dir, 'nowhere/*.png', str(tmp_path / 'out'))
    cli = subprocess.run([sys.executable, '-m', 'ppdet_wsd_runtime', str(incomplete),
                          str(tmp_path), '--out', str(tmp_path / 'o')], cwd=REPO_ROOT,
                         capture_output=True, text=True)
    assert cli.returncode == 1 and cli.stderr.strip().startswith('error: ')
    assert 'no model.json or model.pdmodel' in cli.stderr and 'Traceback' not in cli.stderr


def test_an_export_with_nms_in_the_graph_is_refused(tmp_path):
    (tmp_path / 'infer_cfg.yml').write_text(
        'arch: RetinaNetMIL\nclasses: [a]\nimage_shape: [3, 8, 8]\noperating_threshold: 0.5\n'
        'Preprocess: []\noutputs: [bbox, bbox_num, im_score]\n')
    with pytest.raises(ModelFolderError, match='NMS inside the graph.*export it again'):
        ExportedDetector(str(tmp_path))


def test_exported_classifier_with_onednn_equals_the_eager_model(images, tmp_path):
    """Two backbone levels: the CAM head's bilinear level fusion is exported as gathers
    and weighted sums, which oneDNN runs (as an interp op it cannot, as matrix products
    it computes wrong values)."""
    model = tiny_classifier(levels=2)
    model.eval()
    exported = ExportedClassifier(export_tiny(model, str(tmp_path), detector=False))
    paths = images[0][:4] + images[0][10:]
    for (scores, cam), (scores_e, cam_e) in zip(exported.predict(paths),
                                                eager_classifier(model, paths), strict=True):
        np.testing.assert_allclose(scores, scores_e, atol=1e-5)
        # oneDNN's convolutions move these maps (range ~1) by up to ~4e-4
        np.testing.assert_allclose(cam, cam_e, atol=1e-3)
    document = run_deploy(exported.model_dir, images[1], str(tmp_path / 'out'), draw=True,
                          heatmaps=True)
    assert document['kind'] == 'classifier' and 'boxes' not in document['images'][0]
    assert document['heat_map'] == 'cam'
    for result in document['images']:
        assert os.path.isfile(result['picture'])
        heat = np.load(result['heatmap'])  # the drawn map: float16 at image size in [0, 1]
        assert heat.dtype == np.float16 and heat.shape == read_image_rgb(result['file']).shape[:2]
        assert 0 <= heat.min() <= heat.max() <= 1
        assert result['heatmap_class'] == max(result['scores'], key=result['scores'].get)


def test_static_friendly_resizing_computes_paddles_interpolation():
    original = F.interpolate
    x = paddle.to_tensor(np.random.RandomState(3).rand(2, 3, 5, 7).astype(np.float32))
    with static_friendly_resizing():
        nearest = F.interpolate(x, scale_factor=2., mode='nearest').numpy()
        bilinear = F.interpolate(x, size=[12, 9], mode='bilinear', align_corners=False).numpy()
    np.testing.assert_array_equal(nearest, F.interpolate(x, scale_factor=2.,
                                                         mode='nearest').numpy())
    np.testing.assert_allclose(bilinear, F.interpolate(x, size=[12, 9], mode='bilinear',
                                                       align_corners=False).numpy(), atol=2e-7)
    assert F.interpolate is original
