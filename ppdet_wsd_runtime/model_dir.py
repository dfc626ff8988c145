"""An exported model folder: what it must hold, read with errors that name the file.

Written by :func:`ppdet_wsd.deploy.export.export_model` (and the ONNX steps):

* ``infer_cfg.yml``: ``arch``, ``classes``, ``image_shape`` ``[3, H, W]``,
  ``operating_threshold`` (the verdict threshold chosen for the model), ``Preprocess``
  (the ops :mod:`.preprocess` runs), ``outputs`` (the graph's output names, in order) and,
  for a detector, ``postprocess`` (:mod:`.retina_decode`), optionally ``verdict``
  (:mod:`.verdict`: the image verdict's source and threshold) and, when the detector's
  backbone is the stage-1 one exported once, ``backbone`` (``graph: evidence``, ``inputs``:
  the names of its maps that ``model.*`` takes);
* ``model.json`` (paddle 3, PIR) or ``model.pdmodel`` (paddle 2.6), and ``model.pdiparams``;
* optionally ``model.onnx`` and ``model_int8.onnx`` (:mod:`ppdet_wsd.deploy.onnx_export`,
  :mod:`ppdet_wsd.deploy.quantize`);
* when the verdict needs the stage-1 classifier: ``evidence.json`` / ``evidence.pdmodel``,
  ``evidence.pdiparams`` (its frozen backbone; ``evidence.onnx`` with ONNX) and
  ``evidence.npz`` (its arrays; :mod:`.evidence`); with heat maps of a ``fused`` or
  ``normality`` model also ``evidence_bank.npy`` (the normality bank; :mod:`.evidence_maps`).
"""
import os

import yaml

INFER_CFG = 'infer_cfg.yml'
MODEL = 'model'          # the file stem of the main graph
EVIDENCE = 'evidence'    # the file stem of the verdict's evidence backbone
INT8_FILE = 'model_int8.onnx'
EVIDENCE_ARRAYS = 'evidence.npz'
EVIDENCE_BANK = 'evidence_bank.npy'  # the heat maps' normality bank (float16)
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


def paddle_model_files(model_dir, stem=MODEL):
    """``(program, params)`` paths for Paddle Inference of the graph ``stem`` (``model``:
    ``model.json`` or ``model.pdmodel`` and ``model.pdiparams``; ``evidence``: the same
    names with that stem).

    Raises:
        ModelFolderError: no ``<stem>.json`` / ``<stem>.pdmodel`` or no ``<stem>.pdiparams``.
    """
    for suffix in ('.json', '.pdmodel'):
        path = os.path.join(model_dir, stem + suffix)
        if os.path.isfile(path):
            params = os.path.join(model_dir, stem + '.pdiparams')
            if not os.path.isfile(params):
                raise ModelFolderError(f'{params}: not found (found: {_listing(model_dir)})')
            return path, params
    raise ModelFolderError(f'{model_dir}: no {stem}.json or {stem}.pdmodel (found: '
                           f'{_listing(model_dir)})')


def onnx_name(stem=MODEL, int8=False):
    """The ONNX file name of the graph ``stem``: ``model.onnx``, ``model_int8.onnx``,
    ``evidence.onnx`` (the evidence backbone stays float32)."""
    return INT8_FILE if int8 and stem == MODEL else f'{stem}.onnx'


def onnx_model_file(model_dir, int8=False, stem=MODEL):
    """The path of ``model.onnx`` (or ``model_int8.onnx``; ``<stem>.onnx`` for another
    graph).

    Raises:
        ModelFolderError: the file is not there (with the command that makes it).
    """
    path = os.path.join(model_dir, onnx_name(stem, int8))
    if not os.path.isfile(path):
        raise ModelFolderError(
            f'{path}: not found; make it with tools/export_model.py --onnx'
            f'{" --int8" if int8 else ""} (found: {_listing(model_dir)})')
    return path


def model_size_mb(paths):
    """The total size of ``paths`` in MiB."""
    return sum(os.path.getsize(p) for p in paths) / 2**20
