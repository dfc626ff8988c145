"""The fitted patch-evidence model: image verdict, per-class heat maps and their boxes.

Parts (each fitted by :func:`ppdet_wsd.evidence.fit.fit_evidence`):

* a channel standardiser of the patch descriptors (train patches' mean and std);
* :class:`~ppdet_wsd.evidence.image_probe.ImageProbe`: class probabilities of an image;
* :class:`~ppdet_wsd.evidence.patch_mil.PatchMIL`: class logits of every patch;
* :class:`~ppdet_wsd.evidence.normality.NormalityBank` (None without good images);
* a second bank of coarse (neighbourhood-averaged) good patches for the map that groups
  fragments (:mod:`ppdet_wsd.evidence.grouping`; None without good images or grouping);
* :class:`~ppdet_wsd.evidence.calibration.ClassLevels`: one set for the normality map
  (key ``*``, set on good val images) or, for a ``mil`` model, one per class; the coarse
  map's under the same keys prefixed ``grouping/``.

Saved as ``evidence_model.npz`` (arrays) + ``evidence_model.json`` (the rest) in a folder.
"""
import json
import os

import numpy as np
from scipy.special import expit

from ppdet_wsd_runtime.atomic import write_atomic, write_json_atomic
from ppdet_wsd_runtime.evidence import standardise_patches
from ppdet_wsd_runtime.evidence_input import InputGeometry

from ..pseudo.regions import group_fragments, region_boxes
from ..utils.settings import setting_defaults
from .calibration import ClassLevels
from .features import PATCH_CONTEXT
from .geometry import PATCH_STRIDE, map_to_image
from .grouping import coarse_descriptors, group_key
from .image_probe import ImageProbe
from .normality import NormalityBank
from .patch_mil import PatchMIL
from .settings import PatchEvidence

ARRAYS = 'evidence_model.npz'
META = 'evidence_model.json'
BOX_UPSAMPLE = 4  # boxes are cut on the grid map upsampled this many times
ANY_CLASS = '*'   # the levels key of the class-agnostic normality map


class EvidenceModel:
    """Image scores, heat maps and boxes from cached :class:`ImageFeatures`.

    Attributes:
        classes (list[str]): defect classes in output order.
        heat_map (str): the map kind in use (``fused``, ``mil`` or ``normality``).
        settings (dict): the ``PatchEvidence`` settings it was fitted with.
        geometry (dict): the input geometry the features were made with.
    """

    def __init__(self, classes, heat_map, settings, geometry, mean, std, probe, mil, bank,
                 levels=None, group_bank=None):
        self.classes = list(classes)
        self.heat_map = heat_map
        self.settings = dict(settings)
        self.geometry = dict(geometry)
        self.mean, self.std = mean, std
        self.probe, self.mil, self.bank = probe, mil, bank
        self.group_bank = group_bank
        self.levels = levels or {}

    @property
    def group_cells(self):
        """The coarse map's neighbourhood in cells; 0 when fragments are not grouped."""
        cells = int(self.settings.get('group_cells', 0))
        return cells if cells > 1 else 0

    def levels_of(self, class_name):
        """The :class:`ClassLevels` a class's map is cut at (the shared ``*`` set of a
        normality-based model)."""
        return self.levels.get(class_name) or self.levels[ANY_CLASS]

    def map_blur_pixels(self, image_hw):
        """How far, in original pixels, a map region reaches beyond the defect: one patch
        neighbourhood (``PATCH_CONTEXT`` cells of ``PATCH_STRIDE`` input pixels)."""
        resized = InputGeometry(**self.geometry).resized_size(*image_hw)
        return PATCH_CONTEXT * PATCH_STRIDE * image_hw[0] / resized[0]

    # ------------------------------------------------------------------ maps
    def standardise(self, patches):
        """float16/32 ``[..., D]`` -> float32 standardised descriptors
        (:func:`~ppdet_wsd_runtime.evidence.standardise_patches`)."""
        return standardise_patches(patches, self.mean, self.std)

    def image_scores(self, features):
        """Class probabilities ``[C]`` of one image (the verdict's source): the mean of
        the linear probe's (global evidence) and the patch classifier's top-k pooled
        probability (local evidence)."""
        local = expit(self.mil.image_logits(self.standardise(features.patches)))
        return (0.5 * (self.probe.scores(features.pooled[None])[0] + local)).astype(np.float32)

    def maps(self, features, candidates=None):
        """Every class's evidence map over the image's stride-8 cells, as drawn and measured.

        * ``normality``: the distance to the nearest good patch, the same for every class;
        * ``mil``: the patch classifier's probability of the class;
        * ``fused``: normality says where, the patch classifier says which class: each
          cell's distance goes to the candidate class with the highest patch logit there
          (0 for the others). With one candidate class (a single-label image) its map is
          the normality map itself.

        Args:
            features (ImageFeatures): one image.
            candidates (list[int] | None): class indices competing for ``fused`` cells
                (an image's labelled classes; None: every class).
        Returns:
            np.ndarray: float32 ``[C, rows, cols]`` (>= 0).
        """
        return self.evidence(features, candidates)[0]

    def evidence(self, features, candidates=None, boxed=(), always=False):
        """Maps (see :meth:`maps`) and the boxes of the classes ``boxed`` of one image.

        Boxes are cut (:func:`~ppdet_wsd.pseudo.regions.region_boxes`) from the normality
        map for ``fused`` / ``normality`` models, at the level set on good val images,
        and each region goes to the boxed class with the highest mean patch logit in it;
        a ``mil`` model cuts each class's probability map at that class's level.

        Args:
            features (ImageFeatures): one image.
            candidates (list[int] | None): see :meth:`maps`.
            boxed (list[int]): classes to box (an image's labelled classes).
            always (bool): box a class's strongest region even below the level.
        Returns:
            tuple[np.ndarray, list[dict]]: maps ``[C, rows, cols]`` and boxes ``{'class',
            'box' [x1, y1, x2, y2] (float, original-image pixel edges), 'score' (in (0, 1),
            see ClassLevels.score), 'peak' (map value), 'above_level' (bool)}``, strongest
            first.
        """
        x = self.standardise(features.patches)
        num = len(self.classes)
        logits = self.mil.logits(x).transpose(2, 0, 1)                  # [C, rows, cols]
        if self.heat_map == 'mil':  # not grouped (module docstring of .grouping)
            maps = expit(logits).astype(np.float32)
            boxes = []
            for k in boxed:
                key = self.classes[k]
                regions = self._regions(maps[k], self.levels[key], always)
                boxes += self._box_dicts(regions, [k] * len(regions), self.levels[key],
                                         maps[k].shape, features.image_hw)
            return maps, boxes
        distance = self.bank.distances(x)
        if self.heat_map == 'normality':
            maps = np.repeat(distance[None], num, axis=0)
        else:
            ids = list(range(num)) if candidates is None else list(candidates)
            winner = np.asarray(ids)[np.argmax(logits[ids], axis=0)]
            maps = np.stack([np.where(winner == k, distance, 0.0) for k in range(num)])
            maps = maps.astype(np.float32)
        if not boxed:
            return maps, []
        levels = self.levels[ANY_CLASS]
        regions = self._grouped(self._regions(distance, levels, always),
                                lambda: self.coarse_map(x))
        owners = [self._owner(logits, boxed, box, distance.shape) for box, _ in regions]
        return maps, self._box_dicts(regions, owners, levels, distance.shape, features.image_hw)

    def coarse_map(self, standardised):
        """The coarse map that groups fragments (:mod:`~ppdet_wsd.evidence.grouping`):
        standardised descriptors float32 ``[rows, cols, D]`` -> float32 ``[rows, cols]``,
        the distance of descriptors averaged over ``group_cells`` to the coarse good
        patches."""
        return self.group_bank.distances(coarse_descriptors(standardised, self.group_cells))

    def _grouped(self, regions, coarse_map):
        """``regions`` of the normality map with the fragments that one region of the
        coarse map (``coarse_map()``, computed only when there are fragments to join, cut
        at the levels under :func:`~ppdet_wsd.evidence.grouping.group_key` of ``*``) joins
        made one."""
        levels = self.levels.get(group_key(ANY_CLASS))
        if len(regions) < 2 or not self.group_cells or levels is None or levels.level is None:
            return regions
        return group_fragments(regions, self._regions(coarse_map(), levels, False))

    def _regions(self, grid_map, levels, always):
        """Regions of a grid map on a 4x finer grid: ``[(box in fine pixels, peak)]``."""
        rows, cols = grid_map.shape
        fine = map_to_image(grid_map, rows * BOX_UPSAMPLE, cols * BOX_UPSAMPLE)
        level = levels.level if levels.level is not None else np.inf
        return region_boxes(fine, level, levels.background, self.settings['extent'],
                            always=always or levels.level is None,
                            max_regions=self.settings['max_boxes_per_class'])

    @staticmethod
    def _owner(logits, boxed, box, grid_shape):
        """The class of ``boxed`` with the highest mean patch logit inside ``box``."""
        x1, y1, x2, y2 = (box / BOX_UPSAMPLE).tolist()
        r1, c1 = int(y1), int(x1)
        r2 = max(r1 + 1, min(grid_shape[0], int(np.ceil(y2))))
        c2 = max(c1 + 1, min(grid_shape[1], int(np.ceil(x2))))
        means = [logits[k, r1:r2, c1:c2].mean() for k in boxed]
        return boxed[int(np.argmax(means))]

    def _box_dicts(self, regions, owners, levels, grid_shape, image_hw):
        height, width = image_hw
        scale = np.array([width / (grid_shape[1] * BOX_UPSAMPLE),
                          height / (grid_shape[0] * BOX_UPSAMPLE)] * 2, np.float32)
        return [{'class': self.classes[k], 'box': [float(v) for v in box * scale],
                 'score': levels.score(peak), 'peak': peak,
                 'above_level': levels.level is not None and peak > levels.level}
                for (box, peak), k in zip(regions, owners)]

    # ------------------------------------------------------------------ files
    def save(self, folder):
        """Write the model into ``folder`` (each file atomically; the json last)."""
        os.makedirs(folder, exist_ok=True)
        arrays = {'mean': self.mean, 'std': self.std, 'mil_weight': self.mil.weight,
                  'mil_bias': self.mil.bias,
                  **{f'probe_{k}': v for k, v in self.probe.state().items()}}
        if self.bank is not None:
            arrays['bank'] = self.bank.bank
            arrays['bank_ring_scale'] = self.bank.ring_scale
        if self.group_bank is not None:
            arrays['group_bank'] = self.group_bank.bank
            arrays['group_bank_ring_scale'] = self.group_bank.ring_scale
        write_atomic(os.path.join(folder, ARRAYS), lambda f: np.savez(f, **arrays), binary=True)
        write_json_atomic(os.path.join(folder, META), {
            'classes': self.classes, 'heat_map': self.heat_map, 'settings': self.settings,
            'geometry': self.geometry, 'mil_top_fraction': self.mil.top_fraction,
            'levels': {c: v.to_dict() for c, v in self.levels.items()}})

    @classmethod
    def load(cls, folder):
        """Read a model written by :meth:`save`; a setting added to ``PatchEvidence`` after
        the model was saved takes its default.

        Raises:
            FileNotFoundError: ``folder`` holds no complete model (names the file).
        """
        meta_path, array_path = os.path.join(folder, META), os.path.join(folder, ARRAYS)
        for path in (meta_path, array_path):
            if not os.path.isfile(path):
                raise FileNotFoundError(f'{path}: no fitted evidence model here')
        with open(meta_path, encoding='utf-8') as f:
            meta = json.load(f)
        with np.load(array_path) as data:
            arrays = {k: data[k] for k in data.files}
        mil = PatchMIL(top_fraction=meta['mil_top_fraction'])
        mil.weight, mil.bias = arrays['mil_weight'], arrays['mil_bias']
        probe = ImageProbe.load({k[len('probe_'):]: v for k, v in arrays.items()
                                 if k.startswith('probe_')})
        bank, group_bank = (_load_bank(arrays, prefix) for prefix in ('', 'group_'))
        levels = {c: ClassLevels(**v) for c, v in meta['levels'].items()}
        settings = {**setting_defaults(PatchEvidence), **meta['settings']}
        return cls(meta['classes'], meta['heat_map'], settings, meta['geometry'],
                   arrays['mean'], arrays['std'], probe, mil, bank, levels, group_bank)


def _load_bank(arrays, prefix):
    """The :class:`NormalityBank` saved under ``<prefix>bank`` (None if absent; a bank
    saved before the position scale keeps ones)."""
    if prefix + 'bank' not in arrays:
        return None
    bank = NormalityBank()
    bank.bank = arrays[prefix + 'bank']
    if prefix + 'bank_ring_scale' in arrays:
        bank.ring_scale = arrays[prefix + 'bank_ring_scale']
    return bank
