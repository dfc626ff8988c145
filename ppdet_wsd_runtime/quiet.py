"""Keep the host's known noise off the console.

Importing paddle and ppdet prints lines that say nothing about the user's run: ppdet's
"Unable to use numba / MOT metric / MCMOT metric" (tracking extras this plugin never
uses), paddle's "OMP_NUM_THREADS set to 2, not 1 ... PLEASE USE OMP_NUM_THREADS WISELY"
(the tools use every core on purpose), its "No ccache found" ``UserWarning`` and two
more about calls this plugin makes on purpose, its C++ info / warning log lines, and
faiss's INFO lines about which of its builds it loads.
:func:`host_noise_filtered` drops exactly those lines while the host is imported; every
other line passes unchanged. ppdet's tracking modules also switch off *every* Python
warning for the whole process (``warnings.filterwarnings("ignore")``); that blanket
filter is taken back, so real warnings still reach the user.
"""
import contextlib
import logging
import os
import re
import sys
import warnings

HOST_NOISE = re.compile(
    r'^(Warning: Unable to use (numba in PP-Tracking|MOT metric|MCMOT metric), please install'
    r'|WARNING: OMP_NUM_THREADS set to \d+, not 1\.'
    r'|PLEASE USE OMP_NUM_THREADS WISELY\.)')
HOST_WARNINGS = (
    ('No ccache found', UserWarning),
    # ppdet_wsd calls init_parallel_env in every training process, parallel or not
    ('Currently not a parallel execution environment', UserWarning),
    # exporting a model whose outputs are a dict (the order is fixed by the keys)
    ("Found 'dict' in given outputs", UserWarning),
)
# paddle's C++ log (glog): info and warning lines ("pir interpreter is running by trace
# mode", "resetting the shape of the uninitialized Tensor ... is deprecated") stay off
# the console unless the user asks for them; errors still show
GLOG_LEVEL = ('GLOG_minloglevel', '2')
# faiss (imported by paddleclas's backbones) logs at INFO which of its builds it loads
# (6 lines per process)
QUIET_LOGGERS = ('faiss.loader',)


def is_host_noise(line):
    """True when ``line`` (one printed line, with or without its newline) is known noise."""
    return bool(HOST_NOISE.match(line))


class LineFilter:
    """A text stream that passes every line to ``stream`` except host noise.

    Text is held until its line ends; :meth:`close` passes on an unfinished last line.
    """

    def __init__(self, stream):
        self.stream = stream
        self.pending = ''

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split('\n')
        for line in lines:
            if not is_host_noise(line):
                self.stream.write(line + '\n')
        return len(text)

    def flush(self):
        self.stream.flush()

    def close(self):
        if self.pending and not is_host_noise(self.pending):
            self.stream.write(self.pending)
        self.pending = ''
        self.stream.flush()

    def __getattr__(self, name):  # fileno, isatty, encoding, ... of the real stream
        return getattr(self.stream, name)


def ignore_host_warnings():
    """Ignore the host's known ``warnings`` (for the whole process: paddle may emit them
    again when a submodule is first imported)."""
    for message, category in HOST_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category)


def _is_blanket(entry):
    """True for a ``warnings.filters`` entry that ignores every warning everywhere."""
    action, message, category, module, lineno = entry
    return action == 'ignore' and message is None and category is Warning and \
        module is None and lineno == 0


@contextlib.contextmanager
def host_noise_filtered():
    """Within the block, ``sys.stdout`` / ``sys.stderr`` drop host-noise lines; the host's
    known warnings are ignored from then on, and a blanket "ignore every warning" filter
    installed within the block is removed at its end."""
    before = list(warnings.filters)
    os.environ.setdefault(*GLOG_LEVEL)  # read once, when paddle's library loads
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    ignore_host_warnings()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = LineFilter(saved[0]), LineFilter(saved[1])
    try:
        yield
    finally:
        filters = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = saved
        for stream in filters:
            stream.close()
        warnings.filters[:] = [f for f in warnings.filters if f in before or not _is_blanket(f)]
        ignore_host_warnings()  # also tells the warnings module that its filters changed
