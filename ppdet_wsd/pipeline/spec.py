"""The pipeline config: which stage configs to run, on which dataset, into which folder.

A pipeline config is plain YAML (``configs/pipeline/*.yml``); ``_BASE_`` lists other
pipeline configs to start from, as in ppdet. Its keys (all but the two paths optional):

``dataset_dir``
    a dataset in the standard layout (``docs/datasets.md``).
``output_dir``
    where every stage writes (``<output_dir>/<stage>/``), the logs and the report.
``strict``
    ``true``: unreadable, missing and unlisted images stop the run before training
    (default ``false``: they are skipped, counted and listed, ``docs/datasets.md``).
``nproc``
    processes of the detector's training stage (``paddle.distributed.launch``, the batch
    of each step shared out among them, so the schedule stays the same); 1 = no launcher;
    ``auto`` (default): one per CPU core, at most :data:`MAX_AUTO_PROCESSES`
    (:func:`resolved_nproc`). On GPUs: the GPU count.
``input_size``
    the detector's input short side: ``auto`` (the images' median short side, see
    :func:`ppdet_wsd.evidence.geometry.choose_short_side`) or pixels; the long side
    follows the images' median aspect ratio (``choose_canvas``), every image keeps its
    aspect ratio inside that canvas.
``max_input_size`` / ``min_input_size``
    the range ``auto`` chooses in.
``classifier`` / ``detector``
    ``config`` (a ppdet-style stage config; the classifier's holds ``PatchEvidence``) and
    ``opts`` (overrides, as ``-o`` would give). The detector's ``steps``: optimiser
    steps it trains for (the epochs follow from the epoch size,
    :func:`ppdet_wsd.pipeline.adapt.step_schedule`), or null for the stage config's
    ``epoch``; an ``epoch`` in its ``opts`` wins. ``adapt_anchors``: anchor sizes from the
    pseudo boxes.
``pseudo_boxes``
    ``opts`` applied when boxing: only the box keys of ``PatchEvidence``
    (:data:`ppdet_wsd.evidence.settings.BOX_KEYS`).
``evaluation``
    ``threshold``: ``val`` (Youden's J on the val split's image labels) or a number;
    ``grid_images``: test images drawn into the report.
``export``
    ``speed_images``: test images the exported model is timed on; ``heat_maps``: ``true``
    adds the stage-1 heat maps to the export (the normality bank in float16, ~15 MB on
    magnetic tile, and about 0.4 s per image when drawn; with a ``detector`` verdict also
    the stage-1 backbone, 13 MiB; docs/deploy.md). A ``mil`` model's maps need no bank and
    come with its stage-1 model anyway.
"""
import argparse
import difflib
import os

import yaml

from ppdet_wsd_runtime.threads import cores

from ..evidence.settings import BOX_KEYS, check_patch_evidence
from ..utils.config_files import merge, read_with_bases

STAGE_KEYS = ('classifier', 'detector')
# ``nproc: auto`` starts at most this many processes: a step's 8 images leave each 2
MAX_AUTO_PROCESSES = 4
DEFAULTS = {
    'dataset_dir': None, 'output_dir': None, 'strict': False, 'nproc': 'auto',
    'input_size': 'auto', 'min_input_size': 320, 'max_input_size': 448,
    'classifier': {'config': None, 'opts': {}},
    'pseudo_boxes': {'opts': {}},
    'detector': {'config': None, 'opts': {}, 'steps': None, 'adapt_anchors': True},
    'evaluation': {'threshold': 'val', 'grid_images': 24},
    'export': {'speed_images': 50, 'heat_maps': False},
}


WHOLE_NUMBERS = ('min_input_size', 'max_input_size', 'evaluation.grid_images',
                 'export.speed_images')
SWITCHES = ('strict', 'detector.adapt_anchors', 'export.heat_maps')
MAPPINGS = ('classifier.opts', 'pseudo_boxes.opts', 'detector.opts')


class PipelineConfigError(ValueError):
    """The pipeline config is wrong; the message names the file and the key."""


def _get(spec, dotted):
    node = spec
    for part in dotted.split('.'):
        node = node[part]
    return node


def _unknown_key(path, key, known):
    close = difflib.get_close_matches(key.rsplit('.', 1)[-1], known, n=1)
    hint = f'did you mean "{close[0]}"? ' if close else ''
    return PipelineConfigError(f'{path}: "{key}" is not a key; {hint}(known: '
                               f'{", ".join(sorted(known))})')


def check_keys_and_types(spec, path):
    """Raise :class:`PipelineConfigError` naming the first misspelt key (top level or in a
    section) or value of the wrong type, including the ``PatchEvidence`` settings given in
    ``classifier.opts`` / ``pseudo_boxes.opts`` (:func:`~ppdet_wsd.evidence.settings.
    check_patch_evidence`)."""
    for key in spec:
        if key not in DEFAULTS:
            raise _unknown_key(path, key, DEFAULTS)
    for section, default in DEFAULTS.items():
        if not isinstance(default, dict):
            continue
        if not isinstance(spec[section], dict):
            raise PipelineConfigError(f'{path}: "{section}" must be a mapping, got '
                                      f'{spec[section]!r}')
        for key in spec[section]:
            if key not in default:
                raise _unknown_key(path, f'{section}.{key}', default)
    for key, kind, test in ([(k, 'a whole number >= 0', lambda v: isinstance(v, int) and
                              not isinstance(v, bool) and v >= 0) for k in WHOLE_NUMBERS] +
                            [(k, 'true or false', lambda v: isinstance(v, bool))
                             for k in SWITCHES] +
                            [(k, 'a mapping', lambda v: isinstance(v, dict)) for k in MAPPINGS] +
                            [('detector.steps', 'a whole number > 0 or null',
                              lambda v: v is None or (isinstance(v, int) and
                                                      not isinstance(v, bool) and v > 0))]):
        if not test(_get(spec, key)):
            raise PipelineConfigError(f'{path}: "{key}" must be {kind}, got '
                                      f'{_get(spec, key)!r}')
    try:
        check_patch_evidence(spec['classifier']['opts'].get('PatchEvidence', {}),
                             'classifier.opts.PatchEvidence')
        check_patch_evidence(spec['pseudo_boxes']['opts'].get('PatchEvidence', {}),
                             'pseudo_boxes.opts.PatchEvidence', BOX_KEYS)
    except ValueError as e:
        raise PipelineConfigError(f'{path}: {e}') from None


def _read_yaml(path):
    """One pipeline config file's keys (its ``_BASE_`` still in), stage config paths made
    absolute: a stage config path is relative to the file that names it."""
    if not os.path.isfile(path):
        raise PipelineConfigError(f'pipeline config not found: {path}')
    with open(path, encoding='utf-8') as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise PipelineConfigError(f'{path}: not valid YAML: {e}') from e
    if not isinstance(data, dict):
        raise PipelineConfigError(f'{path}: expected a mapping of keys, got {type(data).__name__}')
    for key in STAGE_KEYS:
        config = (data.get(key) or {}).get('config')
        if config and not os.path.isabs(config):
            data[key]['config'] = os.path.normpath(
                os.path.join(os.path.dirname(os.path.abspath(path)), config))
    return data


def _check_stage_config(spec, key, path):
    """Raise unless ``spec[key]['config']`` names an existing file."""
    config = spec[key].get('config')
    if not config:
        raise PipelineConfigError(f'{path}: "{key}.config" is missing: name the {key} stage '
                                  f'config (a ppdet-style YAML file)')
    if not os.path.isfile(config):
        raise PipelineConfigError(f'{path}: "{key}.config" names {config}, which does not '
                                  f'exist')


def resolved_nproc(nproc):
    """The detector stage's process count: ``nproc`` itself, or for ``auto`` one process
    per CPU core this process may use, at most :data:`MAX_AUTO_PROCESSES`. Each trains
    with one thread; on magnetic tile's 560 steps two processes took 411 s against 650 s
    for one, with the same result within the run-to-run spread (docs/detector.md)."""
    return min(cores(), MAX_AUTO_PROCESSES) if nproc == 'auto' else nproc


def load_pipeline_config(path, overrides=None):
    """Read a pipeline config, apply ``-o`` overrides and check it.

    Args:
        path (str): the YAML file.
        overrides (dict | None): nested overrides, as ppdet's ``ArgsParser`` parses
            ``-o dataset_dir=/data/line output_dir=out detector.opts.epoch=4``.
    Returns:
        dict: the full spec (defaults filled in; stage config paths absolute, read
        relative to the file naming them; an ``-o`` path relative to the working folder;
        ``dataset_dir`` / ``output_dir`` absolute; ``config_file`` the path read).
    Raises:
        PipelineConfigError: a misspelt, missing or wrong key, a value of the wrong type, a
            ``PatchEvidence`` setting that does not exist, a stage config or dataset folder
            that does not exist; one line naming the file and the key.
    """
    spec = merge(DEFAULTS, merge(read_with_bases(path, _read_yaml), overrides))
    check_keys_and_types(spec, path)
    for key in ('dataset_dir', 'output_dir'):
        if not spec[key]:
            raise PipelineConfigError(f'{path}: "{key}" is not set: add it to the config or '
                                      f'pass -o {key}=<path>')
        spec[key] = os.path.abspath(str(spec[key]))
    for key in STAGE_KEYS:
        _check_stage_config(spec, key, path)
        spec[key]['config'] = os.path.abspath(spec[key]['config'])
    if not isinstance(spec['strict'], bool):
        raise PipelineConfigError(f'{path}: "strict" must be true or false, '
                                  f'got {spec["strict"]!r}')
    if spec['nproc'] != 'auto' and (not isinstance(spec['nproc'], int) or spec['nproc'] < 1):
        raise PipelineConfigError(f'{path}: "nproc" must be auto or a whole number >= 1, '
                                  f'got {spec["nproc"]!r}')
    spec['nproc'] = resolved_nproc(spec['nproc'])
    size = spec['input_size']
    if size != 'auto' and (not isinstance(size, int) or size < 32):
        raise PipelineConfigError(f'{path}: "input_size" must be auto or pixels >= 32, '
                                  f'got {size!r}')
    threshold = spec['evaluation']['threshold']
    if threshold != 'val' and not (isinstance(threshold, (int, float)) and 0 < threshold <= 1):
        raise PipelineConfigError(f'{path}: "evaluation.threshold" must be val or a number in '
                                  f'(0, 1], got {threshold!r}')
    if not os.path.isdir(spec['dataset_dir']):
        raise PipelineConfigError(f'{path}: "dataset_dir" names {spec["dataset_dir"]}, which '
                                  f'is not a folder')
    spec['config_file'] = os.path.abspath(path)
    return spec


def parse_overrides(items):
    """``['a.b=1', 'a.c=x']`` -> ``{'a': {'b': 1, 'c': 'x'}}`` (values parsed as YAML)."""
    out = {}
    for item in items or []:
        if '=' not in item:
            raise PipelineConfigError(f'-o {item}: expected key=value')
        key, value = item.split('=', 1)
        *parents, leaf = key.strip().split('.')
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise PipelineConfigError(f'-o {item}: {part} is set to a value and a mapping')
        node[leaf] = yaml.safe_load(value)
    return out


def make_parser(description):
    """``-c`` (the pipeline config) and ``-o key=value ...`` (dotted keys nest)."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-c', '--config', required=True, help='pipeline config (YAML)')
    parser.add_argument('-o', '--opt', nargs='*', default=[],
                        help='overrides, e.g. dataset_dir=/data/line output_dir=out '
                             'detector.opts.epoch=4')
    return parser
