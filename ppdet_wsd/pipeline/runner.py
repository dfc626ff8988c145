"""Run the whole pipeline: classifier -> heat-map evaluation -> pseudo boxes -> RetinaNet-MIL
-> evaluation -> export -> report, each stage in its own process, skipped when finished
and unchanged, resumed when killed, redone when its settings or inputs changed."""
import contextlib
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from ppdet_wsd_runtime.atomic import write_json_atomic, write_text_atomic
from ppdet_wsd_runtime.threads import set_default_threads

from ..data.check import check_dataset
from ..data.check_cache import CHECK_CACHE_FILE
from ..data.labels import MAX_LISTED, DatasetError
from ..utils.fingerprint import fingerprint
from . import records
from ..evidence.geometry import choose_canvas, choose_short_side
from ..review.store import REVIEW_FILE, ReviewFileError, review_fingerprint
from .box_truth import dataset_box_mode

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worker.py')
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCK = '.pipeline.lock'
CHECK_FILE = 'dataset_check.txt'
SKIPPED_FILE = 'skipped_images.txt'


class PipelineError(RuntimeError):
    """A stage failed or the input is wrong; the message names the stage and the file."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Attributes:
        name (str): also its folder under ``output_dir``.
        depends (tuple[str]): stages whose outputs it reads.
        distributed (bool): runs under ``paddle.distributed.launch`` when ``nproc > 1``.
        reads_truth (bool): reads ``annotations.json`` / ``masks/`` (to measure only).
        what (str): one line for the log.
        trains (bool): trains a paddle model (one CPU thread per process unless the user
            set ``OMP_NUM_THREADS``; the other stages use every core).
    """
    name: str
    depends: tuple
    distributed: bool
    reads_truth: bool
    what: str
    trains: bool = False


STAGES = (
    Stage('classifier', (), False, False,
          'features; fit the image probe, patch classifier, normality bank, levels'),
    Stage('classifier_eval', ('classifier',), False, True,
          'measure it and its heat maps on the test split'),
    Stage('pseudo_boxes', ('classifier',), False, False, 'heat maps -> pseudo boxes (train)'),
    Stage('detector', ('pseudo_boxes',), True, False, 'train RetinaNet-MIL on them',
          trains=True),
    Stage('evaluation', ('detector',), False, True,
          'choose the threshold on val, measure on test'),
    Stage('export', ('evaluation',), False, False, 'export the detector and time it'),
)
DETECTOR_STAGES = ('detector', 'evaluation', 'export')  # their settings hold the input canvas


def log(message):
    print(f'[pipeline {time.strftime("%H:%M:%S")}] {message}', flush=True)


def profile_dataset(spec):
    """Check the dataset (:func:`~ppdet_wsd.data.check.check_dataset`, the same check as
    ``tools/check_dataset.py``) and derive what adapts to it (classes, splits, input size)
    and how it can be measured (``evaluation``: the box evaluation mode and its reason, see
    :func:`~ppdet_wsd.pipeline.box_truth.dataset_box_mode`). The check's summary goes to
    ``<output_dir>/dataset_check.txt`` and the images it leaves out to
    ``<output_dir>/skipped_images.txt``; every stage leaves them out (the task's
    ``skip_files``).

    Raises:
        PipelineError: the dataset has errors (all of them listed: a missing or malformed
            file, a split left empty, labels that carry nothing to learn; with ``strict``
            also unreadable, missing and unlisted images).
    """
    root, out = spec['dataset_dir'], spec['output_dir']
    check = check_dataset(root, strict=spec['strict'], progress=True,
                          cache_file=os.path.join(out, CHECK_CACHE_FILE))
    write_text_atomic(os.path.join(out, CHECK_FILE), check.summary() + '\n')
    write_text_atomic(os.path.join(out, SKIPPED_FILE),
                      ''.join(f'{line}\n' for line in check.skipped_lines()))
    try:
        check.raise_errors()
    except DatasetError as e:
        more = f'\n  every problem: {os.path.join(out, CHECK_FILE)}' \
            if len(check.errors) > MAX_LISTED else ''
        raise PipelineError(f'stage "dataset": {e}{more}') from e
    images = check.images
    splits = {s: [im for im in images if im.split == s] for s in ('train', 'val', 'test')}
    sizes = np.array([check.sizes[im.file] for im in splits['train']], np.int64)
    size = spec['input_size']
    if size == 'auto':
        size = choose_short_side(sizes, spec['min_input_size'], spec['max_input_size'])
    classes = check.classes
    good = {s: sum(not im.labels for im in m) for s, m in splits.items()}
    return {
        'dataset_dir': root, 'image_root': check.image_root, 'classes': classes,
        'content_signature': check.content_signature(),
        'images': {s: len(m) for s, m in splits.items()},
        'images_per_class': {c: sum(c in im.labels for im in images) for c in classes},
        'good_images': sum(good.values()),
        'good_images_per_split': good,
        'median_height': int(np.median(sizes[:, 0])),
        'median_width': int(np.median(sizes[:, 1])),
        'input_size': int(size), 'input_size_source': spec['input_size'],
        'input_canvas': choose_canvas(sizes, int(size)),
        'has_annotations': os.path.isfile(os.path.join(root, 'annotations.json')),
        'has_masks': os.path.isdir(os.path.join(root, 'masks')),
        'evaluation': dataset_box_mode(root, classes, [im.file for im in splits['test']]),
        'check': dict(check.to_dict(), summary_file=CHECK_FILE, skipped_file=SKIPPED_FILE),
    }


def dataset_signature(profile):
    """What the training stages read of the dataset: each usable image's name, labels,
    split and content (:meth:`~ppdet_wsd.data.check.DatasetCheck.content_signature`), so
    a copy of the dataset with new file dates redoes nothing."""
    return {'images': profile['content_signature']}


def truth_signature(spec):
    """What the measuring stages also read: ``annotations.json`` and ``masks/`` (by
    content)."""
    root = spec['dataset_dir']
    return {'annotations': records.file_signature(os.path.join(root, 'annotations.json')),
            'masks': records.folder_signature(os.path.join(root, 'masks'))}


def stage_settings(spec, profile):
    """``{stage name: settings}``: everything besides upstream stages that decides each
    stage's output (each stage config is resolved once)."""
    classifier = {'config': records.resolved_stage_config(spec['classifier']['config']),
                  'opts': spec['classifier']['opts']}
    own = {
        'classifier': classifier,
        'classifier_eval': {'pseudo': spec['pseudo_boxes']['opts'],
                            'grid': spec['evaluation']['grid_images']},
        'pseudo_boxes': {'pseudo': spec['pseudo_boxes']['opts']},
        'detector': {'config': records.resolved_stage_config(spec['detector']['config']),
                     'opts': spec['detector']['opts'],
                     'steps': spec['detector'].get('steps'),
                     'adapt_anchors': spec['detector'].get('adapt_anchors', True)},
        'evaluation': spec['evaluation'],
        'export': spec['export'],
    }
    try:
        review = review_fingerprint(os.path.join(spec['output_dir'], 'pseudo_boxes', REVIEW_FILE))
    except ReviewFileError as e:
        raise PipelineError(f'stage "pseudo_boxes": {e}') from e
    if review is not None:  # a person's decisions (tools/review.py) redo stages 3-6 only
        own['pseudo_boxes']['review'] = review
    truth = truth_signature(spec)
    settings = {}
    for stage in STAGES:
        settings[stage.name] = {'stage': own[stage.name]}
        if stage.name in DETECTOR_STAGES:
            settings[stage.name]['input_canvas'] = profile['input_canvas']
        if stage.name == 'classifier':
            settings[stage.name]['dataset'] = dataset_signature(profile)
        if stage.reads_truth:
            settings[stage.name]['truth'] = truth
    return settings


def plan_fingerprints(spec, profile):
    """``{stage name: fingerprint}``, each over its settings and its upstream prints."""
    settings = stage_settings(spec, profile)
    prints = {}
    for stage in STAGES:
        upstream = {d: prints[d] for d in stage.depends}
        prints[stage.name] = fingerprint({'settings': settings[stage.name],
                                          'upstream': upstream})
    return prints


def stages_to_run(out, prints):
    """The stages not finished with their current fingerprint, and every stage downstream
    of one of them (its inputs will be rewritten)."""
    todo = []
    for stage in STAGES:
        if not records.is_finished(os.path.join(out, stage.name), prints[stage.name]) or \
                any(d in {s.name for s in todo} for d in stage.depends):
            todo.append(stage)
    return todo


def _die_with_parent():
    """In the child: get SIGTERM when the pipeline process dies (Linux), so a killed
    pipeline leaves no stage running on."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)


def _child_env(stage, nproc):
    """The environment of ``stage`` run as ``nproc`` processes: this package importable;
    CPU threads as :func:`~ppdet_wsd_runtime.threads.set_default_threads` says (one per
    process for a training stage, the cores shared out otherwise; the user's
    ``OMP_NUM_THREADS`` wins)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get('PYTHONPATH')) if p)
    set_default_threads(env, stage.trains, nproc)
    return env


def _stream(command, log_path, env):
    """Run ``command``, copying its output to the console and to ``log_path``; returns the
    exit code. Interrupting the pipeline stops the child first."""
    with open(log_path, 'ab') as log_file:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env, preexec_fn=_die_with_parent)
        try:
            for chunk in iter(lambda: proc.stdout.read1(65536), b''):
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                log_file.write(chunk)
                log_file.flush()
            return proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise


def _last_error(log_path, launch_dir):
    """The last line that looks like an exception in the stage log (or a worker log)."""
    candidates = [log_path] + sorted(
        os.path.join(launch_dir, f) for f in (os.listdir(launch_dir)
                                              if os.path.isdir(launch_dir) else [])
        if f.startswith('workerlog'))
    for path in candidates:
        with open(path, encoding='utf-8', errors='replace') as f:
            lines = [line.strip() for line in f if line.strip()]
        errors = [line for line in lines if 'Error' in line.split(':')[0] or
                  line.startswith('Exception')]
        if errors:
            return errors[-1], path
    return None, log_path


def run_stage(stage, spec, profile, print_, index):
    """Run one stage in a worker process (under the launcher when distributed)."""
    out = spec['output_dir']
    stage_dir = os.path.join(out, stage.name)
    resume = records.start(stage_dir, print_)
    log_path = os.path.join(out, 'logs', f'{stage.name}.log')
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    task = {'stage': stage.name, 'stage_dir': stage_dir, 'output_dir': out,
            'dataset_dir': spec['dataset_dir'], 'input_canvas': profile['input_canvas'],
            'box_mode': profile['evaluation']['mode'], 'resume': resume, 'spec': spec,
            'skip_files': [file for file, _ in profile['check']['skipped']],
            'result_file': os.path.join(stage_dir, 'stage.result.json')}
    task_file = os.path.join(stage_dir, 'stage.task.json')
    write_json_atomic(task_file, task)
    launch_dir = os.path.join(stage_dir, 'launch_logs')
    nproc = spec['nproc'] if stage.distributed else 1
    if nproc > 1:
        command = [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node',
                   str(nproc), '--log_dir', launch_dir, WORKER, task_file]
    else:
        command = [sys.executable, '-m', 'ppdet_wsd.pipeline.worker', task_file]
    log(f'[{index}/{len(STAGES)}] {stage.name}: {stage.what} '
        f'({"resuming its partial work" if resume else "starting"}; log {log_path})')
    with open(log_path, 'a', encoding='utf-8') as f:
        f.write(f'\n===== {time.strftime("%Y-%m-%d %H:%M:%S")} {" ".join(command)}\n')
    tic = time.time()
    code = _stream(command, log_path, _child_env(stage, nproc))
    seconds = time.time() - tic
    if code != 0:
        error, where = _last_error(log_path, launch_dir)
        raise PipelineError(f'stage "{stage.name}" failed (exit code {code})'
                            + (f': {error}' if error else '') + f'\n  see {where}'
                            + '\n  fix the cause and run the same command again: finished '
                              'stages are kept')
    with open(task['result_file'], encoding='utf-8') as f:
        result = json.load(f)
    records.finish(stage_dir, print_, {'stage': stage.name, 'seconds': seconds,
                                       'resumed': resume, 'command': command,
                                       'result': result,
                                       'finished': time.strftime('%Y-%m-%d %H:%M:%S')})
    log(f'[{index}/{len(STAGES)}] {stage.name}: done in {seconds:.0f} s')


@contextlib.contextmanager
def output_lock(out):
    """Hold ``<out>/.pipeline.lock`` so two runs never write one folder at once."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, LOCK), 'w') as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            raise PipelineError(f'another pipeline run is writing {out}; wait for it or '
                                f'choose another output_dir') from e
        yield


def run_pipeline(spec, command_line=None):
    """Run every stage that is not finished with the current settings, then write the
    report. Returns the report dict (``<output_dir>/report.json``)."""
    from .report import write_report
    out = spec['output_dir']
    with output_lock(out):
        tic = time.time()
        profile = profile_dataset(spec)
        write_json_atomic(os.path.join(out, 'dataset_profile.json'), profile)
        log(f'dataset {spec["dataset_dir"]}: {profile["images"]} images, classes '
            f'{profile["classes"]}, detector input {profile["input_canvas"][1]}x'
            f'{profile["input_canvas"][0]} px, aspect kept (median image '
            f'{profile["median_width"]}x{profile["median_height"]})')
        check = profile['check']
        if check['skipped_images'] or check['notes']:
            log(f'dataset check: {check["skipped_images"]} image(s) skipped (listed in '
                f'{os.path.join(out, SKIPPED_FILE)}), {len(check["notes"])} note(s) '
                f'(in {os.path.join(out, CHECK_FILE)})')
        evaluation = profile['evaluation']
        log(f'evaluation mode: {evaluation["mode"]} ({evaluation["reason"]})')
        good = profile['good_images_per_split']
        if not good['val']:
            log('no good image in the val split: best_model by the mean per-class AP, the '
                'operating threshold by Youden\'s J over (image, class) pairs')
        if not good['test']:
            log('no good image in the test split: image AUROC / AP and the over-kill rate '
                'will be null (reason in the report); the mean per-class AUROC / AP are given')
        prints = plan_fingerprints(spec, profile)
        todo = stages_to_run(out, prints)
        for stage in STAGES:
            state = 'to run' if stage in todo else 'finished and unchanged: skipped'
            log(f'  {stage.name:<16} {state}')
        for index, stage in enumerate(STAGES, start=1):
            if stage in todo:
                run_stage(stage, spec, profile, prints[stage.name], index)
        report = write_report(spec, profile, command_line, time.time() - tic)
        log(f'report: {os.path.join(out, "report.html")} (numbers in report.json)')
        return report
