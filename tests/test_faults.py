"""Faults: a NaN loss stops training naming the epoch and step and keeps the last good
snapshot; a full disk fails a write cleanly, with nothing half-written left behind and
the older file intact. (Killed runs: tests/test_pipeline_run.py.)"""
import errno
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import REPO_ROOT, write_image
from ppdet_wsd.engine.training import checkpointer as checkpointer_module
from ppdet_wsd.engine.training.checkpointer import WSDCheckpointer
from ppdet_wsd.engine.training.loss_guard import FiniteLossGuard, NonFiniteLossError
from ppdet_wsd.evidence.features import ImageFeatures
from ppdet_wsd.evidence.store import FeatureStore
from ppdet_wsd.pipeline import records
from ppdet_wsd_runtime import atomic
from ppdet_wsd_runtime.atomic import atomic_dir, write_json_atomic, write_text_atomic

CAM_CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo', 'cam_demo.yml')
DEFAULT = os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml')
# tools/train.py with the CAM head's loss turned NaN at its 3rd call (epoch 1, step 0:
# 19 training images in batches of 16 make 2 steps per epoch)
NAN_AT_THIRD_STEP = '''import runpy, sys
sys.path.insert(0, {tools!r})
import _bootstrap
import ppdet_wsd
from ppdet_wsd.modeling.cam_head import CAMHead
real, calls = CAMHead.loss, [0]
def loss(logits, img_label):
    calls[0] += 1
    value = real(logits, img_label)
    return value * float('nan') if calls[0] == 3 else value
CAMHead.loss = staticmethod(loss)
sys.argv = {argv!r}
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, 'No space left on device')


def _status(loss, epoch=2, step=7):
    meters = {'loss': SimpleNamespace(value=loss), 'loss_cls': SimpleNamespace(value=0.5)}
    return {'mode': 'train', 'epoch_id': epoch, 'step_id': step,
            'training_staus': SimpleNamespace(meters=meters)}


def test_the_guard_passes_finite_losses_and_names_epoch_and_step_of_a_bad_one():
    trainer = SimpleNamespace(cfg=SimpleNamespace(save_dir='output', filename='rmil'))
    guard = FiniteLossGuard(trainer)
    guard.on_step_end(_status(0.25))
    guard.on_step_end({'mode': 'eval', 'epoch_id': 0, 'step_id': 0})
    for bad in (float('nan'), float('inf'), -float('inf')):
        with pytest.raises(NonFiniteLossError) as error:
            guard.on_step_end(_status(bad))
        assert str(error.value) == (
            f'non-finite loss at epoch 2, step 7: loss = {bad}; training stopped, the last '
            f'good snapshot in output/rmil is kept (resume from it with a lower learning rate)')


@pytest.mark.slow
def test_a_nan_loss_stops_training_and_keeps_the_last_good_snapshot(tiny_dataset, tmp_path):
    argv = [os.path.join(REPO_ROOT, 'tools', 'train.py'), '-c', CAM_CONFIG, '-o', 'epoch=4',
            'snapshot_epoch=1', f'TrainDataset.dataset_dir={tiny_dataset}',
            f'EvalDataset.dataset_dir={tiny_dataset}']
    result = subprocess.run([sys.executable, '-c', NAN_AT_THIRD_STEP.format(
        tools=os.path.join(REPO_ROOT, 'tools'), argv=argv)], cwd=str(tmp_path),
        capture_output=True, text=True)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('ppdet_wsd.engine.training.loss_guard.NonFiniteLossError: non-finite loss '
                           'at epoch 1, step 0: loss = nan; training stopped')
    saved = sorted(os.listdir(tmp_path / 'output' / 'cam_demo'))
    assert saved == ['0.pdopt', '0.pdparams', '0.pdstate'], \
        'epoch 0 kept, nothing of the NaN epoch'


def test_a_full_disk_fails_a_json_or_text_write_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'stage.json')
    write_json_atomic(path, {'version': 1})
    write_text_atomic(str(tmp_path / 'notes.txt'), 'old')

    def half_then_full(obj, f, **kwargs):
        f.write('{"version": ')
        _disk_full()
    monkeypatch.setattr(atomic.json, 'dump', half_then_full)
    with pytest.raises(OSError) as error:
        write_json_atomic(path, {'version': 2})
    assert error.value.errno == errno.ENOSPC
    monkeypatch.setattr(atomic.os, 'replace', _disk_full)
    with pytest.raises(OSError):
        write_text_atomic(str(tmp_path / 'notes.txt'), 'new')
    monkeypatch.undo()
    assert json.load(open(path)) == {'version': 1}
    assert open(tmp_path / 'notes.txt').read() == 'old'
    assert sorted(os.listdir(tmp_path)) == ['notes.txt', 'stage.json'], 'no temp file left'


def test_a_full_disk_while_a_stage_finishes_leaves_it_unfinished(tmp_path, monkeypatch):
    stage = str(tmp_path / 'pseudo_boxes')
    records.start(stage, 'print')
    monkeypatch.setattr(atomic.json, 'dump', _disk_full)
    with pytest.raises(OSError):
        records.finish(stage, 'print', {'seconds': 1.0})
    monkeypatch.undo()
    assert not records.is_finished(stage, 'print'), 'the re-run redoes it'
    assert records.start(stage, 'print') is True, 'and resumes its partial work'
    assert os.listdir(stage) == [records.STARTED]


def test_a_full_disk_while_exporting_or_checkpointing_keeps_the_old_model(tmp_path,
                                                                        monkeypatch):
    target = tmp_path / 'export'
    with atomic_dir(str(target)) as tmp:
        open(os.path.join(tmp, 'model.pdiparams'), 'w').write('v1')
    with pytest.raises(OSError):
        with atomic_dir(str(target)) as tmp:
            open(os.path.join(tmp, 'model.pdiparams'), 'w').write('v2, half')
            _disk_full()
    assert os.listdir(tmp_path) == ['export'] and open(target / 'model.pdiparams').read() == 'v1'

    def save_then_full(weights, optimizer, save_dir, name, last_epoch, ema_model=None):
        open(os.path.join(save_dir, name + '.pdparams'), 'wb').write(b'half')
        _disk_full()
    monkeypatch.setattr(checkpointer_module, 'save_model', save_then_full)
    cfg = SimpleNamespace(save_dir=str(tmp_path / 'train'), filename='run', epoch=3,
                          snapshot_epoch=1)
    trainer = SimpleNamespace(cfg=cfg, model=SimpleNamespace(state_dict=lambda: {}),
                              use_ema=False, optimizer=None, _metrics=[], _callbacks=[],
                              validating=False)
    with pytest.raises(OSError):
        WSDCheckpointer(trainer).on_epoch_end({'mode': 'train', 'epoch_id': 0})
    assert os.listdir(tmp_path / 'train' / 'run') == []


def test_a_full_disk_while_caching_features_keeps_no_partial_entry(tmp_path, monkeypatch):
    image = write_image(str(tmp_path / 'a.png'), np.zeros((16, 16), np.uint8))
    features = ImageFeatures(patches=np.zeros((2, 2, 3), np.float16),
                             pooled=np.zeros(3, np.float32), image_hw=(16, 16))
    store = FeatureStore(str(tmp_path / 'features'), {'v': 1}, lambda: lambda rgb: features)
    monkeypatch.setattr(np, 'savez', _disk_full)
    with pytest.raises(OSError):
        store.get(image)
    monkeypatch.undo()
    assert [f for _, _, files in os.walk(tmp_path / 'features') for f in files] == []
    assert store.get(image).image_hw == (16, 16), 'the next try computes and stores it'
    assert len([f for _, _, files in os.walk(tmp_path / 'features') for f in files]) == 1


def test_a_full_disk_in_the_pipeline_ends_it_with_one_line(tiny_dataset, tmp_path):
    probe = f'''import errno, runpy, sys
sys.path.insert(0, {os.path.join(REPO_ROOT, 'tools')!r})
import _bootstrap
from ppdet_wsd.pipeline import runner
def full(path, obj):
    raise OSError(errno.ENOSPC, 'No space left on device', path)
runner.write_json_atomic = full
sys.argv = [{os.path.join(REPO_ROOT, 'tools', 'run_pipeline.py')!r}, '-c', {DEFAULT!r}, '-o',
            'dataset_dir={tiny_dataset}', 'output_dir=out']
runpy.run_path(sys.argv[0], run_name='__main__')
'''
    result = subprocess.run([sys.executable, '-c', probe], cwd=str(tmp_path),
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f'error: No space left on device ({tmp_path / "out" / "dataset_profile.json"}): free '
        f'some space and run the same command again (finished stages and partial work are '
        f'kept, nothing half-written is read back)')
    assert 'Traceback' not in result.stderr
