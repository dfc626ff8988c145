"""A quiet, quick start: no host noise on the console, a missing path named in one line
before paddle is imported, real warnings kept."""
import io
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from ppdet_wsd_runtime.quiet import LineFilter

TOOLS = os.path.join(REPO_ROOT, 'tools')
DEFAULT = os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml')
RMIL = os.path.join(REPO_ROOT, 'configs', 'demo', 'rmil_demo.yml')
# runs a tool in-process and tells whether paddle was imported before it exited
PROBE = '''import runpy, sys
sys.path.insert(0, {tools!r})
sys.argv = {argv!r}
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit as e:  # what the interpreter would print on exit
    print(e.code, file=sys.stderr)
    print('paddle imported:', 'paddle' in sys.modules)
'''


def _python(code, cwd, **env):
    return subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ, **env))


def test_line_filter_drops_only_known_host_lines():
    out = io.StringIO()
    stream = LineFilter(out)
    stream.write('Warning: Unable to use MOT metric, please install motmetrics, see x\nkept 1\n')
    stream.write('WARNING: OMP_NUM_THREADS set to 2, not 1. The computation speed ...\n')
    stream.write('PLEASE USE OMP_NUM_THREADS WISELY.\nWarning: Unable to use numba in PP-Tracking,')
    stream.write(' please install numba\nWarning: something else\nunfinished')
    stream.close()
    assert out.getvalue() == 'kept 1\nWarning: something else\nunfinished'


@pytest.mark.parametrize('tool, args, message', [
    ('run_pipeline.py', ['-c', DEFAULT, '-o', 'dataset_dir=no/such/data', 'output_dir=out'],
     'error: dataset_dir no/such/data: no such folder'),
    ('run_pipeline.py', ['-c', 'nowhere.yml'], 'error: -c nowhere.yml: no such file'),
    ('train.py', ['-c', RMIL, '-o', 'epoch=1', 'TrainDataset.dataset_dir=gone'],
     'error: TrainDataset.dataset_dir gone: no such folder'),
    ('eval.py', ['-c', RMIL, '-o', 'weights=output/x/model_final'],
     'error: weights output/x/model_final: no such file'),
    ('train.py', ['-c', RMIL, '-r', 'output/x/3'], 'error: -r output/x/3: no such file'),
    ('infer.py', ['--config=' + RMIL, '--infer_dir', 'no_images'],
     'error: --infer_dir no_images: no such folder'),
])
def test_a_missing_path_is_one_line_before_paddle_is_imported(tool, args, message, tmp_path):
    argv = [os.path.join(TOOLS, tool)] + args
    result = _python(PROBE.format(tools=TOOLS, argv=argv), str(tmp_path))
    assert result.stderr == message + '\n'
    assert result.stdout == 'paddle imported: False\n'
    assert os.listdir(tmp_path) == [], 'nothing is written'


def test_importing_the_plugin_prints_nothing_but_real_warnings(tmp_path):
    code = 'import ppdet_wsd, warnings\nwarnings.warn("a real warning")\n'
    result = _python(code, str(tmp_path), OMP_NUM_THREADS='2')
    assert result.stdout == ''
    assert result.stderr == '<string>:2: UserWarning: a real warning\n'


def test_a_tool_failing_after_the_imports_prints_only_its_error(tmp_path):
    (tmp_path / 'empty').mkdir()
    result = subprocess.run(
        [sys.executable, os.path.join(TOOLS, 'run_pipeline.py'), '-c', DEFAULT, '-o',
         f'dataset_dir={tmp_path / "empty"}', f'output_dir={tmp_path / "out"}'],
        cwd=str(tmp_path), capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'})
    assert result.returncode == 1 and result.stdout == ''
    assert result.stderr.splitlines() == [
        f'error: stage "dataset": {tmp_path / "empty"}: neither labels.csv nor class folders '
        f'with images (<label>/<image>) were found']
