"""The stage-1 patch-evidence classifier of an export (the pipeline's ``classifier`` verdict
source), in numpy and OpenCV around its exported frozen backbone.

Per image: the aspect-kept input and the stride-8 patch descriptors
(:mod:`.evidence_input`, the definition the plugin fits with), the backbone graph
(``evidence.*``: the stride-8, stride-16 and head maps) and the pooled head map, then the
image probe and the top-k patch classifier (:class:`EvidenceScorer`, tested equal to
``ppdet_wsd.evidence.model.EvidenceModel.image_scores``); the image's class scores are
their mean. The descriptors are rounded to float16, as the pipeline's feature cache stores
them, so the scores are the ones the pipeline chose its verdict with. An export with heat
maps also gives each image's per-class maps from the same descriptors
(:mod:`.evidence_maps`).
"""
import os

import numpy as np

from .backends import create_backend
from .evidence_input import InputGeometry, patch_descriptors
from .evidence_maps import read_heat_maps
from .model_dir import EVIDENCE, EVIDENCE_ARRAYS, EVIDENCE_BANK, ModelFolderError

ARRAY_KEYS = ('mean', 'std', 'mil_weight', 'mil_bias', 'probe_mean', 'probe_scale',
              'probe_coef', 'probe_intercept')


def sigmoid(x):
    """The logistic function, in the dtype of ``x``."""
    x = np.asarray(x)
    return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype)


def standardise_patches(patches, mean, std):
    """Patch descriptors ``[..., D]`` (float16 / 32) minus ``mean``, over ``std`` (float32
    ``[D]`` each): float32 ``[..., D]``, the form the patch classifier and the normality
    bank read. The one formula of the fit, the eager model and this runtime."""
    return ((np.asarray(patches, np.float32) - mean) / std).astype(np.float32)


class EvidenceScorer:
    """Class scores of one image from its backbone maps: the mean of the image probe
    (logistic regression on the pooled head map) and the patch classifier's top-k pooled
    probability over the standardised patch descriptors.

    Args:
        arrays (dict): ``mean`` / ``std`` (descriptor standardiser), ``mil_weight``
            ``[D, C]`` / ``mil_bias`` ``[C]``, ``probe_mean`` / ``probe_scale`` ``[F]``,
            ``probe_coef`` ``[C, F]`` / ``probe_intercept`` ``[C]``.
        geometry (InputGeometry): the input plan (for the crop).
        top_fraction (float): share of an image's patches pooled by the patch classifier.
        context (int): neighbourhood averaged into a descriptor.
        patch_stride, head_stride (int): the strides of the patch grid and the head map.
        descriptor_dtype (str): descriptors are rounded to it (``float16``, as cached by
            the pipeline) before scoring.
    """

    def __init__(self, arrays, geometry, top_fraction, context=3, patch_stride=8,
                 head_stride=32, descriptor_dtype='float16'):
        self.arrays = {k: np.asarray(arrays[k]) for k in ARRAY_KEYS}
        self.geometry = geometry
        self.top_fraction = float(top_fraction)
        self.context = int(context)
        self.patch_stride, self.head_stride = int(patch_stride), int(head_stride)
        self.descriptor_dtype = np.dtype(descriptor_dtype)

    @property
    def num_classes(self):
        return len(self.arrays['mil_bias'])

    def features(self, fine, coarse, head, resized_hw):
        """(descriptors ``[rows, cols, D]`` in ``descriptor_dtype``, pooled head float32
        ``[F]``) of one image's maps (``[C, h, w]`` each, over the whole input)."""
        crop = self.geometry.crop
        patches = crop(patch_descriptors(fine, coarse, self.context).transpose(2, 0, 1),
                       self.patch_stride, resized_hw)
        head = crop(head, self.head_stride, resized_hw)
        return (patches.transpose(1, 2, 0).astype(self.descriptor_dtype),
                head.reshape(head.shape[0], -1).mean(axis=1).astype(np.float32))

    def probe_scores(self, pooled):
        """The image probe: float ``[F]`` -> float32 ``[C]``."""
        a = self.arrays
        x = (np.asarray(pooled, np.float64) - a['probe_mean']) / a['probe_scale']
        logits = x @ a['probe_coef'].T.astype(np.float64) + a['probe_intercept']
        return sigmoid(logits).astype(np.float32)

    def standardise(self, patches):
        """:func:`standardise_patches` with the train patches' mean and std, as the patch
        classifier and the normality bank take them."""
        return standardise_patches(patches, self.arrays['mean'], self.arrays['std'])

    def patch_logits(self, patches, standardised=False):
        """The patch classifier's logits: ``[..., D]`` -> float32 ``[..., C]``
        (``standardised``: ``patches`` already went through :meth:`standardise`)."""
        x = patches if standardised else self.standardise(patches)
        return x @ self.arrays['mil_weight'] + self.arrays['mil_bias']

    def patch_scores(self, patches):
        """The patch classifier's image probability: the mean of the top ``top_fraction``
        patch logits per class (at least one patch), float ``[rows, cols, D]`` -> float32
        ``[C]``."""
        flat = self.patch_logits(patches).reshape(-1, self.num_classes)
        k = max(1, int(np.ceil(self.top_fraction * len(flat))))
        return sigmoid(-np.sort(-flat, axis=0)[:k].mean(axis=0)).astype(np.float32)

    def image_scores(self, fine, coarse, head, resized_hw):
        """float32 ``[C]`` class scores of one image from its maps."""
        return self.scores_of(*self.features(fine, coarse, head, resized_hw))

    def scores_of(self, patches, pooled):
        """float32 ``[C]`` class scores of one image from its :meth:`features`."""
        return (0.5 * (self.probe_scores(pooled) + self.patch_scores(patches))).astype(
            np.float32)


def read_arrays(model_dir):
    """``evidence.npz`` of an export as a dict (checked for every key).

    Raises:
        ModelFolderError: the file is missing, unreadable or lacks a key.
    """
    path = os.path.join(model_dir, EVIDENCE_ARRAYS)
    if not os.path.isfile(path):
        raise ModelFolderError(f'{path}: not found; the verdict in infer_cfg.yml needs the '
                               f'stage-1 classifier\'s arrays')
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise ModelFolderError(f'{path}: not readable ({err})') from None
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise ModelFolderError(f'{path}: missing {", ".join(missing)}')
    return arrays


class ExportedEvidence:
    """The exported stage-1 classifier: the backbone graph ``evidence.*`` on a backend,
    :class:`EvidenceScorer` and, when the export has them, its heat maps
    (:class:`~ppdet_wsd_runtime.evidence_maps.EvidenceMaps`, ``None`` otherwise).

    Args:
        model_dir (str): the export folder.
        section (dict): ``infer_cfg.yml``'s ``verdict.evidence`` (see
            :func:`ppdet_wsd_runtime.verdict.read_verdict`).
        classes (list[str]): the class order.
        backend (str): ``paddle`` or ``onnx`` (``evidence.onnx``; always float32).
        threads (int | None): CPU threads.
    """

    def __init__(self, model_dir, section, classes, backend='paddle', threads=None):
        self.section = section
        self.geometry = InputGeometry(**section['geometry'])
        self.scorer = EvidenceScorer(read_arrays(model_dir), self.geometry,
                                     section['top_fraction'], section['context'],
                                     section['patch_stride'], section['head_stride'],
                                     section['descriptor_dtype'])
        self.maps = read_heat_maps(model_dir, section, classes, self.scorer, EVIDENCE_BANK)
        self.outputs = list(section['outputs'])
        self.backend = create_backend(backend, model_dir, threads, stem=EVIDENCE)

    def backbone_maps(self, batch):
        """``{name: float32 map}`` of the backbone graph on a preprocessed ``batch``
        ``[B, 3, H, W]``: the maps ``section['outputs']`` names (with a backbone shared
        with the detector, the detector head's inputs too)."""
        return dict(zip(self.outputs, self.backend.run(batch)))

    def scores(self, images):
        """float32 ``[N, C]`` class scores of uint8 RGB images ``[H, W, 3]``."""
        return self.evaluate(images)[0]

    def evaluate(self, images, maps=False):
        """Class scores and (``maps``, with an export that has them) heat maps of uint8
        RGB images ``[H, W, 3]``. Images whose inputs have one shape go through the
        backbone in one call.

        Returns:
            tuple: float32 ``[N, C]`` scores and, per image, its grid maps float32
            ``[C, rows, cols]`` (:meth:`EvidenceMaps.grid_maps`) or None.
        """
        prepared = [self.geometry.prepare(rgb) for rgb in images]
        scores = np.zeros((len(images), self.scorer.num_classes), np.float32)
        grid_maps = [None] * len(images)
        groups = {}
        for i, (x, _) in enumerate(prepared):
            groups.setdefault(x.shape, []).append(i)
        for ids in groups.values():
            out = self.backbone_maps(np.stack([prepared[i][0] for i in ids]))
            for row, i in enumerate(ids):
                patches, pooled = self.scorer.features(out['stride8'][row], out['stride16'][row],
                                                       out['head'][row], prepared[i][1])
                scores[i] = self.scorer.scores_of(patches, pooled)
                if maps and self.maps is not None:
                    grid_maps[i] = self.maps.grid_maps(patches)
        return scores, grid_maps
