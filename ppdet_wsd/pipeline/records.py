"""What each stage ran with, so a re-run can skip it, resume it or redo it.

Each stage folder ``<output_dir>/<stage>/`` holds:

* ``stage.started.json`` -- written when the stage starts: its fingerprint. A killed
  stage resumes from its own partial work (epoch checkpoints, pseudo-box chunks)
  only if the fingerprint still matches; otherwise the folder is wiped first.
* ``stage.json`` -- written atomically as the stage's very last act: fingerprint,
  the inputs and settings that made it, wall seconds, commit. Its presence with a
  matching fingerprint means "finished and unchanged": the stage is skipped.

The fingerprint is a SHA-1 over the stage's settings (the resolved stage config with
its ``_BASE_`` files, the overrides, the derived settings), the files it reads and the
fingerprints of the stages it depends on, so a change anywhere upstream redoes
everything downstream of it.
"""
import hashlib
import json
import os
import shutil

from ppdet_wsd_runtime.atomic import write_json_atomic

from ..engine.config import read_config
from ..utils.fingerprint import file_digest, plain

DONE = 'stage.json'
STARTED = 'stage.started.json'
KEEP = ('review.json',)  # a person's decisions (tools/review.py): never wiped with a stage


def resolved_stage_config(path):
    """A ppdet-style config with its ``_BASE_`` files merged in (later files and the file
    itself win; :func:`ppdet_wsd.engine.config.read_config`), as plain JSON data."""
    return json.loads(json.dumps(read_config(path), sort_keys=True, default=plain))


def file_signature(path):
    """``[file name, SHA-1 of its bytes]``, or None when it does not exist (a copy with new
    dates keeps it)."""
    if not os.path.isfile(path):
        return None
    return [os.path.basename(path), file_digest(path)]


def folder_signature(folder):
    """SHA-1 over the relative names and contents of every file below ``folder`` (None if
    absent)."""
    if not os.path.isdir(folder):
        return None
    digest = hashlib.sha1()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(f'{os.path.relpath(path, folder)}\0{file_digest(path)}\n'.encode())
    return digest.hexdigest()


def read_record(stage_dir, name=DONE):
    """The record ``name`` of a stage folder, or None (missing or unreadable)."""
    path = os.path.join(stage_dir, name)
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_finished(stage_dir, print_):
    """True when the stage finished with fingerprint ``print_``."""
    record = read_record(stage_dir)
    return bool(record) and record.get('fingerprint') == print_


def start(stage_dir, print_):
    """Prepare the stage folder for a run with fingerprint ``print_``.

    Returns:
        bool: True when partial work of the same fingerprint is kept (a resume);
        False when the folder was empty or was wiped (other settings, or finished
        with other settings) -- all but the files of :data:`KEEP`.
    """
    started = read_record(stage_dir, STARTED)
    resume = bool(started) and started.get('fingerprint') == print_ \
        and read_record(stage_dir) is None
    if not resume and os.path.isdir(stage_dir):
        for name in set(os.listdir(stage_dir)) - set(KEEP):
            path = os.path.join(stage_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    os.makedirs(stage_dir, exist_ok=True)
    write_json_atomic(os.path.join(stage_dir, STARTED), {'fingerprint': print_})
    return resume


def finish(stage_dir, print_, record):
    """Mark the stage finished: ``stage.json`` = ``record`` + the fingerprint."""
    write_json_atomic(os.path.join(stage_dir, DONE), dict(record, fingerprint=print_))
