"""Run the command-line tools in a subprocess, as a user would."""
import os
import subprocess
import sys

from conftest import REPO_ROOT


def _run(name, args, cwd):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, 'tools', name), *args],
                          cwd=cwd, capture_output=True, text=True)


def run_tool(name, *args, cwd):
    """Run ``tools/<name>``, which must succeed; returns its stdout + stderr."""
    result = _run(name, args, cwd)
    assert result.returncode == 0, f'{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result.stdout + result.stderr


def failing_tool(name, *args, cwd):
    """Run ``tools/<name>``, which must fail; returns its stderr."""
    result = _run(name, args, cwd)
    assert result.returncode != 0, f'{name} should have failed:\n{result.stdout[-2000:]}'
    return result.stderr
