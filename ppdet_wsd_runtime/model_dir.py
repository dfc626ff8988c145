"""An exported model folder: what it must hold, read with errors that name the file.

Written by :func:`ppdet_wsd.deploy.export.export_model` (and the ONNX steps):

* ``infer_cfg.yml``: ``arch``, ``classes``, ``image_shape`` ``[3, H, W]``,
  ``operating_threshold`` (the verdict threshold chosen for the model), ``Preprocess``
  (the ops :mod:`.preprocess` runs), ``outputs`` (the graph's output names, in order) and,
  for a detector, ``postprocess`` (:mod:`.retina_decode`);
* ``model.json`` (paddle 3, PIR) or ``model.pdmodel`` (paddle 2.6), and ``model.pdiparams``;
* optionally ``model.onnx`` and ``model_int8.onnx`` (:mod:`ppdet_wsd.deploy.onnx_export`,
  :mod:`ppdet_wsd.deploy.quantize`).
"""
import os

import yaml

INFER_CFG = 'infer_cfg.yml'
PARAMS = 'model.pdiparams'
PROGRAMS = ('model.json', 'model.pdmodel')
ONNX_FILE = 'model.onnx'
INT8_FILE = 'model_int8.onnx'
REQUIRED_KEYS = ('arch', 'classes', 'image_shape', 'operating_threshold', 'Preprocess',
                 'outputs')


class ModelFolderError(ValueError):
    """An exported model folder is missing, incomplete or broken; the message names the
    folder or file and what is wrong."""


def _listing(model_dir):
    names = sorted(os.listdir(model_dir))
    return ', '.join(names) or 'nothing'


def is_detector(infer_cfg):
    """True for an exported detector (its ``infer_cfg.yml`` has a ``postprocess`` section)."""
    return 'postprocess' in infer_cfg


def read_infer_cfg(model_dir):
    """``<model_dir>/infer_cfg.yml`` as a dict, checked.

    Raises:
        ModelFolderError: the folder or the file does not exist, the file is not YAML,
            a required key is missing, or the model has NMS inside its graph (an export
            made before the runtime did decoding and NMS itself).
    """
    if not os.path.isdir(model_dir):
        raise ModelFolderError(f'{model_dir}: no such model folder')
    path = os.path.join(model_dir, INFER_CFG)
    if not os.path.isfile(path):
        raise ModelFolderError(f'{path}: not found; an exported model folder holds '
                               f'{INFER_CFG} and model.* (found: {_listing(model_dir)})')
    try:
        with open(path, encoding='utf-8') as f:
            cfg = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ModelFolderError(f'{path}: not readable YAML ({err})') from None
    if not isinstance(cfg, dict):
        raise ModelFolderError(f'{path}: not a mapping of settings')
    missing = [k for k in REQUIRED_KEYS if k not in cfg]
    if missing:
        raise ModelFolderError(f'{path}: missing {", ".join(missing)}')
    if 'bbox' in cfg['outputs']:
        raise ModelFolderError(f'{path}: exported with NMS inside the graph (outputs '
                               f'{cfg["outputs"]}); export it again with '
                               f'tools/export_model.py')
    return cfg


def paddle_model_files(model_dir):
    """``(program, params)`` paths for Paddle Inference.

    Raises:
        ModelFolderError: no ``model.json`` / ``model.pdmodel`` or no ``model.pdiparams``.
    """
    for program in PROGRAMS:
        path = os.path.join(model_dir, program)
        if os.path.isfile(path):
            params = os.path.join(model_dir, PARAMS)
            if not os.path.isfile(params):
                raise ModelFolderError(f'{params}: not found (found: {_listing(model_dir)})')
            return path, params
    raise ModelFolderError(f'{model_dir}: no model.json or model.pdmodel (found: '
                           f'{_listing(model_dir)})')


def onnx_model_file(model_dir, int8=False):
    """The path of ``model.onnx`` (or ``model_int8.onnx``).

    Raises:
        ModelFolderError: the file is not there (with the command that makes it).
    """
    path = os.path.join(model_dir, INT8_FILE if int8 else ONNX_FILE)
    if not os.path.isfile(path):
        raise ModelFolderError(
            f'{path}: not found; make it with tools/export_model.py --onnx'
            f'{" --int8" if int8 else ""} (found: {_listing(model_dir)})')
    return path


def model_size_mb(paths):
    """The total size of ``paths`` in MiB."""
    return sum(os.path.getsize(p) for p in paths) / 2**20
