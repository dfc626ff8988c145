"""The pipeline's parts that need no training: its config, the settings it adapts to the
data, the stage fingerprints and records."""
import json
import os

import numpy as np
import pytest

from conftest import REPO_ROOT
from ppdet_wsd.evidence.geometry import choose_canvas, choose_short_side
from ppdet_wsd.pipeline import records
from ppdet_wsd.pipeline.adapt import anchor_prior, set_input_canvas, step_schedule
from ppdet_wsd.pipeline.runner import (STAGES, PipelineError, plan_fingerprints,
                                       profile_dataset, stages_to_run)
from ppdet_wsd.pipeline.spec import PipelineConfigError, load_pipeline_config, parse_overrides
from ppdet_wsd.utils.dist import mean_over_processes, per_process_batch

DEFAULT = os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml')


def _spec(dataset, tmp_path, **overrides):
    return load_pipeline_config(DEFAULT, dict({'dataset_dir': dataset,
                                               'output_dir': str(tmp_path / 'out')}, **overrides))


def test_overrides_nest_and_keep_siblings():
    opts = parse_overrides(['detector.opts.epoch=3', 'detector.opts.snapshot_epoch=1',
                            'dataset_dir=/data/x', 'evaluation.threshold=0.4'])
    assert opts == {'detector': {'opts': {'epoch': 3, 'snapshot_epoch': 1}},
                    'dataset_dir': '/data/x', 'evaluation': {'threshold': 0.4}}
    with pytest.raises(PipelineConfigError, match='key=value'):
        parse_overrides(['epoch'])


def test_stage_configs_resolve_relative_to_the_file_naming_them(tmp_path, tiny_dataset):
    child = tmp_path / 'nested' / 'mine.yml'
    child.parent.mkdir()
    child.write_text(f'_BASE_: ["{DEFAULT}"]\nevaluation: {{grid_images: 4}}\n')
    spec = load_pipeline_config(str(child), {'dataset_dir': tiny_dataset, 'output_dir': 'o'})
    assert spec['classifier']['config'] == os.path.join(
        REPO_ROOT, 'configs', 'pipeline', 'stages', 'evidence_efficientnet_lite0.yml')
    assert spec['evaluation'] == {'threshold': 'val', 'grid_images': 4}
    assert spec['output_dir'] == os.path.abspath('o')


@pytest.mark.parametrize('overrides, message', [
    ({'output_dir': 'o'}, '"dataset_dir" is not set'),
    ({'dataset_dir': 'd', 'output_dir': 'o', 'epochs': 3}, '"epochs" is not a key'),
    ({'dataset_dir': 'd', 'output_dir': 'o', 'evaluation': {'threshold': 2}},
     'evaluation.threshold'),
    ({'dataset_dir': 'd', 'output_dir': 'o', 'detector': {'config': 'missing.yml'}},
     'detector.config" names missing.yml'),
    ({'dataset_dir': 'd', 'output_dir': 'o', 'detector': {'steps': 0}},
     '"detector.steps" must be a whole number > 0 or null'),
    ({'dataset_dir': 'd', 'output_dir': 'o', 'nproc': 0},
     '"nproc" must be auto or a whole number >= 1, got 0'),
])
def test_config_errors_name_the_file_and_the_key(overrides, message):
    with pytest.raises(PipelineConfigError, match=message) as error:
        load_pipeline_config(DEFAULT, overrides)
    assert 'default.yml' in str(error.value)


def test_input_size_follows_the_images():
    assert choose_short_side(np.array([[300, 400], [330, 500], [310, 450]]), 96, 256) == 256
    assert choose_short_side(np.array([[130, 140], [128, 200]]), 96, 256) == 128
    assert choose_short_side(np.array([[40, 40]]), 96, 256) == 96


def test_the_canvas_keeps_the_images_aspect():
    portrait = np.array([[323, 271], [330, 280], [300, 250]])
    assert choose_canvas(portrait, 320) == [384, 320], '320 * 1.19 rounded to 32'
    assert choose_canvas(np.array([[500, 1250]]), 448) == [448, 1024], 'long side capped'
    assert choose_canvas(np.array([[64, 64]]), 64) == [64, 64]


def test_set_input_canvas_rewrites_every_reader():
    cfg = {r: {'sample_transforms': [{'DecodeImage': {}},
                                     {'LetterboxResize': {'canvas': [320, 320]}}]}
           for r in ('TrainReader', 'EvalReader', 'TestReader')}
    cfg['TestReader']['inputs_def'] = {'image_shape': [3, 320, 320]}
    set_input_canvas(cfg, [128, 96])
    assert all(cfg[r]['sample_transforms'][1]['LetterboxResize']['canvas'] == [128, 96]
               for r in cfg)
    assert cfg['TestReader']['inputs_def']['image_shape'] == [3, 128, 96]


def test_anchor_prior_follows_the_pseudo_boxes():
    small = anchor_prior(np.full(50, 12.0), np.ones(50), 8.0, 2.0)
    assert small['used'] and small['octave_base_scale'] == pytest.approx(1.5)
    assert small['aspect_ratios'] == [0.5, 1.0, 2.0]
    elongated = anchor_prior(np.full(50, 100.0), np.r_[np.full(20, 6.0), np.ones(30)], 8.0, 2.0)
    assert elongated['octave_base_scale'] == 8.0 and elongated['aspect_ratios'][-1] == 4.0
    few = anchor_prior(np.full(5, 12.0), np.ones(5), 8.0, 2.0)
    assert not few['used'] and few['octave_base_scale'] == 2.0


def test_a_step_budget_scales_epochs_snapshots_and_refinement_alike():
    refinement = {'start_epoch': 4, 'interval': 2}
    assert step_schedule(1200, 70, 8, 2, refinement) == \
        {'epoch': 17, 'snapshot_epoch': 4, 'Refinement': {'start_epoch': 8, 'interval': 4}}
    assert step_schedule(1200, 9, 8, 2, refinement) == \
        {'epoch': 133, 'snapshot_epoch': 33, 'Refinement': {'start_epoch': 66, 'interval': 33}}
    assert step_schedule(1200, 5000, 8, 2, refinement) == \
        {'epoch': 2, 'snapshot_epoch': 1, 'Refinement': {'start_epoch': 1, 'interval': 1}}


def test_auto_starts_one_detector_process_per_core_up_to_four(tiny_dataset, tmp_path,
                                                             monkeypatch):
    from ppdet_wsd.pipeline import spec as spec_module
    for machine, expected in ((1, 1), (2, 2), (16, 4)):
        monkeypatch.setattr(spec_module, 'cores', lambda machine=machine: machine)
        assert _spec(tiny_dataset, tmp_path)['nproc'] == expected, machine
    assert _spec(tiny_dataset, tmp_path, nproc=3)['nproc'] == 3, 'a number is kept'


def test_processes_share_the_batch_of_one_step():
    """``nproc`` processes train the schedule of one: each draws its share of the batch."""
    assert [per_process_batch(8, n) for n in (1, 2, 3, 4, 16)] == [8, 4, 3, 2, 1]
    assert mean_over_processes(7) == 7.0  # one process: the value itself


def test_fingerprints_change_only_downstream_of_a_change(tiny_dataset, tmp_path):
    spec = _spec(tiny_dataset, tmp_path)
    profile = profile_dataset(spec)
    base = plan_fingerprints(spec, profile)
    assert base == plan_fingerprints(spec, profile), 'deterministic'
    detector = plan_fingerprints(_spec(tiny_dataset, tmp_path,
                                       detector={'opts': {'epoch': 3}}), profile)
    changed = {s for s in base if base[s] != detector[s]}
    assert changed == {'detector', 'evaluation', 'export'}
    pseudo = plan_fingerprints(_spec(tiny_dataset, tmp_path, pseudo_boxes={
        'opts': {'CAMPseudoBoxGenerator': {'threshold': 0.3}}}), profile)
    assert {s for s in base if base[s] != pseudo[s]} == \
        {'classifier_eval', 'pseudo_boxes', 'detector', 'evaluation', 'export'}


def test_new_ground_truth_redoes_only_the_measuring_stages(tiny_dataset, tmp_path):
    import shutil
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_dataset, data)
    spec = _spec(data, tmp_path)
    before = plan_fingerprints(spec, profile_dataset(spec))
    with open(os.path.join(data, 'annotations.json')) as f:
        coco = json.load(f)
    coco['annotations'] = coco['annotations'][:-1]
    with open(os.path.join(data, 'annotations.json'), 'w') as f:
        json.dump(coco, f)
    os.utime(os.path.join(data, 'annotations.json'), (1, 1))
    after = plan_fingerprints(spec, profile_dataset(spec))
    assert {s for s in before if before[s] != after[s]} == {'classifier_eval', 'evaluation',
                                                            'export'}


def test_a_copy_with_new_dates_redoes_nothing_and_a_changed_image_redoes_everything(
        tiny_dataset, tmp_path):
    import shutil

    import cv2
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_dataset, data)
    for folder, _, files in os.walk(data):  # a copy with other file dates
        for name in files:
            os.utime(os.path.join(folder, name), (1e9, 1e9))
    original_spec, spec = _spec(tiny_dataset, tmp_path), _spec(data, tmp_path)
    original = plan_fingerprints(original_spec, profile_dataset(original_spec))
    copied = plan_fingerprints(spec, profile_dataset(spec))
    assert copied == original, 'content, not dates, decides'
    image = os.path.join(data, 'images', sorted(os.listdir(os.path.join(data, 'images')))[0])
    stat = os.stat(image)
    pixels = cv2.imread(image, cv2.IMREAD_UNCHANGED)
    pixels[0, 0] ^= 1
    cv2.imwrite(image, pixels)
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # its old date back
    changed = plan_fingerprints(spec, profile_dataset(spec))
    assert {s for s in copied if copied[s] != changed[s]} == {s.name for s in STAGES}


def test_stage_records_skip_resume_and_wipe(tmp_path):
    stage = str(tmp_path / 'detector')
    assert records.start(stage, 'a') is False
    open(os.path.join(stage, '0.pdparams'), 'w').close()
    assert records.start(stage, 'a') is True, 'same settings: keep the partial work'
    assert os.path.isfile(os.path.join(stage, '0.pdparams'))
    records.finish(stage, 'a', {'seconds': 1.0})
    assert records.is_finished(stage, 'a') and not records.is_finished(stage, 'b')
    assert records.start(stage, 'b') is False
    assert os.listdir(stage) == [records.STARTED], 'other settings: the old work is wiped'


def test_a_redone_stage_redoes_everything_downstream(tmp_path):
    prints = {s.name: s.name for s in STAGES}
    for s in STAGES:
        records.finish(str(tmp_path / s.name), prints[s.name], {})
    assert stages_to_run(str(tmp_path), prints) == []
    os.remove(tmp_path / 'pseudo_boxes' / records.DONE)
    assert [s.name for s in stages_to_run(str(tmp_path), prints)] == \
        ['pseudo_boxes', 'detector', 'evaluation', 'export']


def test_dataset_problems_name_the_stage_and_the_file(tmp_path, tiny_dataset):
    with pytest.raises(PipelineConfigError, match='"dataset_dir" names .*nowhere, which is not'):
        _spec(str(tmp_path / 'nowhere'), tmp_path)
    import shutil
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_dataset, data)
    with open(os.path.join(data, 'splits.csv')) as f:
        lines = f.read().splitlines()
    with open(os.path.join(data, 'splits.csv'), 'w') as f:
        f.write('\n'.join(line.replace(',test', ',train') for line in lines) + '\n')
    with pytest.raises(PipelineError, match='stage "dataset".*the test split has no usable image'):
        profile_dataset(_spec(data, tmp_path))


def test_the_detector_trains_for_the_step_budget(tiny_dataset, tmp_path):
    """The default pipeline's detector: ``detector.steps`` over the tiny train split's epoch
    (11 defective + 7 good images, batch 8: 3 steps) gives 10 epochs, the cosine schedule
    and the refinement follow; an ``epoch`` in the detector opts wins."""
    from ppdet_wsd.pipeline.stages import apply_step_budget, detector_config
    spec = _spec(tiny_dataset, tmp_path, detector={'steps': 30})
    task = {'stage': 'detector', 'stage_dir': str(tmp_path / 'out' / 'detector'),
            'output_dir': str(tmp_path / 'out'), 'dataset_dir': tiny_dataset,
            'input_canvas': [64, 64], 'spec': spec}
    cfg = detector_config(task, weights=False)
    cfg.TrainDataset['boxes_file'] = os.path.join(tiny_dataset, 'annotations.json')
    assert apply_step_budget(task, cfg) == {'epoch': 10, 'snapshot_epoch': 2,
                                            'Refinement': {'start_epoch': 5, 'interval': 2}}
    assert cfg.epoch == 10 and cfg.Refinement['start_epoch'] == 5
    assert [s.max_epochs for s in cfg.LearningRate['schedulers']
            if hasattr(s, 'max_epochs')] == [10]
    spec['detector']['opts'] = {'epoch': 3}
    assert apply_step_budget(task, detector_config(task, weights=False)) is None
