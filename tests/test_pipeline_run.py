"""The whole pipeline through ``tools/run_pipeline.py`` on a tiny synthetic dataset: the
report, skipping finished stages, redoing changed ones, and a run killed mid-stage that
resumes."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT
from tool_runner import failing_tool, run_tool

DEFAULT = os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml')
REPORT_KEYS = ('image_auroc', 'image_ap', 'cam_maxboxacc_v2', 'cam_pxap', 'pseudo_map50',
               'det_map50', 'det_map50_95', 'miss_rate', 'overkill_rate', 'few_boxes_used',
               'seconds_per_stage', 'images_per_second_infer', 'model_size_mb', 'commit',
               'config')
TRUTH_KEYS = ('cam_maxboxacc_v2', 'cam_pxap', 'pseudo_map50', 'det_map50', 'det_map50_95')


def tiny_pipeline(workdir, dataset, detector_epochs=2):
    """A pipeline config for the tiny dataset: the default stages, short schedules."""
    path = os.path.join(workdir, 'tiny_pipeline.yml')
    with open(path, 'w') as f:
        f.write(f'''_BASE_: ["{DEFAULT}"]
dataset_dir: {dataset}
output_dir: {os.path.join(workdir, 'out')}
input_size: 64
classifier:
  opts: {{PatchEvidence: {{mil_epochs: 8}}}}
detector:
  opts: {{epoch: {detector_epochs}, snapshot_epoch: 1, TrainReader: {{batch_size: 4}},
         Refinement: {{start_epoch: 1, interval: 1}}}}
evaluation: {{grid_images: 4}}
export: {{speed_images: 3}}
''')
    return path


def stage_states(log):
    """``{stage: 'run' | 'skip'}`` from the plan lines of a pipeline log."""
    states = {}
    for line in log.splitlines():
        parts = line.split(']', 1)[-1].split()
        if len(parts) >= 2 and parts[0] in ('classifier', 'classifier_eval', 'pseudo_boxes',
                                            'detector', 'evaluation', 'export'):
            if parts[1] in ('to', 'finished'):
                states[parts[0]] = 'run' if parts[1] == 'to' else 'skip'
    return states


@pytest.fixture(scope='module')
def finished_run(tiny_dataset, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('pipeline'))
    config = tiny_pipeline(workdir, tiny_dataset)
    log = run_tool('run_pipeline.py', '-c', config, cwd=workdir)
    return workdir, config, log


def test_the_report_has_every_number_and_a_page(finished_run):
    workdir, _, log = finished_run
    assert set(stage_states(log).values()) == {'run'}
    out = os.path.join(workdir, 'out')
    report = json.load(open(os.path.join(out, 'report.json')))
    for key in REPORT_KEYS:
        assert key in report, key
    for key in ('image_auroc', 'image_ap', 'miss_rate', 'overkill_rate', 'cam_pxap',
                'pseudo_map50', 'det_map50', 'det_map50_95'):
        assert report[key] is not None and 0.0 <= report[key] <= 1.0, key
    assert 0.0 <= report['cam_maxboxacc_v2'] <= 100.0
    assert report['few_boxes_used'] == 0
    assert report['detector']['at_config_threshold']['threshold'] == 0.5
    assert report['threshold_source'] == 'val' and 0 < report['operating_threshold'] <= 1
    assert set(report['seconds_per_stage']) == {'classifier', 'classifier_eval', 'pseudo_boxes',
                                                'detector', 'evaluation', 'export'}
    assert all(s > 0 for s in report['seconds_per_stage'].values())
    assert report['images_per_second_infer'] > 0 and report['model_size_mb'] > 0
    assert report['config']['dataset_dir'] and report['dataset']['input_size'] == 64
    page = open(os.path.join(out, 'report.html')).read()
    pictures = os.listdir(os.path.join(out, 'report_files', 'grid'))
    assert len(pictures) == 4 and all(p in page for p in pictures)
    assert 'pr_image.png' in page and 'det_map50' in page and 'Per class' in page
    assert os.path.isfile(os.path.join(report['exported_model'], 'infer_cfg.yml'))
    refined = json.load(open(os.path.join(out, 'detector', 'refined_boxes.json')))
    assert [h['epoch'] for h in refined['history']] == [1]


def test_a_rerun_skips_finished_stages_and_a_change_redoes_only_downstream(finished_run):
    workdir, config, _ = finished_run
    log = run_tool('run_pipeline.py', '-c', config, cwd=workdir)
    assert set(stage_states(log).values()) == {'skip'}
    before = json.load(open(os.path.join(workdir, 'out', 'classifier', 'stage.json')))
    log = run_tool('run_pipeline.py', '-c', config, '-o', 'evaluation.threshold=0.5',
                   'pseudo_boxes.opts.PatchEvidence.extent=0.4', cwd=workdir)
    assert stage_states(log) == {'classifier': 'skip', 'classifier_eval': 'run',
                                 'pseudo_boxes': 'run', 'detector': 'run',
                                 'evaluation': 'run', 'export': 'run'}
    report = json.load(open(os.path.join(workdir, 'out', 'report.json')))
    assert report['operating_threshold'] == 0.5 and report['threshold_source'] == 'fixed'
    assert report['few_boxes_used'] == 0
    boxes = json.load(open(os.path.join(workdir, 'out', 'pseudo_boxes', 'pseudo_boxes.json')))
    assert boxes['info']['settings']['extent'] == 0.4
    after = json.load(open(os.path.join(workdir, 'out', 'classifier', 'stage.json')))
    assert before == after, 'a skipped stage keeps its record'


def test_a_failing_stage_names_itself_and_its_log(finished_run):
    workdir, config, _ = finished_run
    error = failing_tool('run_pipeline.py', '-c', config, '-o',
                         'detector.opts.TrainDataset.boxes_file=x', 'detector.opts.epoch=1',
                         'detector.opts.architecture=NoSuchDetector', cwd=workdir)
    assert 'stage "detector" failed' in error and 'detector.log' in error
    assert 'NoSuchDetector' in error


def _wait_for(path, seconds, proc):
    deadline = time.time() + seconds
    while not os.path.exists(path):
        assert proc.poll() is None, 'the pipeline ended before the kill'
        assert time.time() < deadline, f'{path} did not appear in {seconds} s'
        time.sleep(0.5)


def test_a_run_killed_mid_stage_resumes_without_ground_truth(tiny_dataset, tmp_path):
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_dataset, data)
    os.remove(os.path.join(data, 'annotations.json'))
    shutil.rmtree(os.path.join(data, 'masks'), ignore_errors=True)
    workdir = str(tmp_path)
    config = tiny_pipeline(workdir, data, detector_epochs=4)
    proc = subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, 'tools', 'run_pipeline.py'),
                             '-c', config], cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:  # kill everything once the detector has saved its first epoch
        _wait_for(os.path.join(workdir, 'out', 'detector', '0.pdparams'), 600, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    out = os.path.join(workdir, 'out')
    assert not os.path.exists(os.path.join(out, 'detector', 'stage.json'))
    assert not os.path.exists(os.path.join(out, 'report.json'))
    log = run_tool('run_pipeline.py', '-c', config, cwd=workdir)
    assert stage_states(log) == {'classifier': 'skip', 'classifier_eval': 'skip',
                                 'pseudo_boxes': 'skip', 'detector': 'run', 'evaluation': 'run',
                                 'export': 'run'}
    assert 'detector: train RetinaNet-MIL on them (resuming its partial work' in log
    assert 'resuming detector from' in log and 'Epoch: [0]' not in log.split('[4/6]')[1]
    report = json.load(open(os.path.join(out, 'report.json')))
    for key in TRUTH_KEYS:
        assert report[key] is None, key
    assert report['image_auroc'] is not None and report['miss_rate'] is not None
    assert report['resumed_stages'] == ['detector']
    assert not [f for f in os.listdir(os.path.join(out, 'detector')) if f[0].isdigit()], \
        'epoch snapshots are removed once the stage is finished'


def test_a_review_redoes_the_pseudo_boxes_and_downstream_only(finished_run):
    """Decisions made through the review server, then the fixture's command again (the
    tests above leave stages 1-3 finished with its settings, so only the review changes)."""
    from ppdet_wsd.review.server import create_app
    workdir, config, _ = finished_run
    out = os.path.join(workdir, 'out')
    client = create_app(os.path.join(out, 'pseudo_boxes', 'pseudo_boxes.json'),
                        json.load(open(os.path.join(out, 'dataset_profile.json')))['image_root']
                        ).test_client()
    queue = client.get('/api/state').get_json()['images']
    assert client.post('/api/decision', json={'file': queue[0]['file'],
                                              'action': 'accept_all'}).status_code == 200
    assert client.post('/api/decision', json={'file': queue[1]['file'], 'action': 'no_defect',
                                              'value': True}).status_code == 200
    log = run_tool('run_pipeline.py', '-c', config, cwd=workdir)
    assert stage_states(log) == {'classifier': 'skip', 'classifier_eval': 'skip',
                                 'pseudo_boxes': 'run', 'detector': 'run',
                                 'evaluation': 'run', 'export': 'run'}
    report = json.load(open(os.path.join(out, 'report.json')))
    assert report['few_boxes_used'] == 2
    assert (report['reviewed']['images_reviewed'], report['reviewed']['no_defect_images']) == \
        (2, 1)
    assert 'Reviewed pseudo boxes' in open(os.path.join(out, 'report.html')).read()
    assert os.path.isfile(os.path.join(out, 'pseudo_boxes', 'review.json'))
