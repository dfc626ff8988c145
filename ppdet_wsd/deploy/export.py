"""Export a trained ``CAMClassifier`` or ``RetinaNetMIL`` as a static Paddle inference model."""
import os

import paddle
import yaml
from paddle.static import InputSpec
from ppdet.utils.logger import setup_logger

from ppdet_wsd_runtime.atomic import atomic_dir
from ppdet_wsd_runtime.model_dir import EVIDENCE, INFER_CFG

from .graph import (DetectorGraph, HeadGraph, output_names, retina_postprocess,
                    static_friendly_resizing)
from .verdict_export import feature_name, shared_backbone, write_verdict

logger = setup_logger(__name__)


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


def export_model(model, cfg, classes, output_dir, detector=False, verdict=None):
    """Write ``<output_dir>/<config name>/`` with ``model.*`` and ``infer_cfg.yml``.

    The folder appears complete or not at all (built in a temporary folder, then
    renamed). Input: ``image`` float32 ``[N, 3, H, W]``, preprocessed as ``infer_cfg.yml``
    says. Outputs, in the order listed under ``outputs`` in ``infer_cfg.yml``: a
    classifier's ``cam`` ``[N, C, h, w]`` and ``scores`` ``[N, C]``; a detector's raw head
    outputs (:class:`~ppdet_wsd.deploy.graph.DetectorGraph`), which the runtime decodes with
    the ``postprocess`` section (anchors, NMS settings). Resizes inside the model are traced
    as plain tensor ops (:func:`~ppdet_wsd.deploy.graph.static_friendly_resizing`), so the
    graph runs with oneDNN and converts to ONNX.

    A detector may carry the pipeline's image verdict (``verdict``,
    :class:`~ppdet_wsd.deploy.verdict_export.ExportVerdict`): ``infer_cfg.yml``'s
    ``verdict`` section and, for a ``classifier`` or ``fusion`` verdict, the stage-1
    classifier's backbone graph ``evidence.*`` and arrays ``evidence.npz``, and with its
    heat maps (``ExportVerdict.heat_maps``) the normality bank ``evidence_bank.npy``
    (:func:`~ppdet_wsd.deploy.verdict_export.write_verdict`). When the detector's backbone
    is that same frozen ImageNet network
    (:func:`~ppdet_wsd.deploy.verdict_export.shared_backbone`), the backbone is exported
    once: ``evidence.*`` returns the maps of both, ``model.*`` is the rest of the detector
    (:class:`~ppdet_wsd.deploy.graph.HeadGraph`, inputs named in ``infer_cfg.yml``'s
    ``backbone`` section), and the runtime runs one into the other.

    Returns:
        str: the export folder.
    """
    if verdict is not None and not detector:
        raise ValueError('only a detector export carries the pipeline\'s verdict')
    model.eval()
    shape = test_image_shape(cfg)
    image = InputSpec(shape=[None] + shape, dtype='float32', name='image')
    infer_cfg = {'arch': cfg.architecture, 'classes': list(classes), 'image_shape': shape,
                 'operating_threshold': cfg.get('verdict_threshold', 0.5),
                 'Preprocess': preprocess_ops(cfg)}
    shared = shared_backbone(model) if detector and verdict is not None \
        and verdict.carries_evidence else None
    with static_friendly_resizing():
        if shared is not None:  # one backbone graph (evidence.*) feeds the head graph
            names = [feature_name(i) for i in model.backbone.return_idx]
            maps = [InputSpec(shape=[None, c.channels, None, None], dtype='float32', name=n)
                    for c, n in zip(model.backbone.out_shape, names)]
            static = paddle.jit.to_static(HeadGraph(model), input_spec=[maps],
                                          full_graph=True)
            infer_cfg['backbone'] = {'graph': EVIDENCE, 'inputs': names}
        elif detector:
            static = paddle.jit.to_static(DetectorGraph(model), input_spec=[image],
                                          full_graph=True)
        if detector:
            infer_cfg['outputs'] = output_names(len(model.head.anchor_generator.strides))
            infer_cfg['postprocess'] = retina_postprocess(model.head)
        else:
            static = paddle.jit.to_static(model, input_spec=[{'image': image}],
                                          full_graph=True)
            infer_cfg['outputs'] = ['cam', 'scores']  # the output dict's keys, sorted
        target = os.path.join(output_dir, cfg.filename)
        with atomic_dir(target) as tmp:
            paddle.jit.save(static, os.path.join(tmp, 'model'))
            if verdict is not None:
                infer_cfg['verdict'] = write_verdict(tmp, verdict, classes, shared)
            with open(os.path.join(tmp, INFER_CFG), 'w') as f:
                yaml.safe_dump(infer_cfg, f, sort_keys=False)
    logger.info(f'exported to {target}')
    return target
