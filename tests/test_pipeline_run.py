"""The whole pipeline through ``tools/run_pipeline.py`` on a tiny synthetic dataset: the
report, skipping finished stages, redoing changed ones, and a run killed mid-stage that
resumes."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest
import yaml
from sklearn.metrics import average_precision_score, roc_auc_score

from conftest import REPO_ROOT
from ppdet_wsd.metrics import verdict_rates
from ppdet_wsd.pipeline.evidence_stages import classifier_scores
from ppdet_wsd.pipeline.verdict import source_scores
from ppdet_wsd_runtime.runner import run_deploy
from tool_runner import failing_tool, run_tool

pytestmark = pytest.mark.slow  # the whole pipeline in subprocesses (README, Tests)

DEFAULT = os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml')
REPORT_KEYS = ('image_auroc', 'image_ap', 'cam_maxboxacc_v2', 'cam_pxap', 'pseudo_map50',
               'det_map50', 'det_map50_95', 'miss_rate', 'overkill_rate', 'few_boxes_used',
               'seconds_per_stage', 'images_per_second_infer', 'model_size_mb', 'commit',
               'config')
TRUTH_KEYS = ('cam_maxboxacc_v2', 'cam_pxap', 'pseudo_map50', 'det_map50', 'det_map50_95')
# stages 1-2 of the tiny pipeline below on the seeded tiny dataset (conftest.tiny_dataset),
# on CPU, identical on the paddle 3 and paddle 2.6 lines
STAGE_1_2_GOLDEN = {'cam_maxboxacc_v2': 800 / 9, 'cam_pxap': 0.5536609288525487,
                    'pseudo_map50': 0.6699669966996697, 'good_images_boxed': 1.0}
GOLDEN_TOLERANCE = {'cam_pxap': 1e-6, 'pseudo_map50': 1e-6}
CLASSIFIER_GOLDEN = {'image_auroc': 1.0, 'image_ap': 1.0, 'miss_rate': 1 / 3,
                     'overkill_rate': 0.0}
# stage 3 (32 epochs, one refresh of the boxes after epoch 16: see tiny_pipeline) of the
# same run. On a 5-box test split one box is a large share of the mAP, so the mAPs get a
# one-box tolerance (another CPU's or paddle line's rounding must not fail CI; a collapse
# to 0 still does); fit_map50 (the train split's boxes), the AUROC and the miss rate are
# the tight checks. Measured 2026-12-02 on an Intel Xeon, paddle 3.3 / 2.6: det_map50
# 0.4919 / 0.5200, det_map50_95 0.152 / 0.196, fit_map50 0.8038 / 0.8119, operating
# threshold 0.147 / 0.123, no good test image judged defective on either line; each golden
# is the two lines' mean. With the 8 epochs trained before 2026-12-02 the detector's
# scores sat at 0.01-0.03, so its threshold landed among near ties (0.016 on a Xeon, 0.032
# on an AMD EPYC for the same code) and its over-kill rate flipped between CPUs; the
# over-kill rate is still not a golden. Earlier measurements: this file's git history.
# Re-measured the same day when the normality map's position scale became a 5x5 table
# (stage 1's levels moved; every pseudo-box score rose by about 0.01, the boxes stayed):
# paddle 3.3 / 2.6 det_map50 0.7178 / 0.7010, det_map50_95 0.261 / 0.307, fit_map50
# 0.7508 / 0.8548, threshold 0.188 / 0.183; fit_map50's tolerance spans both lines.
DETECTOR_GOLDEN = {'det_map50': 0.709, 'det_map50_95': 0.284, 'fit_map50': 0.803,
                   'image_auroc': 1.0, 'operating_threshold': 0.185, 'miss_rate': 0.0}
DETECTOR_TOLERANCE = {'det_map50': 0.115, 'det_map50_95': 0.05, 'fit_map50': 0.06,
                      'operating_threshold': 0.04}


def detector_numbers(report):
    """The detector's golden numbers of a pipeline report (see ``DETECTOR_GOLDEN``)."""
    detector = report['detector']
    return {'det_map50': report['det_map50'], 'det_map50_95': report['det_map50_95'],
            'fit_map50': report['fit_map50'], 'image_auroc': detector['image_auroc'],
            'operating_threshold': report['operating_threshold'],
            'miss_rate': detector['at_operating_threshold']['miss_rate']}


def assert_detector_golden(report):
    for key, value in detector_numbers(report).items():
        assert value == pytest.approx(DETECTOR_GOLDEN[key],
                                      abs=DETECTOR_TOLERANCE.get(key, 1e-9)), key


TINY_DETECTOR_EPOCHS = 32


def tiny_pipeline(workdir, dataset, detector_epochs=TINY_DETECTOR_EPOCHS):
    """A pipeline config for the tiny dataset: the default stages, short schedules, and the
    detector's refinement turned on (off by default) so the pipeline tests cover it: it
    refines its boxes once, half-way. Its 32 epochs of 5 steps train at the learning rate
    0.001 (the default's 0.0003 suits hundreds of steps, docs/detector.md): with 0.0003 the
    tiny detector's val AUROC fell to 0.78 and the verdict these tests follow left it. With
    8 epochs (before 2026-12-02) its scores sat at 0.01-0.03, among near ties: a change of
    stage 1's levels that raised every pseudo-box score by about 0.01 (boxes unchanged)
    dropped its val AUROC from 1.0 to 0.33 and its test mAP@0.5 from 0.18 to 0.02, and the
    verdict left it. With 32 epochs (about 5 s more per run) both the code before and
    after that change train a detector the verdict keeps (val AUROC 1.0 for both; test
    mAP@0.5 0.49 / 0.72, fit 0.80 / 0.75, operating thresholds 0.15 / 0.19). One
    process (the default ``auto`` starts one per core): the goldens are one process's
    float sums; ``tests/test_distributed.py`` runs it with two."""
    path = os.path.join(workdir, 'tiny_pipeline.yml')
    with open(path, 'w') as f:
        f.write(f'''_BASE_: ["{DEFAULT}"]
dataset_dir: {dataset}
output_dir: {os.path.join(workdir, 'out')}
nproc: 1
input_size: 64
classifier:
  opts: {{PatchEvidence: {{mil_epochs: 8}}}}
detector:
  opts: {{epoch: {detector_epochs}, snapshot_epoch: 1, TrainReader: {{batch_size: 4}},
         LearningRate: {{base_lr: 0.001}},
         Refinement: {{enable: true, start_epoch: {max(1, detector_epochs // 2)},
                      interval: {detector_epochs}}}}}
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


REFERENCE = 'reference'  # the fixture's detector outputs, kept from the later tests' re-runs


@pytest.fixture(scope='module')
def finished_run(tiny_dataset, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('pipeline'))
    config = tiny_pipeline(workdir, tiny_dataset)
    log = run_tool('run_pipeline.py', '-c', config, cwd=workdir)
    os.makedirs(os.path.join(workdir, REFERENCE))
    for stage, name in (('detector', 'model_final.pdparams'), ('evaluation', 'metrics.json')):
        shutil.copy(os.path.join(workdir, 'out', stage, name),
                    os.path.join(workdir, REFERENCE, name))
    return workdir, config, log


def _detector_outputs(weights, metrics):
    """The detector's weights (``model_final.pdparams``) and its evaluation's numbers
    (``metrics.json``, without timings)."""
    params = {k: np.asarray(v) for k, v in paddle.load(weights).items()}
    test = json.load(open(metrics))
    test.pop('seconds')
    test['fit_to_targets'].pop('seconds')
    return params, test


def test_the_report_has_every_number_and_a_page(finished_run):
    workdir, _, log = finished_run
    assert set(stage_states(log).values()) == {'run'}
    out = os.path.join(workdir, 'out')
    report = json.load(open(os.path.join(out, 'report.json')))
    for key in REPORT_KEYS:
        assert key in report, key
    # stages 1-2 on the seeded tiny dataset (5 test images: 2 good, 1 per class): golden
    for key, value in STAGE_1_2_GOLDEN.items():
        assert report[key] == pytest.approx(value, abs=GOLDEN_TOLERANCE.get(key, 1e-9)), key
    for key, value in CLASSIFIER_GOLDEN.items():
        assert report['classifier'][key] == pytest.approx(value, abs=1e-9), key
    assert report['pseudo_boxes']['boxes'] == 12 and report['pseudo_boxes']['images'] == 19
    assert_detector_golden(report)
    assert report['verdict_source'] == 'detector', 'val AUROC 1.0 for all three: the detector'
    # the verdict and the detector: each number is also checked against the per-image
    # outputs of the evaluation stage it comes from
    test = json.load(open(os.path.join(out, 'evaluation', 'metrics.json')))
    assert test['num_images'] == 6 and test['boxes']['num_gt_boxes'] == 5
    verdict = test['verdict']
    assert report['verdict_source'] == verdict['source'] in ('detector', 'classifier', 'fusion')
    defective = np.array(verdict['test']['defective'])
    scores = np.array(verdict['test']['defect_scores'])
    assert defective.tolist() == [False, False, False, True, True, True]
    assert report['image_auroc'] == pytest.approx(roc_auc_score(defective, scores))
    assert report['image_ap'] == pytest.approx(average_precision_score(defective, scores))
    rates = verdict_rates(defective, scores, report['verdict_threshold'])
    assert (report['miss_rate'], report['overkill_rate']) == (rates['miss_rate'],
                                                              rates['overkill_rate'])
    detector = verdict_rates(test['defective'], test['defect_scores'],
                             report['operating_threshold'])
    assert report['detector']['at_operating_threshold'] == detector
    assert report['detector']['image_auroc'] == pytest.approx(
        roc_auc_score(test['defective'], test['defect_scores']))
    for key in ('det_map50', 'det_map50_95', 'fit_map50'):
        assert isinstance(report[key], float) and 0.0 <= report[key] <= 1.0, key
    assert report['det_map50'] == test['boxes']['map50']
    assert report['few_boxes_used'] == 0
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
    assert [h['epoch'] for h in refined['history']] == [TINY_DETECTOR_EPOCHS // 2]


def _deployed_verdicts(model_dir, out, test, out_dir):
    """The runner on the evaluation's test images (copied into one folder): per image, in
    the evaluation's order, ``(verdict, defect_score)``; and the results document."""
    image_root = json.load(open(os.path.join(out, 'dataset_profile.json')))['image_root']
    folder = os.path.join(out_dir, 'images')
    for index, name in enumerate(test['files']):
        os.makedirs(folder, exist_ok=True)
        shutil.copy(os.path.join(image_root, name),
                    os.path.join(folder, f'{index:03d}_{os.path.basename(name)}'))
    document = run_deploy(model_dir, folder, os.path.join(out_dir, 'results'))
    by_index = {int(os.path.basename(r['file'])[:3]): r for r in document['images']}
    return [(by_index[i]['verdict'], by_index[i]['defect_score'])
            for i in range(len(test['files']))], document


def _assert_same_verdicts(deployed, defect_scores, threshold):
    """The runner's verdicts are the pipeline's (the same source's defect scores within
    float noise, judged at the same threshold)."""
    assert len(deployed) == len(defect_scores)
    noise = 2e-5  # eager vs deployed float paths
    for (verdict, score), expected in zip(deployed, defect_scores):
        assert score == pytest.approx(expected, abs=noise)
        # twice the noise from the threshold: no score within noise of it can cross it
        assert abs(expected - threshold) > 2 * noise, 'a score on the threshold: not a fair check'
        assert verdict == ('defective' if expected >= threshold else 'good')


def test_the_deployed_verdict_is_the_pipelines(finished_run, tmp_path):
    """The export carries the verdict the evaluation chose (here the detector's, so no
    stage-1 files) and the runner gives the evaluation's verdict on every test image.
    Then the export stage again on a copy of the run whose evaluation chose the fusion
    (the tiny run's val AUROC ties, so the fusion is set by hand at a threshold between
    the test scores), with ``export.heat_maps``: the export carries the stage-1 classifier
    and its heat maps, and the runner's verdicts are the pipeline's fusion verdicts."""
    workdir, _, _ = finished_run
    out = os.path.join(workdir, 'out')
    report = json.load(open(os.path.join(out, 'report.json')))
    test = json.load(open(os.path.join(out, 'evaluation', 'metrics.json')))
    verdict = test['verdict']
    with open(os.path.join(report['exported_model'], 'infer_cfg.yml')) as f:
        section = yaml.safe_load(f)['verdict']
    assert section == {'source': 'detector', 'threshold': verdict['threshold'],
                       'classes': ['crack', 'scratch', 'spot']}
    assert not os.path.exists(os.path.join(report['exported_model'], 'evidence.npz'))
    deployed, document = _deployed_verdicts(report['exported_model'], out, test,
                                            str(tmp_path / 'detector'))
    assert document['verdict'] == {'source': 'detector', 'threshold': verdict['threshold'],
                                   'exported': True}
    _assert_same_verdicts(deployed, verdict['test']['defect_scores'], verdict['threshold'])

    copy = str(tmp_path / 'out')
    shutil.copytree(out, copy)
    image_root = json.load(open(os.path.join(out, 'dataset_profile.json')))['image_root']
    classifier, _ = classifier_scores(copy, image_root, test['files'])
    fusion = source_scores(test['class_scores'], classifier)['fusion'].max(axis=1)
    ranked = np.sort(fusion)
    threshold = float(ranked[len(ranked) // 2 - 1] + ranked[len(ranked) // 2]) / 2
    metrics_file = os.path.join(copy, 'evaluation', 'metrics.json')
    metrics = json.load(open(metrics_file))
    metrics['verdict'].update(source='fusion', threshold=threshold)
    json.dump(metrics, open(metrics_file, 'w'))
    task_file = os.path.join(copy, 'export', 'stage.task.json')
    task = json.load(open(task_file))
    task.update(output_dir=copy, stage_dir=os.path.join(copy, 'export'),
                result_file=os.path.join(copy, 'export', 'stage.result.json'))
    task['spec']['output_dir'] = copy
    task['spec']['export']['heat_maps'] = True
    json.dump(task, open(task_file, 'w'))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT,
                                                       os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run([sys.executable, '-m', 'ppdet_wsd.pipeline.worker', task_file],
                            cwd=workdir, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    exported = json.load(open(os.path.join(copy, 'export', 'metrics.json')))
    model_dir = exported['model_dir']
    assert model_dir.startswith(copy) and exported['verdict_source'] == 'fusion'
    # the stage-1 graph holds the detector's frozen ImageNet backbone too: one copy, not two
    assert report['model_size_mb'] < exported['model_size_mb'] < report['model_size_mb'] + 8
    assert exported['heat_map'] == 'fused' and exported['images_per_second_with_heat_maps'] > 0
    assert os.path.isfile(os.path.join(model_dir, 'evidence_bank.npy'))
    with open(os.path.join(model_dir, 'infer_cfg.yml')) as f:
        infer_cfg = yaml.safe_load(f)
    section = infer_cfg['verdict']
    assert infer_cfg['backbone'] == {'graph': 'evidence', 'inputs': ['stride8', 'stride16',
                                                                    'stage6']}
    assert section['source'] == 'fusion' and section['threshold'] == threshold
    assert section['evidence']['geometry']['short_side'] == 320
    deployed, document = _deployed_verdicts(model_dir, out, test, str(tmp_path / 'fusion'))
    assert document['verdict']['source'] == 'fusion'
    _assert_same_verdicts(deployed, fusion, threshold)
    assert {v for v, _ in deployed} == {'good', 'defective'}


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
    result = json.load(open(os.path.join(workdir, 'out', 'pseudo_boxes', 'stage.result.json')))
    assert sum(a['above_level'] for a in boxes['annotations']) == result['boxes_above_level']
    assert all(isinstance(a['above_level'], bool) for a in boxes['annotations'])
    after = json.load(open(os.path.join(workdir, 'out', 'classifier', 'stage.json')))
    assert before == after, 'a skipped stage keeps its record'


def test_a_failing_stage_names_itself_and_its_log(finished_run):
    workdir, config, _ = finished_run
    error = failing_tool('run_pipeline.py', '-c', config, '-o',
                         'detector.opts.TrainDataset.boxes_file=x', 'detector.opts.epoch=1',
                         'detector.opts.architecture=NoSuchDetector', cwd=workdir)
    assert 'stage "detector" failed' in error and 'detector.log' in error
    assert 'NoSuchDetector' in error


def _wait_for(path, seconds, proc, poll=0.5):
    deadline = time.time() + seconds
    while not os.path.exists(path):
        assert proc.poll() is None, 'the pipeline ended before the kill'
        assert time.time() < deadline, f'{path} did not appear in {seconds} s'
        time.sleep(poll)


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


def _stage_1_2_outputs(out):
    """What stages 1-2 made: every pseudo box (image, class, box, score) and the test-split
    numbers of classifier_eval (without its timing)."""
    coco = json.load(open(os.path.join(out, 'pseudo_boxes', 'pseudo_boxes.json')))
    files = {im['id']: os.path.basename(im['file_name']) for im in coco['images']}
    boxes = sorted((files[a['image_id']], a['category_id'], a['bbox'], a['score'])
                   for a in coco['annotations'])
    metrics = json.load(open(os.path.join(out, 'classifier_eval', 'metrics.json')))
    metrics.pop('heat_map_images_per_second')
    return boxes, metrics


def test_kill_9_at_random_moments_then_a_rerun_equals_an_uninterrupted_run(finished_run,
                                                                          tiny_dataset, tmp_path):
    """Same seed and config in a fresh folder, killed (SIGKILL, whole process group) once in
    each of stages 1, 2 and 3: in stages 1-2 at a seeded moment 0.2-2 s after the stage
    started, in stage 3 as soon as the detector has written its k-th epoch snapshot (k
    seeded, around its refresh of the boxes half-way) -- moments tied to the stages,
    not to the clock, so a faster machine kills in the same stages. Then run to the end:
    no half-written file is read back, stages 1-2 give exactly the uninterrupted run's
    pseudo boxes and numbers, and the detector, resumed from its snapshot, exactly its
    weights and evaluation."""
    workdir = str(tmp_path)
    config = tiny_pipeline(workdir, tiny_dataset)
    out = os.path.join(workdir, 'out')
    rng = random.Random(14)
    snapshot = rng.choice([TINY_DETECTOR_EPOCHS // 2 + k for k in (-2, -1, 0)])
    for stage in ('classifier', 'pseudo_boxes', 'detector'):
        proc = subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, 'tools',
                                                              'run_pipeline.py'), '-c', config],
                                cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            if stage == 'detector':
                _wait_for(os.path.join(out, stage, f'{snapshot}.pdparams'), 300, proc, 0.02)
            else:
                _wait_for(os.path.join(out, stage, 'stage.started.json'), 300, proc)
                time.sleep(rng.uniform(0.2, 2.0))
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not os.path.exists(os.path.join(out, 'report.json')), 'killed before the end'
    assert not os.path.exists(os.path.join(out, 'detector', 'model_final.pdparams'))
    log = run_tool('run_pipeline.py', '-c', config, cwd=workdir)
    assert f'resuming detector from {os.path.join(out, "detector", "")}' in log
    assert _stage_1_2_outputs(out) == _stage_1_2_outputs(os.path.join(finished_run[0], 'out'))
    report = json.load(open(os.path.join(out, 'report.json')))
    for key, value in STAGE_1_2_GOLDEN.items():
        assert report[key] == pytest.approx(value, abs=GOLDEN_TOLERANCE.get(key, 1e-9)), key
    assert report['resumed_stages'] == ['classifier', 'pseudo_boxes', 'detector']
    weights, test = _detector_outputs(os.path.join(out, 'detector', 'model_final.pdparams'),
                                      os.path.join(out, 'evaluation', 'metrics.json'))
    reference = os.path.join(finished_run[0], REFERENCE)
    reference_weights, reference_test = _detector_outputs(
        os.path.join(reference, 'model_final.pdparams'), os.path.join(reference, 'metrics.json'))
    assert weights.keys() == reference_weights.keys()
    assert all(np.array_equal(weights[k], reference_weights[k]) for k in weights), \
        "the resumed detector has the uninterrupted run's weights, bit for bit"
    assert test == reference_test
    assert_detector_golden(report)


def test_a_review_redoes_the_pseudo_boxes_and_downstream_only(finished_run):
    """Decisions made through the review server, then the fixture's command again (the
    tests above leave stages 1-3 finished with its settings, so only the review changes).
    Last of the module: it changes the shared run's pseudo boxes."""
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
