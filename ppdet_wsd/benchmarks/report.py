"""Write benchmark results into ``docs/benchmarks.md`` with the command, commit and machine."""
import datetime
import os
import re
import shlex
import sys

from ppdet_wsd_runtime.atomic import write_text_atomic

from ..utils.provenance import git_commit, machine_summary


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
