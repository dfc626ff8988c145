"""CPU thread defaults: one thread for training processes, every core otherwise, and the
user's OMP_NUM_THREADS always wins, also in the processes a tool starts."""
import os
import subprocess
import sys

import pytest

from ppdet_wsd.pipeline.runner import STAGES, _child_env
from ppdet_wsd_runtime.threads import AUTO_MARK, cores, set_default_threads, user_chose

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stage(name):
    return next(s for s in STAGES if s.name == name)


def test_defaults_and_mark():
    env = {}
    assert set_default_threads(env, training=False) == cores()
    assert env['OMP_NUM_THREADS'] == env['MKL_NUM_THREADS'] == str(cores())
    assert not user_chose(env)
    # a default may be replaced by the training default, a choice may not
    assert set_default_threads(env, training=True) == 1
    assert env['OMP_NUM_THREADS'] == '1' and env[AUTO_MARK] == '1'
    chosen = {'OMP_NUM_THREADS': '3', 'MKL_NUM_THREADS': '3'}
    assert user_chose(chosen)
    assert set_default_threads(chosen, training=True, processes=2) == 3
    assert chosen == {'OMP_NUM_THREADS': '3', 'MKL_NUM_THREADS': '3'}


def test_processes_share_the_cores(monkeypatch):
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(8)), raising=False)
    env = {}
    assert set_default_threads(env, training=False, processes=3) == 2
    assert set_default_threads(env, training=False, processes=16) == 1
    assert set_default_threads(env, training=True, processes=2) == 1


@pytest.mark.parametrize('user', [None, '2'])
def test_pipeline_stage_threads(monkeypatch, user):
    """The detector stage trains with one thread per process, the others use every core,
    unless the user set OMP_NUM_THREADS before the pipeline started."""
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(4)), raising=False)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', AUTO_MARK):
        monkeypatch.delenv(var, raising=False)
    if user:
        monkeypatch.setenv('OMP_NUM_THREADS', user)
    else:  # what tools/_bootstrap.py does in the pipeline's own process
        set_default_threads(os.environ, training=False)
    want = {'detector': user or '1', 'classifier': user or '4', 'evaluation': user or '4'}
    for name, threads in want.items():
        assert _child_env(_stage(name), 1)['OMP_NUM_THREADS'] == threads, name
    assert _child_env(_stage('detector'), 2)['OMP_NUM_THREADS'] == (user or '1')


@pytest.mark.parametrize('user', [None, '3'])
def test_tool_bootstrap(user):
    """A tool starts with every core; a training tool switches to one thread before paddle
    loads; the user's value survives both."""
    code = ('import os, sys; sys.path.insert(0, "tools"); import _bootstrap; '
            'a = os.environ["OMP_NUM_THREADS"]; _bootstrap.training_threads(); '
            'print(a, os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"])')
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', AUTO_MARK)}
    if user:
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = user
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ([user] * 3 if user else [str(cores()), '1', '1'])
