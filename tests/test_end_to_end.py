"""The classifier stage through the command-line tools, on a tiny synthetic dataset."""
import json
import os

import numpy as np
import pytest

from conftest import REPO_ROOT
from tool_runner import failing_tool, run_tool

pytestmark = pytest.mark.slow  # the tools in subprocesses (docs: README, Tests)

CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo', 'cam_demo.yml')


@pytest.fixture(scope='module')
def trained(tiny_dataset, tmp_path_factory):
    """Train 2 epochs from the demo config on the tiny dataset; returns (workdir, overrides)."""
    workdir = str(tmp_path_factory.mktemp('run'))
    data = [f'TrainDataset.dataset_dir={tiny_dataset}', f'EvalDataset.dataset_dir={tiny_dataset}']
    run_tool('train.py', '-c', CONFIG, '--eval', '-o', 'epoch=2', 'snapshot_epoch=1', *data,
             cwd=workdir)
    return workdir, data


def test_train_writes_checkpoints_and_best_model(trained):
    workdir, _ = trained
    files = set(os.listdir(os.path.join(workdir, 'output', 'cam_demo')))
    assert {'0.pdparams', 'model_final.pdparams', 'best_model.pdparams'} <= files
    assert not [f for f in files if f.startswith('.tmp')]


def test_resume_continues_from_a_checkpoint_and_writes_curves(trained):
    workdir, data = trained
    log = run_tool('train.py', '-c', CONFIG, '-r', 'output/cam_demo/0', '--eval', '--use_vdl',
                   '--vdl_log_dir', 'vdl', '-o', 'epoch=2', 'snapshot_epoch=1', *data, cwd=workdir)
    assert 'Epoch: [1]' in log and 'Epoch: [0]' not in log
    curves = os.listdir(os.path.join(workdir, 'vdl'))
    assert curves and all(os.path.getsize(os.path.join(workdir, 'vdl', f)) > 0 for f in curves)


def test_eval_on_test_split_writes_metrics(trained, tiny_dataset):
    workdir, data = trained
    out = os.path.join(workdir, 'test_metrics.json')
    run_tool('eval.py', '-c', CONFIG, '-o', 'weights=output/cam_demo/best_model',
             'EvalDataset.split=test', *data, '--output_json', out, cwd=workdir)
    metrics = json.load(open(out))
    splits = open(os.path.join(tiny_dataset, 'splits.csv')).read().splitlines()
    assert metrics['num_images'] == sum(line.endswith(',test') for line in splits)
    assert 0.0 <= metrics['image_auroc'] <= 1.0
    assert set(metrics['per_group_accuracy']) == {'good', 'crack', 'scratch', 'spot'}


def test_infer_export_and_the_exported_model_agree(trained, tiny_dataset):
    workdir, data = trained
    images = os.path.join(tiny_dataset, 'images')
    run_tool('infer.py', '-c', CONFIG, '-o', 'weights=output/cam_demo/best_model', *data,
             '--infer_dir', images, '--output_dir', 'infer', cwd=workdir)
    results = json.load(open(os.path.join(workdir, 'infer', 'results.json')))
    assert len(results) == 30
    assert os.path.isfile(os.path.join(workdir, 'infer', 'good_0000_cam.png'))
    run_tool('export_model.py', '-c', CONFIG, '-o', 'weights=output/cam_demo/best_model', *data,
             '--output_dir', 'exported', cwd=workdir)
    from ppdet_wsd_runtime.predictor import ExportedClassifier
    predictor = ExportedClassifier(os.path.join(workdir, 'exported', 'cam_demo'))
    assert predictor.classes == ['crack', 'scratch', 'spot']
    paths = [r['file'] for r in results[:4]]
    outputs = predictor.predict(paths)
    scores, cams = np.array([s for s, _ in outputs]), np.array([c for _, c in outputs])
    expected = np.array([[r['scores'][c] for c in predictor.classes] for r in results[:4]])
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert cams.shape == (4, 3, 8, 8)


def test_a_wrong_num_classes_is_a_clear_error(trained):
    workdir, data = trained
    stderr = failing_tool('train.py', '-c', CONFIG, '-o', 'num_classes=7', *data, cwd=workdir)
    last = stderr.strip().splitlines()[-1]
    assert last.startswith('error: config says num_classes: 7, but TrainDataset at ')
    assert "['crack', 'scratch', 'spot']" in last and 'Traceback' not in stderr


def test_gen_pseudo_boxes_tool_with_and_without_few_boxes(trained):
    workdir, data = trained
    run_tool('gen_pseudo_boxes.py', '-c', CONFIG, '-o', 'weights=output/cam_demo/best_model',
             *data, 'PseudoBoxes.split=train', '--output_dir', 'pseudo', cwd=workdir)
    coco = json.load(open(os.path.join(workdir, 'pseudo', 'pseudo_boxes.json')))
    assert coco['info']['few_boxes_used'] == 0 and coco['info']['generator']['threshold_mode'] == 'relative'
    assert os.path.isfile(os.path.join(workdir, 'pseudo', 'review', 'index.html'))
    log = run_tool('gen_pseudo_boxes.py', '-c', CONFIG, '-o', 'weights=output/cam_demo/best_model',
                   *data, 'PseudoBoxes.split=train', 'PseudoBoxes.few_boxes=1',
                   'PseudoBoxes.method=gradcam', '--output_dir', 'pseudo_few', cwd=workdir)
    info = json.load(open(os.path.join(workdir, 'pseudo_few', 'pseudo_boxes.json')))['info']
    assert 1 <= info['few_boxes_used'] <= 3 and info['method'] == 'gradcam'
    assert info['generator']['threshold_mode'] == 'per_class'
    assert 'few-boxes mode' in log


def test_a_missing_checkpoint_is_a_clear_error(trained):
    workdir, data = trained
    stderr = failing_tool('eval.py', '-c', CONFIG, '-o', 'weights=output/cam_demo/nope', *data,
                          cwd=workdir)
    assert stderr == 'error: weights output/cam_demo/nope: no such file\n', 'found before paddle is imported'


def test_the_same_seed_trains_the_same_weights(tiny_dataset, tmp_path):
    import paddle
    data = [f'TrainDataset.dataset_dir={tiny_dataset}', f'EvalDataset.dataset_dir={tiny_dataset}']
    for run in ('a', 'b'):
        run_tool('train.py', '-c', CONFIG, '-o', 'epoch=1', 'seed=7', f'save_dir={run}', *data,
                 cwd=str(tmp_path))
    a, b = (paddle.load(str(tmp_path / run / 'cam_demo' / 'model_final.pdparams')) for run in 'ab')
    assert a.keys() == b.keys()
    assert all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)
