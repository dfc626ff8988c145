"""Where a result was made: the code's commit and the machine (the pipeline's
``report.json`` and the benchmarks record both)."""
import os
import platform
import re
import subprocess

import paddle


BENCHMARK_DOC = 'docs/benchmarks.md'


def git_commit(repo_dir):
    """``<short sha>`` of HEAD, with ``+dirty`` when the work tree has changes (other than
    in ``docs/benchmarks.md``, which the benchmarks themselves write)."""
    def git(*args):
        return subprocess.run(['git', '-C', repo_dir, *args], capture_output=True,
                              text=True).stdout.strip()
    sha = git('rev-parse', '--short', 'HEAD') or 'unknown'
    changed = git('status', '--porcelain', '--untracked-files=no', '--', '.',
                  f':!{BENCHMARK_DOC}')
    return sha + ('+dirty' if changed else '')


def machine_summary():
    """CPU model, core count, memory, Python and paddle versions, as one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = re.search(r'model name\s*:\s*(.*)', f.read()).group(1)
    except (OSError, AttributeError):
        pass
    mem = ''
    try:
        mem = f', {os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30:.0f} GiB'
    except (ValueError, OSError):
        pass
    device = 'GPU' if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() else 'CPU'
    return (f'{cpu}, {os.cpu_count()} cores{mem}, {device}; Python {platform.python_version()}, '
            f'paddlepaddle {paddle.__version__}')
