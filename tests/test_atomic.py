"""Nothing half-written: outputs appear whole or not at all."""
import json
import os
from types import SimpleNamespace

import pytest

from ppdet_wsd.engine.training import checkpointer as checkpointer_module
from ppdet_wsd.engine.training.checkpointer import WSDCheckpointer
from ppdet_wsd_runtime.atomic import atomic_dir, write_json_atomic


def test_atomic_dir_keeps_the_old_folder_when_writing_fails(tmp_path):
    target = tmp_path / 'export'
    with atomic_dir(str(target)) as tmp:
        open(os.path.join(tmp, 'model'), 'w').write('v1')
    with pytest.raises(RuntimeError):
        with atomic_dir(str(target)) as tmp:
            open(os.path.join(tmp, 'model'), 'w').write('half')
            raise RuntimeError('killed')
    assert os.listdir(tmp_path) == ['export']
    assert open(target / 'model').read() == 'v1'


def test_write_json_atomic_replaces_whole_files(tmp_path):
    path = str(tmp_path / 'r.json')
    write_json_atomic(path, {'a': 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {'a': object()})  # not serialisable: fails mid-write
    assert json.load(open(path)) == {'a': 1}
    assert os.listdir(tmp_path) == ['r.json']


def _fake_trainer(save_dir):
    cfg = SimpleNamespace(save_dir=str(save_dir), filename='run', epoch=3, snapshot_epoch=1)
    model = SimpleNamespace(state_dict=lambda: {})
    return SimpleNamespace(cfg=cfg, model=model, use_ema=False, optimizer=None, _metrics=[],
                           _callbacks=[], validating=False)


def test_checkpoint_killed_while_saving_leaves_no_partial_file(tmp_path, monkeypatch):
    def save_then_die(weights, optimizer, save_dir, name, last_epoch, ema_model=None):
        open(os.path.join(save_dir, name + '.pdparams'), 'wb').write(b'half')
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpointer_module, 'save_model', save_then_die)
    callback = WSDCheckpointer(_fake_trainer(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        callback.on_epoch_end({'mode': 'train', 'epoch_id': 0})
    assert os.listdir(tmp_path / 'run') == []


def test_best_model_follows_the_metric_primary_key(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(checkpointer_module, 'save_model',
                        lambda w, o, d, name, e, ema_model=None: saved.append(name))
    trainer = _fake_trainer(tmp_path)
    metric = SimpleNamespace(primary_key='image_ap', results={})
    metric.get_results = lambda: metric.results
    trainer._metrics = [metric]
    callback = WSDCheckpointer(trainer)
    for ap in (0.5, 0.4, 0.7):
        metric.results = {'image_ap': ap}
        callback.on_epoch_end({'mode': 'eval', 'epoch_id': 0, 'save_best_model': True})
    assert saved == ['best_model', 'best_model'] and callback.best == 0.7
