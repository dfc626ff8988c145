"""Imported first by every tool: runs before anything imports paddle.

* ``import zlib`` first: paddle 2.6.x corrupts zlib when zlib is loaded after it;
* the repository root goes on ``sys.path`` so the tools run from a plain clone;
* CPU math uses every core unless ``OMP_NUM_THREADS`` says otherwise; a tool that trains
  calls :func:`training_threads` next (one thread, ``ppdet_wsd_runtime/threads.py``);
* a file or folder the command line names that does not exist is reported in one line
  at once (:func:`missing_path`), not after the ~7 s paddle and ppdet take to import.
"""
import os
import sys
import zlib  # noqa: F401

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppdet_wsd_runtime.threads import set_default_threads  # noqa: E402  (loads no paddle)

set_default_threads(os.environ, training=False)

FILE_FLAGS = ('-c', '--config', '--infer_img')
FOLDER_FLAGS = ('--infer_dir', '--dataset_dir')
CHECKPOINT_FLAGS = ('-r', '--resume')
OPT_FLAGS = ('-o', '--opt')


def training_threads():
    """Called by a tool that trains in its own process, before paddle loads: one CPU
    thread unless the user chose (see ``ppdet_wsd_runtime/threads.py``)."""
    set_default_threads(os.environ, training=True)


def _checkpoint_exists(prefix):
    """A ppdet checkpoint is named by its prefix: ``<prefix>.pdparams`` (or the file)."""
    return os.path.isfile(prefix) or os.path.isfile(prefix + '.pdparams')


def _problem(what, path, exists):
    return None if exists else f'{what} {path}: no such {"folder" if "dir" in what else "file"}'


def missing_path(argv):
    """The first path ``argv`` names that does not exist, as one line, or None.

    Checked: ``-c/--config`` and ``--infer_img`` (files), ``--infer_dir`` and
    ``--dataset_dir`` (folders), ``-r/--resume`` (a checkpoint prefix), and among the
    ``-o`` overrides any ``...dataset_dir=`` (folder) and ``weights=`` (checkpoint prefix).
    Paths are relative to the working folder, as the tools read them.
    """
    argv = [part for arg in argv for part in (arg.split('=', 1) if arg.startswith('--')
                                              and '=' in arg else [arg])]
    in_opts = False
    for i, arg in enumerate(argv):
        value = argv[i + 1] if i + 1 < len(argv) else None
        problem = None
        if arg.startswith('-'):
            in_opts = arg in OPT_FLAGS
            if value is None or value.startswith('-'):
                continue
            if arg in FILE_FLAGS:
                problem = _problem(arg, value, os.path.isfile(value))
            elif arg in FOLDER_FLAGS:
                problem = _problem(arg, value, os.path.isdir(value))
            elif arg in CHECKPOINT_FLAGS:
                problem = _problem(arg, value, _checkpoint_exists(value))
        elif in_opts and '=' in arg:
            key, path = arg.split('=', 1)
            if key.split('.')[-1] == 'dataset_dir' and path:
                problem = _problem(key, path, os.path.isdir(path))
            elif key == 'weights' and path and '://' not in path:
                problem = _problem(key, path, _checkpoint_exists(path))
        if problem:
            return problem
    return None


_missing = missing_path(sys.argv[1:])
if _missing:
    sys.exit(f'error: {_missing}')
