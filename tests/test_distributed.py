"""Two CPU processes under PaddlePaddle's own launcher (gloo): both training stages, pseudo
boxes sharded over the processes (same result as one process), and the pipeline with
``nproc: 2``."""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from test_pipeline_run import tiny_pipeline
from tool_runner import run_tool

pytestmark = pytest.mark.slow  # the tools in subprocesses (docs: README, Tests)

CAM_CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo', 'cam_demo.yml')
RMIL_CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo', 'rmil_demo.yml')


def launch(tool, *args, cwd, log_dir):
    """``python -m paddle.distributed.launch --nproc_per_node 2 tools/<tool> ...``, which
    must succeed; returns the two worker logs."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-m', 'paddle.distributed.launch',
                             '--nproc_per_node', '2', '--log_dir', log_dir,
                             os.path.join(REPO_ROOT, 'tools', tool), *args],
                            cwd=cwd, env=env, capture_output=True, text=True)
    logs = [open(os.path.join(cwd, log_dir, f'workerlog.{r}')).read() for r in (0, 1)]
    assert result.returncode == 0, f'{tool} failed:\n{result.stdout[-2000:]}\n' + \
        '\n'.join(log[-3000:] for log in logs)
    return logs


@pytest.fixture(scope='module')
def two_process_classifier(tiny_dataset, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('distributed'))
    data = [f'TrainDataset.dataset_dir={tiny_dataset}', f'EvalDataset.dataset_dir={tiny_dataset}']
    logs = launch('train.py', '-c', CAM_CONFIG, '--eval', '-o', 'epoch=2', 'snapshot_epoch=1',
                  *data, cwd=workdir, log_dir='train_logs')
    return workdir, data, logs


def test_the_classifier_trains_in_two_processes(two_process_classifier):
    workdir, _, logs = two_process_classifier
    assert 'Epoch: [1]' in logs[0], 'rank 0 logs the training'
    assert 'Traceback' not in logs[1]
    files = os.listdir(os.path.join(workdir, 'output', 'cam_demo'))
    assert {'model_final.pdparams', 'best_model.pdparams'} <= set(files)


def test_pseudo_boxes_shard_and_match_one_process(two_process_classifier):
    workdir, data, _ = two_process_classifier
    common = ['-c', CAM_CONFIG, '-o', 'weights=output/cam_demo/model_final',
              'PseudoBoxes.split=train', 'PseudoBoxes.num_review=2', *data]
    logs = launch('gen_pseudo_boxes.py', *common, 'PseudoBoxes.chunk_size=4', '--output_dir',
                  'sharded', cwd=workdir, log_dir='pseudo_logs')
    run_tool('gen_pseudo_boxes.py', *common, '--output_dir', 'single', cwd=workdir)
    sharded = json.load(open(os.path.join(workdir, 'sharded', 'pseudo_boxes.json')))
    single = json.load(open(os.path.join(workdir, 'single', 'pseudo_boxes.json')))
    shares = [int(re.findall(rf'process {rank + 1}/2\)[^|]*\|[^|]*\| (\d+)/', log)[-1])
              for rank, log in enumerate(logs)]
    chunks = [min(4, len(single['images']) - start)
              for start in range(0, len(single['images']), 4)]
    assert shares == [sum(chunks[0::2]), sum(chunks[1::2])], 'every other chunk of 4 images'
    for a, b in zip(sharded['images'], single['images'], strict=True):  # batches differ:
        assert a['file_name'] == b['file_name'] and a['image_labels'] == b['image_labels']
        assert a['class_scores'] == pytest.approx(b['class_scores'], abs=1e-5)  # float noise
    assert len(sharded['annotations']) == len(single['annotations']) > 0
    for a, b in zip(sharded['annotations'], single['annotations']):
        assert a['image_id'] == b['image_id'] and a['category_id'] == b['category_id']
        assert a['bbox'] == pytest.approx(b['bbox'], abs=1e-3)
        assert a['score'] == pytest.approx(b['score'], abs=1e-5)
    assert not os.path.exists(os.path.join(workdir, 'sharded', '.parts'))


def test_the_detector_trains_in_two_processes(two_process_classifier):
    workdir, data, _ = two_process_classifier
    run_tool('gen_pseudo_boxes.py', '-c', CAM_CONFIG, '-o', 'weights=output/cam_demo/model_final',
             'PseudoBoxes.split=train', 'PseudoBoxes.num_review=0', *data, '--output_dir',
             'boxes', cwd=workdir)
    logs = launch('train.py', '-c', RMIL_CONFIG, '-o', 'epoch=2', 'snapshot_epoch=1',
                  'Refinement.start_epoch=1', 'Refinement.interval=1',
                  'TrainDataset.boxes_file=boxes/pseudo_boxes.json', *data, cwd=workdir,
                  log_dir='detector_logs')
    assert 'refinement after epoch 1' in logs[0] and 'Traceback' not in logs[1]
    assert os.path.isfile(os.path.join(workdir, 'output', 'rmil_demo', 'model_final.pdparams'))


def test_the_pipeline_runs_two_processes_per_stage(tiny_dataset, tmp_path):
    config = tiny_pipeline(str(tmp_path), tiny_dataset)
    run_tool('run_pipeline.py', '-c', config, '-o', 'nproc=2', cwd=str(tmp_path))
    out = tmp_path / 'out'
    record = json.load(open(out / 'detector' / 'stage.json'))
    assert 'paddle.distributed.launch' in record['command']
    assert (out / 'detector' / 'launch_logs' / 'workerlog.1').is_file()
    for stage in ('classifier', 'pseudo_boxes'):  # numpy work: one process
        record = json.load(open(out / stage / 'stage.json'))
        assert 'paddle.distributed.launch' not in record['command'], stage
    report = json.load(open(out / 'report.json'))
    assert report['det_map50'] is not None and report['config']['nproc'] == 2
    worker_log = (out / 'detector' / 'launch_logs' / 'workerlog.0').read_text()
    assert 'batch 4 per step: 2 in each of 2 processes' in worker_log


MEAN_SCRIPT = '''
from ppdet_wsd.utils.dist import mean_over_processes  # first: it loads zlib before paddle
import paddle.distributed as dist
dist.init_parallel_env()
print('MEAN', dist.get_rank(), mean_over_processes(3.0 + 4.0 * dist.get_rank()))
'''


def test_the_positive_count_is_averaged_over_processes(tmp_path):
    """The focal loss's normaliser: every process gets the mean of the processes' values
    (3 and 7 -> 5), so the averaged gradients equal one process's on the whole batch."""
    script = tmp_path / 'mean.py'
    script.write_text(MEAN_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    result = subprocess.run([sys.executable, '-m', 'paddle.distributed.launch',
                             '--nproc_per_node', '2', '--log_dir', str(tmp_path / 'logs'),
                             str(script)], cwd=str(tmp_path), env=env, capture_output=True,
                            text=True)
    logs = [(tmp_path / 'logs' / f'workerlog.{r}').read_text() for r in (0, 1)]
    assert result.returncode == 0, result.stdout[-2000:] + '\n'.join(log[-2000:] for log in logs)
    means = [re.findall(r'MEAN (\d) ([\d.]+)', log) for log in logs]
    assert means == [[('0', '5.0')], [('1', '5.0')]]
