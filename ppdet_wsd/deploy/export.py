"""Export a trained ``CAMClassifier`` or ``RetinaNetMIL`` as a static Paddle inference model."""
import os

import paddle
import yaml
from paddle.static import InputSpec
from ppdet.utils.logger import setup_logger

from ..utils.atomic import atomic_dir

logger = setup_logger(__name__)
INFER_CFG = 'infer_cfg.yml'


def test_image_shape(cfg):
    """``[3, H, W]`` from ``TestReader.inputs_def.image_shape`` or its ``Resize``;
    ``-1`` means any size."""
    shape = cfg.TestReader.get('inputs_def', {}).get('image_shape')
    if shape:
        return list(shape[-3:])
    for op in cfg.TestReader['sample_transforms']:
        if 'Resize' in op and not op['Resize'].get('keep_ratio', True):
            return [3] + list(op['Resize']['target_size'])
    return [3, -1, -1]


def preprocess_ops(cfg):
    """The test-time operators after image decoding, as ``[{'type': name, **args}]``."""
    ops = []
    for op in cfg.TestReader['sample_transforms']:
        (name, args), = op.items()
        if not name.startswith('Decode'):
            ops.append(dict({'type': name}, **(args or {})))
    return ops


def input_spec(shape, detector):
    """Static input description: ``image`` ``[N, *shape]``, and for a detector
    ``im_shape`` / ``scale_factor`` ``[N, 2]``."""
    spec = {'image': InputSpec(shape=[None] + shape, dtype='float32', name='image')}
    if detector:
        for name in ('im_shape', 'scale_factor'):
            spec[name] = InputSpec(shape=[None, 2], dtype='float32', name=name)
    return [spec]


def export_model(model, cfg, classes, output_dir, detector=False):
    """Write ``<output_dir>/<config name>/`` with ``model.*`` and ``infer_cfg.yml``.

    The folder appears complete or not at all (built in a temporary folder, then
    renamed). Inputs: ``image`` float32 ``[N, 3, H, W]`` (preprocessed as
    ``infer_cfg.yml`` says), plus ``im_shape`` and ``scale_factor`` ``[N, 2]`` for a
    detector. Outputs, in the order listed under ``outputs`` in ``infer_cfg.yml``
    (sorted names): a classifier's ``cam`` ``[N, C, h, w]`` and ``scores`` ``[N, C]``;
    a detector's ``bbox`` ``[M, 6]``, ``bbox_num`` ``[N]`` and ``im_score`` ``[N, C]``.

    Returns:
        str: the export folder.
    """
    model.eval()
    shape = test_image_shape(cfg)
    static = paddle.jit.to_static(model, input_spec=input_spec(shape, detector),
                                  full_graph=True)
    outputs = ['bbox', 'bbox_num', 'im_score'] if detector else ['cam', 'scores']
    target = os.path.join(output_dir, cfg.filename)
    with atomic_dir(target) as tmp:
        paddle.jit.save(static, os.path.join(tmp, 'model'))
        infer_cfg = {'arch': cfg.architecture, 'classes': list(classes),
                     'image_shape': shape,
                     'operating_threshold': cfg.get('verdict_threshold', 0.5),
                     'Preprocess': preprocess_ops(cfg), 'outputs': outputs}
        with open(os.path.join(tmp, INFER_CFG), 'w') as f:
            yaml.safe_dump(infer_cfg, f, sort_keys=False)
    logger.info(f'exported to {target}')
    return target
