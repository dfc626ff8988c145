"""Write benchmark results into ``docs/benchmarks.md`` with the command, commit and machine."""
import datetime
import os
import platform
import re
import shlex
import subprocess
import sys

import paddle

from ppdet_wsd_runtime.atomic import write_text_atomic


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


def provenance(repo_dir):
    """The header lines every benchmark section starts with."""
    command = 'python ' + shlex.join(sys.argv)
    return [f'- command: `{command}`',
            f'- commit: `{git_commit(repo_dir)}`',
            f'- machine: {machine_summary()}',
            f'- date: {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}']


def write_section(path, key, title, lines):
    """Put ``## title`` + ``lines`` into ``path`` between markers for ``key``,
    replacing an earlier run's section of the same key and keeping the rest."""
    begin, end = f'<!-- benchmark:{key}:begin -->', f'<!-- benchmark:{key}:end -->'
    block = '\n'.join([begin, f'## {title}', ''] + lines + [end])
    text = open(path, encoding='utf-8').read() if os.path.isfile(path) else '# Benchmarks\n'
    pattern = re.compile(re.escape(begin) + '.*?' + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else \
        text.rstrip('\n') + '\n\n' + block + '\n'
    write_text_atomic(path, text)
