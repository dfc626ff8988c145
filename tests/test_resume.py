"""A training run stopped and resumed from its last snapshot ends exactly where an
uninterrupted run with the same seed ends: each epoch's batches and random draws depend on
(seed, epoch) only, and a snapshot carries the callbacks' state (the refinement teacher and
boxes, the best score) beside the weights and the optimiser."""
import json
import logging
import os
import pickle
import random
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import paddle
import pytest
from ppdet.data.reader import TrainReader

from conftest import REPO_ROOT
from ppdet_wsd.data.box_dataset import BoxLabelDataSet
from ppdet_wsd.engine.training import checkpointer as checkpointer_module
from ppdet_wsd.engine.training.checkpointer import WSDCheckpointer
from ppdet_wsd.engine.training.epoch_start import EpochLoader, EpochStart, epoch_seed
from ppdet_wsd.engine.training.refinement import EMATeacher, OnlineRefinement
from ppdet_wsd.engine.training.train_state import load_state
from ppdet_wsd.pseudo.settings import Refinement
from ppdet_wsd_runtime import atomic
from tiny_models import tiny_detector
from tool_runner import run_tool

CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo', 'rmil_demo.yml')
# tools/train.py that dies like kill -9 (os._exit: no clean-up, no atexit) at a given
# training step
DIE_AT_STEP = '''import os, runpy, sys
sys.path.insert(0, {tools!r})
import _bootstrap
import ppdet_wsd
from ppdet_wsd.engine.training.loss_guard import FiniteLossGuard
real = FiniteLossGuard.on_step_end
def on_step_end(self, status):
    real(self, status)
    if status['mode'] == 'train' and (status['epoch_id'], status['step_id']) == {at!r}:
        os._exit(9)
FiniteLossGuard.on_step_end = on_step_end
sys.argv = {argv!r}
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _draws():
    return random.random(), float(np.random.rand()), float(paddle.rand([1]).numpy()[0])


def test_epoch_seeds_differ_for_every_seed_and_epoch():
    seeds = [epoch_seed(seed, epoch) for seed in range(5) for epoch in range(20)]
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**32 for s in seeds)
    assert epoch_seed(3, 7) == epoch_seed(3, 7)


def test_an_epoch_draws_the_same_numbers_whatever_came_before():
    started = []
    trainer = SimpleNamespace(cfg={'seed': 5},
                              loader=SimpleNamespace(start_epoch=started.append))
    draws = []
    for history in (0, 100):  # a resumed run has drawn less (or more) before epoch 3
        for _ in range(history):
            _draws()
        EpochStart(trainer).on_epoch_begin({'mode': 'train', 'epoch_id': 3})
        draws.append(_draws())
    assert draws[0] == draws[1] and started == [3, 3]
    callback = EpochStart(trainer)
    callback.on_epoch_begin({'mode': 'train', 'epoch_id': 4})
    first = _draws()
    callback.on_epoch_begin({'mode': 'train', 'epoch_id': 4})  # ppdet's call before validation
    assert _draws() != first, 'the second call of an epoch does not re-seed'
    callback.on_epoch_begin({'mode': 'train', 'epoch_id': 5})
    other = _draws()
    assert other != first


def test_no_seed_no_reseeding():
    trainer = SimpleNamespace(cfg={'seed': None},
                              loader=SimpleNamespace(start_epoch=lambda epoch: None))
    np.random.seed(1)
    expected = np.random.rand(2)
    np.random.seed(1)
    EpochStart(trainer).on_epoch_begin({'mode': 'train', 'epoch_id': 0})
    assert np.random.rand(2).tolist() == expected.tolist()


def _reader(root):
    dataset = BoxLabelDataSet(dataset_dir=root, boxes_file=f'{root}/annotations.json',
                              good_per_defective=0.5, check_images=False)
    transforms = [{'DecodeImage': {}}, {'LetterboxResize': {'canvas': [32, 32]}},
                  {'Permute': {}}]
    return dataset, TrainReader(sample_transforms=transforms, batch_size=4, shuffle=True,
                                collate_batch=False)(dataset, 0)


def _epoch(dataset, loader, epoch):
    """One epoch as ppdet's training loop runs it: im_id and gt_score of every batch."""
    loader.start_epoch(epoch)
    dataset.set_epoch(epoch)
    return [(batch['im_id'].numpy().ravel().tolist(),
             [float(s.numpy().max()) for s in batch['gt_score'] if s.shape[0]])
            for batch in loader]


def test_an_epoch_loads_its_own_draw_and_boxes_from_the_first_batch(tiny_dataset):
    dataset, reader = _reader(tiny_dataset)
    loader = EpochLoader(reader)
    assert reader.loader is None, 'the pass ppdet starts while building the reader is stopped'
    epochs = [_epoch(dataset, loader, e) for e in range(2)]
    for record in dataset.roidbs:  # what a refinement at the end of epoch 1 does
        record['gt_score'] = np.full_like(record['gt_score'], 0.5)
    epochs.append(_epoch(dataset, loader, 2))
    draw = {int(dataset.roidbs[i]['im_id'][0]) for i in dataset.epoch_indices(2)}
    ids = [i for batch, _ in epochs[2] for i in batch]
    assert set(ids) <= draw and len(ids) == len(set(ids)) == 16
    assert all(s == 0.5 for _, scores in epochs[2] for s in scores), 'refreshed boxes only'
    assert epochs[1] != epochs[0] and epochs[2] != epochs[1]
    fresh, fresh_reader = _reader(tiny_dataset)
    for record in fresh.roidbs:
        record['gt_score'] = np.full_like(record['gt_score'], 0.5)
    assert _epoch(fresh, EpochLoader(fresh_reader), 2) == epochs[2], 'a run resumed at epoch 2'


def _checkpointer(tmp_path, monkeypatch, validating=False, resume_state=None, extra=()):
    saved = []

    def save_model(weights, optimizer, save_dir, name, last_epoch, ema_model=None):
        for ext in ('.pdparams', '.pdopt'):
            open(os.path.join(save_dir, name + ext), 'w').write(str(last_epoch))
        saved.append(name)
    monkeypatch.setattr(checkpointer_module, 'save_model', save_model)
    metric = SimpleNamespace(results={})
    metric.get_results = lambda: metric.results
    cfg = SimpleNamespace(save_dir=str(tmp_path), filename='run', epoch=4, snapshot_epoch=1)
    trainer = SimpleNamespace(cfg=cfg, model=SimpleNamespace(state_dict=lambda: {}),
                              use_ema=False, optimizer=None, _metrics=[metric],
                              validating=validating, resume_state=resume_state or {})
    callback = WSDCheckpointer(trainer)
    trainer._callbacks = [*extra, callback]
    callback.on_train_begin({})
    return callback, metric, saved


def test_a_snapshot_holds_the_callbacks_state_and_its_weights_arrive_last(tmp_path,
                                                                          monkeypatch):
    moved = []
    real_replace = atomic.os.replace
    monkeypatch.setattr(atomic.os, 'replace',
                        lambda a, b: (moved.append(os.path.basename(b)), real_replace(a, b)))
    other = SimpleNamespace(state_key='other', state=lambda: {'x': np.arange(3)})
    callback, _, saved = _checkpointer(tmp_path, monkeypatch, extra=[other])
    callback.on_epoch_end({'mode': 'train', 'epoch_id': 0})
    assert saved == ['0'] and moved[-1] == '0.pdparams' and set(moved) == {
        '0.pdparams', '0.pdopt', '0.pdstate'}
    state = load_state(str(tmp_path / 'run' / '0.pdparams'))
    assert state['checkpointer'] == {'best': None} and state['other']['x'].tolist() == [0, 1, 2]


def test_a_validated_run_snapshots_after_the_validation(tmp_path, monkeypatch):
    callback, metric, saved = _checkpointer(tmp_path, monkeypatch, validating=True)
    callback.on_epoch_end({'mode': 'train', 'epoch_id': 0})
    assert saved == [], 'not before the epoch is validated'
    metric.results = {'image_ap': 0.8}
    callback.on_epoch_end({'mode': 'eval', 'epoch_id': 0, 'save_best_model': True})
    assert saved == ['best_model', '0']
    assert load_state(str(tmp_path / 'run' / '0'))['checkpointer'] == {'best': 0.8}
    assert not os.path.exists(tmp_path / 'run' / 'best_model.pdstate'), 'not a resume point'


def test_a_resumed_run_keeps_the_best_score_it_had(tmp_path, monkeypatch):
    callback, metric, saved = _checkpointer(tmp_path, monkeypatch, validating=True,
                                            resume_state={'checkpointer': {'best': 0.9}})
    callback.on_epoch_end({'mode': 'train', 'epoch_id': 2})
    metric.results = {'image_ap': 0.7}
    callback.on_epoch_end({'mode': 'eval', 'epoch_id': 2, 'save_best_model': True})
    assert saved == ['2'], 'a worse model than before the interruption is not the best'


def test_a_snapshot_without_state_resumes_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_state(str(tmp_path / '3')) == {}
    assert '3.pdstate not found' in caplog.text


def test_the_teacher_continues_from_its_state():
    student = tiny_detector()
    teacher = EMATeacher(student, decay=0.9)
    for _ in range(3):
        with paddle.no_grad():
            for _, param in teacher.pairs:
                param.set_value(param + 0.1)
        teacher.update()
    state = pickle.loads(pickle.dumps(teacher.state()))
    again = EMATeacher(student, decay=0.9)
    again.load(state)
    assert again.updates == 3 and again.names == teacher.names
    assert all(np.array_equal(a.numpy(), b.numpy())
               for (a, _), (b, _) in zip(again.pairs, teacher.pairs))
    assert not np.array_equal(again.pairs[0][0].numpy(), again.pairs[0][1].numpy())


def _refinement(tmp_path, records, resume_state):
    cfg = SimpleNamespace(save_dir=str(tmp_path), filename='run')
    trainer = SimpleNamespace(cfg=cfg, model=tiny_detector(),
                              dataset=SimpleNamespace(roidbs=records),
                              resume_state=resume_state)
    callback = OnlineRefinement(trainer, vars(Refinement(enable=True)))
    callback.on_train_begin({})
    return callback


def _record(name, label, boxes):
    n = len(boxes)
    return {'im_file': name, 'img_label': np.array(label, np.float32),
            'gt_bbox': np.array(boxes, np.float32).reshape(n, 4),
            'gt_class': np.zeros((n, 1), np.int32), 'gt_score': np.ones((n, 1), np.float32)}


def test_refinement_resumes_with_its_teacher_boxes_and_history(tmp_path):
    records = [_record('a.png', [1, 0, 0], [[1, 2, 3, 4]]), _record('good.png', [0, 0, 0], [])]
    first = _refinement(tmp_path, records, {})
    first.teacher.updates = 7
    first.records[0].update(gt_bbox=np.array([[5, 6, 7, 8]], np.float32),
                            gt_score=np.array([[0.25]], np.float32))
    first.history = [{'epoch': 1}]
    state = pickle.loads(pickle.dumps(first.state()))
    assert [r['im_file'] for r in state['records']] == ['a.png'], 'good images have no boxes'
    fresh = [_record('a.png', [1, 0, 0], [[1, 2, 3, 4]]), _record('good.png', [0, 0, 0], [])]
    resumed = _refinement(tmp_path, fresh, {'refinement': state})
    assert resumed.teacher.updates == 7 and resumed.history == [{'epoch': 1}]
    assert fresh[0]['gt_bbox'].tolist() == [[5, 6, 7, 8]] and fresh[0]['gt_score'][0, 0] == 0.25
    other = [_record('b.png', [1, 0, 0], [[1, 2, 3, 4]])]
    with pytest.raises(ValueError, match='no refined boxes for b.png'):
        _refinement(tmp_path, other, {'refinement': state})


def _train(workdir, data, save_dir, die_at=None, resume=None):
    argv = [os.path.join(REPO_ROOT, 'tools', 'train.py'), '-c', CONFIG, '--eval',
            *(['-r', resume] if resume else []), '-o', 'epoch=4', 'snapshot_epoch=1',
            f'save_dir={save_dir}', 'Refinement.start_epoch=1', 'Refinement.interval=1',
            'Refinement.min_score=0.0', 'ScoredRetinaHead.nms.score_threshold=0.0',
            'LearningRate.base_lr=0.01', 'TrainDataset.good_per_defective=0.5', *data]
    if die_at is None:
        return run_tool('train.py', *argv[1:], cwd=workdir)
    result = subprocess.run([sys.executable, '-c', DIE_AT_STEP.format(
        tools=os.path.join(REPO_ROOT, 'tools'), at=die_at, argv=argv)], cwd=workdir,
        capture_output=True, text=True)
    assert result.returncode == 9, result.stderr[-2000:]


def _weights(path):
    return {k: np.asarray(v) for k, v in paddle.load(path).items()}


@pytest.mark.slow
def test_a_detector_killed_mid_epoch_and_resumed_equals_an_uninterrupted_run(tiny_dataset,
                                                                            tmp_path):
    """RetinaNet-MIL with validation, a refresh of the boxes after every epoch (teacher
    scores kept from 0) and a new draw of good images each epoch, 4 epochs: killed in the
    middle of epoch 2 (after two refreshes and the epoch-1 snapshot), then resumed from
    that snapshot, it ends with bit-identical weights, best model and refined boxes."""
    workdir = str(tmp_path)
    data = [f'TrainDataset.dataset_dir={tiny_dataset}', f'EvalDataset.dataset_dir={tiny_dataset}',
            f'TrainDataset.boxes_file={tiny_dataset}/annotations.json']
    _train(workdir, data, 'whole')
    _train(workdir, data, 'killed', die_at=(2, 1))
    snapshots = sorted(os.listdir(tmp_path / 'killed' / 'rmil_demo'))
    assert {'1.pdparams', '1.pdopt', '1.pdstate'} <= set(snapshots)
    assert not any(name.startswith('2.') for name in snapshots)
    log = _train(workdir, data, 'killed', resume='killed/rmil_demo/1')
    assert 'resumed with the teacher and the refined boxes after 2 refinement(s)' in log
    assert 'Epoch: [1]' not in log and 'Epoch: [2]' in log
    whole, resumed = tmp_path / 'whole' / 'rmil_demo', tmp_path / 'killed' / 'rmil_demo'
    for name in ('model_final.pdparams', 'best_model.pdparams'):
        a, b = _weights(str(whole / name)), _weights(str(resumed / name))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), name
    refined = [json.load(open(folder / 'refined_boxes.json')) for folder in (whole, resumed)]
    assert refined[0] == refined[1] and [h['epoch'] for h in refined[0]['history']] == [1, 2, 3]
    assert any(h['images_changed'] for h in refined[0]['history']), 'the refreshes did work'
    summaries = [json.load(open(folder / 'train_summary.json')) for folder in (whole, resumed)]
    assert [(s['resumed_from'], s['start_epoch']) for s in summaries] == [
        (None, 0), ('killed/rmil_demo/1', 2)]
    assert summaries[0]['refinement'] == summaries[1]['refinement']
