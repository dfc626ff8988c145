"""The image verdict an export carries: the source (detector, stage-1 classifier or their
mean) and threshold the pipeline chose on val, and, when the source needs it, the stage-1
patch-evidence classifier: its frozen backbone as a second static graph (``evidence.*``)
and its small arrays (``evidence.npz``). The runtime applies it
(:mod:`ppdet_wsd_runtime.verdict`, :mod:`ppdet_wsd_runtime.evidence`), so a deployed
verdict equals the pipeline's.

The stage-1 heat maps (:mod:`ppdet_wsd_runtime.evidence_maps`) come with the stage-1
model: a ``mil`` model's need nothing more than its arrays, so they are always there; a
``fused`` or ``normality`` model's need the normality bank (the good patches, ~50 000 x
152), which only the option ``heat_maps`` exports (``evidence_bank.npy``, float16: half
the float32 bank's size). With ``heat_maps`` a ``detector`` verdict brings the stage-1
model too, for its maps only.
"""
import os
from dataclasses import dataclass

import numpy as np
import paddle
from paddle.static import InputSpec

from ppdet_wsd_runtime.evidence_input import InputGeometry
from ppdet_wsd_runtime.model_dir import EVIDENCE, EVIDENCE_ARRAYS, EVIDENCE_BANK
from ppdet_wsd_runtime.verdict import SOURCES

from ..evidence.features import PATCH_CONTEXT, RETURN_IDX, FeatureExtractor
from ..evidence.geometry import PATCH_STRIDE
from ..evidence.grouping import GROUP_PREFIX

EVIDENCE_OUTPUTS = ['stride8', 'stride16', 'head']
_NAMED_MAPS = dict(zip(RETURN_IDX, EVIDENCE_OUTPUTS))  # the maps the runtime's scorer reads


def feature_name(index):
    """The name of an EfficientNet-Lite feature map (``return_idx`` value) in an export:
    the stage-1 classifier's maps as :data:`EVIDENCE_OUTPUTS` names them, any other
    ``stage<index>``."""
    return _NAMED_MAPS.get(index, f'stage{index}')


def shared_backbone(model):
    """One backbone for a detector and the stage-1 classifier, so an export holds it once.

    The pipeline's detector keeps the ImageNet EfficientNet-Lite0 frozen, the same network
    the stage-1 features come from. When ``model.backbone`` is that network with its
    ImageNet weights unchanged (every parameter and BatchNorm statistic equal), this is an
    ``EfficientNetLite`` returning the maps of both (``return_idx``: the detector's and
    :data:`RETURN_IDX`), in eval mode; otherwise (another backbone, or one trained further,
    e.g. unfrozen on a GPU) None, and the export keeps two backbones.
    """
    from ..backbones.efficientnet_lite import EfficientNetLite
    own = getattr(model, 'backbone', None)
    if not isinstance(own, EfficientNetLite):
        return None
    both = EfficientNetLite(variant=own.variant,
                            return_idx=sorted(set(own.return_idx) | set(RETURN_IDX)))
    imagenet = both.state_dict()
    for name, value in own.state_dict().items():
        if name not in imagenet or not np.array_equal(value.numpy(), imagenet[name].numpy()):
            return None
    both.eval()
    return both


@dataclass
class ExportVerdict:
    """The verdict to export.

    Attributes:
        source (str): ``detector``, ``classifier`` or ``fusion``.
        threshold (float): a class score reaching it makes the image defective.
        evidence (EvidenceModel | None): the fitted stage-1 model (``classifier`` and
            ``fusion`` need it, and ``heat_maps``).
        heat_maps (bool): also export the stage-1 heat maps with the normality bank
            (a ``mil`` model's maps come without it).
    """
    source: str
    threshold: float
    evidence: object = None
    heat_maps: bool = False

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f'verdict source must be one of {SOURCES}, got {self.source!r}')
        if self.evidence is None and (self.source != 'detector' or self.heat_maps):
            need = f'a {self.source} verdict' if self.source != 'detector' else 'heat_maps'
            raise ValueError(f'{need} needs the stage-1 evidence model')

    @property
    def carries_evidence(self):
        """The export holds the stage-1 model (for the verdict or for the heat maps)."""
        return self.source != 'detector' or self.heat_maps


class EvidenceGraph(paddle.nn.Layer):
    """The stage-1 classifier's frozen backbone for export. Input ``image`` float32
    ``[B, 3, H, W]`` (H, W multiples of 32, :class:`InputGeometry`); outputs the backbone's
    maps over the whole input, named by :func:`feature_name` (the stride-8, stride-16 and
    head maps, :data:`EVIDENCE_OUTPUTS`, and with a shared backbone the detector's too)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, image):
        return list(self.backbone(image))


def evidence_arrays(model):
    """The arrays of an ``EvidenceModel`` the verdict needs (``evidence.npz``)."""
    probe = model.probe.state()
    return {'mean': model.mean, 'std': model.std, 'mil_weight': model.mil.weight,
            'mil_bias': model.mil.bias, 'probe_mean': probe['mean'],
            'probe_scale': probe['scale'], 'probe_coef': probe['coef'],
            'probe_intercept': probe['intercept']}


def float16_bank(bank):
    """The normality bank (standardised descriptors, float32 ``[M, D]``) as float16: half
    the size, distances within about 1e-3 relative (docs/deploy.md)."""
    half = np.asarray(bank, np.float32).astype(np.float16)
    if not np.isfinite(half).all():
        raise ValueError('the normality bank does not fit float16 (values beyond 65504)')
    return half


def heat_map_section(model, with_bank):
    """``verdict.evidence.heat_map`` for ``model`` (an ``EvidenceModel``), or None: a
    ``mil`` model's maps always, a ``fused`` / ``normality`` model's only ``with_bank``
    (:data:`EVIDENCE_BANK` is then written beside it)."""
    if model.heat_map != 'mil' and not with_bank:
        return None
    if model.heat_map != 'mil' and model.bank is None:
        raise ValueError(f'the stage-1 model\'s {model.heat_map} heat map has no '
                         f'normality bank to export')
    section = {'kind': model.heat_map,  # the drawn maps' levels (not the grouping map's)
               'levels': {k: v.to_dict() for k, v in model.levels.items()
                          if not k.startswith(GROUP_PREFIX)}}
    if model.heat_map != 'mil':
        section['bank'] = EVIDENCE_BANK
        section['ring_scale'] = np.asarray(model.bank.ring_scale, float).tolist()
    return section


def write_verdict(folder, verdict, classes, backbone=None):
    """Write the verdict's files into ``folder`` and return ``infer_cfg.yml``'s ``verdict``
    section (format in :mod:`ppdet_wsd_runtime.verdict`).

    Args:
        folder (str): the export folder being built.
        verdict (ExportVerdict): what to export.
        classes (list[str]): the detector's classes; the evidence model must have the same.
        backbone (EfficientNetLite | None): the backbone graph to export (its maps
            include those of ``ppdet_wsd.evidence.features.RETURN_IDX``, e.g. the
            :func:`shared_backbone` of the detector); None builds the ImageNet
            EfficientNet-Lite0 the pipeline's features come from.
    Returns:
        dict: the section.
    """
    section = {'source': verdict.source, 'threshold': float(verdict.threshold),
               'classes': list(classes)}
    if not verdict.carries_evidence:
        return section
    model = verdict.evidence
    if list(model.classes) != list(classes):
        raise ValueError(f'the stage-1 classifier\'s classes {model.classes} differ from the '
                         f'detector\'s {list(classes)}')
    geometry = InputGeometry(**model.geometry)
    backbone = backbone or FeatureExtractor(geometry).backbone
    image = InputSpec(shape=[None, 3, None, None], dtype='float32', name='image')
    static = paddle.jit.to_static(EvidenceGraph(backbone), input_spec=[image],
                                  full_graph=True)
    paddle.jit.save(static, os.path.join(folder, EVIDENCE))
    with open(os.path.join(folder, EVIDENCE_ARRAYS), 'wb') as f:
        np.savez(f, **evidence_arrays(model))
    section['evidence'] = {
        'outputs': [feature_name(i) for i in backbone.return_idx],
        # InputGeometry (shared with the runtime), FeatureExtractor's crops, float16 cache
        'geometry': dict(vars(geometry)),
        'top_fraction': float(model.mil.top_fraction), 'context': PATCH_CONTEXT,
        'patch_stride': PATCH_STRIDE, 'head_stride': 4 * PATCH_STRIDE,
        'descriptor_dtype': 'float16'}
    heat = heat_map_section(model, verdict.heat_maps)
    if heat is not None:
        if 'bank' in heat:
            np.save(os.path.join(folder, EVIDENCE_BANK), float16_bank(model.bank.bank))
        section['evidence']['heat_map'] = heat
    return section
