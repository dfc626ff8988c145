"""The stage-1 heat maps of an export (``infer_cfg.yml: verdict.evidence.heat_map``), in
numpy and OpenCV: the maps ``ppdet_wsd.evidence.model.EvidenceModel.maps`` draws, from the
patch descriptors the classifier already computed (:mod:`.evidence`).

* ``fused``: each stride-8 cell's distance to its nearest good patch (the normality bank,
  ``evidence_bank.npy``, float16), in units of the typical good-surface distance at the
  cell's distance from the image edge (:func:`position_scaled`), given to the class with
  the highest patch logit there (0 for the other classes);
* ``normality``: that distance, the same for every class;
* ``mil``: the patch classifier's probability of the class (no bank).

The nearest-patch search is exact, by blocked matrix products (``|a|^2 - 2ab + |b|^2``;
at most :data:`BLOCK_ELEMENTS` products held at once), and the distance to the patch found
is then computed directly; the plugin's normality bank
(``ppdet_wsd.evidence.normality.NormalityBank``) searches with the same function. Its
cost grows with patches x bank size x descriptor length: on magnetic tile (about 1900 patches per image, 50 000 bank patches of
152 values) about 0.4 s per image on one busy core (docs/deploy.md).

A map is drawn as the pipeline's report draws it: scaled so that the class's background
level is 0 and its level 0.5 (:func:`level_scaled`), stretched bilinearly from the grid
(the resized image's stride-8 cells) onto the original image.

The section, as :func:`ppdet_wsd.deploy.verdict_export.write_verdict` writes it::

    heat_map:
      kind: fused                       # fused | normality | mil
      levels: {'*': {level: 24.35, background: 8.65, ...}}  # per class for mil
      bank: evidence_bank.npy           # fused / normality: float16 [M, D], standardised
      ring_scale: [[13.1, 12.0, ...], ...]  # fused / normality: 5x5, see position_scaled
"""
import os

import numpy as np

from .heatmap import resize_map
from .model_dir import ModelFolderError

KINDS = ('fused', 'normality', 'mil')
ANY_CLASS = '*'          # the levels key of the class-agnostic normality map
BLOCK_ELEMENTS = 1 << 22  # products held at once by the nearest-patch search (16 MiB)
QUERY_BLOCK = 1024        # query rows per block
EDGE_RINGS = 4            # cells 0..3 from the image edge get their own distance scale


def edge_cells(shape, depth=EDGE_RINGS):
    """Each cell's distance, in cells, to the nearest top or bottom edge (its row ring) and
    to the nearest left or right edge (its column ring) of a ``[rows, cols]`` grid, each
    capped at ``depth``: two int ``[rows, cols]`` arrays in ``[0, depth]``."""
    rows, cols = shape
    r, c = np.arange(rows), np.arange(cols)
    row = np.minimum(np.minimum(r, rows - 1 - r), depth)
    col = np.minimum(np.minimum(c, cols - 1 - c), depth)
    return (np.broadcast_to(row[:, None], (rows, cols)),
            np.broadcast_to(col[None, :], (rows, cols)))


def edge_rings(shape, depth=EDGE_RINGS):
    """Each cell's distance, in cells, to the nearest edge of a ``[rows, cols]`` grid,
    capped at ``depth``: int ``[rows, cols]`` in ``[0, depth]`` (0 on the outermost ring)."""
    row, col = edge_cells(shape, depth)
    return np.minimum(row, col)


def position_table(ring_scale):
    """The position scale as a table over (row ring, column ring) (:func:`edge_cells`):
    float32 ``[EDGE_RINGS + 1, EDGE_RINGS + 1]``. A scale of one number per ring
    (``[EDGE_RINGS + 1]``, models and exports written before 2026-12-02) is read as the
    scale of the cell's nearer edge, ``min(row ring, column ring)``, which it was."""
    scale = np.asarray(ring_scale, np.float32)
    if scale.ndim == 1:
        index = np.arange(len(scale))
        scale = scale[np.minimum.outer(index, index)]
    return scale


def position_scaled(distance, ring_scale):
    """The normality map in units of the typical good-surface distance at each cell's
    position: a part's edge is rarer (and so farther from the bank) than its inside, even
    on a good part, and a corner (two edges) rarer still; either would otherwise outshine
    a defect.

    Args:
        distance (np.ndarray): float ``[rows, cols]`` nearest-good-patch distances.
        ring_scale (np.ndarray | None): float ``[EDGE_RINGS + 1, EDGE_RINGS + 1]`` (> 0):
            the mean distance of good validation images' cells at each (row ring, column
            ring) (:func:`edge_cells`), or the older ``[EDGE_RINGS + 1]`` per-ring form
            (:func:`position_table`); None keeps ``distance`` (an export written before
            the scale existed).
    Returns:
        np.ndarray: float32 ``[rows, cols]`` (>= 0; about 1 on good surface).
    """
    distance = np.asarray(distance, np.float32)
    if ring_scale is None:
        return distance
    scale = position_table(ring_scale)
    row, col = edge_cells(distance.shape, len(scale) - 1)
    return (distance / scale[row, col]).astype(np.float32)


def nearest_distances(queries, bank, bank_squared=None, block_elements=BLOCK_ELEMENTS):
    """The L2 distance of each query to its nearest bank row (exact).

    Candidates come from ``|b|^2 - 2ab`` (``|a|^2`` is the same for every row of a query)
    over blocks of at most ``block_elements`` query x bank products; the distance to the
    nearest one is then computed directly (in float64), so it carries no cancellation
    error.

    Args:
        queries (np.ndarray): float ``[n, D]``.
        bank (np.ndarray): float32 ``[m, D]``, ``m >= 1``.
        bank_squared (np.ndarray | None): float32 ``[m]`` squared row norms of ``bank``
            (computed when None).
        block_elements (int): bound of the products held at once.
    Returns:
        np.ndarray: float32 ``[n]`` (>= 0).
    """
    queries = np.ascontiguousarray(queries, np.float32)
    if bank_squared is None:
        bank_squared = squared_norms(bank)
    n = len(queries)
    query_rows = max(1, min(n, QUERY_BLOCK))
    bank_rows = max(1, block_elements // query_rows)
    nearest = np.zeros(n, np.int64)
    for i in range(0, n, query_rows):
        q = queries[i:i + query_rows]
        best = np.full(len(q), np.inf, np.float32)
        which = np.zeros(len(q), np.int64)
        rows = np.arange(len(q))
        for j in range(0, len(bank), bank_rows):
            products = q @ bank[j:j + bank_rows].T          # [q, b]
            products *= -2.0
            products += bank_squared[j:j + bank_rows]
            k = products.argmin(axis=1)
            value = products[rows, k]
            better = value < best
            best[better] = value[better]
            which[better] = k[better] + j
        nearest[i:i + query_rows] = which
    diff = queries.astype(np.float64) - bank[nearest]
    return np.sqrt(np.einsum('ij,ij->i', diff, diff)).astype(np.float32)


def squared_norms(bank):
    """float32 ``[m]``: the squared norm of each row of ``bank`` ``[m, D]``."""
    bank = np.asarray(bank, np.float32)
    return np.einsum('ij,ij->i', bank, bank, dtype=np.float64).astype(np.float32)


def level_scaled(grid_map, level, background):
    """A map scaled to [0, 1] with ``background`` at 0 and ``level`` at 0.5 (without a
    level, None: the map's maximum): how the runner, the pipeline's report and the review
    page colour a map.

    Returns:
        np.ndarray: float32, the shape of ``grid_map``.
    """
    grid_map = np.asarray(grid_map)
    top = level if level is not None else float(grid_map.max())
    span = max(top - background, 1e-6)
    return np.clip((grid_map - background) / (2 * span), 0, 1).astype(np.float32)


class EvidenceMaps:
    """Per-class heat maps of one image from its patch descriptors.

    Args:
        kind (str): ``fused``, ``normality`` or ``mil``.
        levels (dict): ``{class or '*': {'level', 'background', ...}}`` (a class's own
            entry, else ``*``).
        classes (list[str]): the class order of the maps.
        scorer (EvidenceScorer): standardises descriptors and gives the patch logits.
        bank (np.ndarray | None): ``[M, D]`` standardised good patches (any float dtype;
            held as float32); needed by ``fused`` and ``normality``.
        ring_scale (array-like | None): the bank's position scale, ``[5, 5]`` or ``[5]``
            (:func:`position_scaled`).
    """

    def __init__(self, kind, levels, classes, scorer, bank=None, ring_scale=None):
        if kind not in KINDS:
            raise ValueError(f'heat map kind must be one of {KINDS}, got {kind!r}')
        if kind != 'mil' and bank is None:
            raise ValueError(f'a {kind} heat map needs the normality bank')
        self.kind, self.classes, self.scorer = kind, list(classes), scorer
        self.levels = dict(levels)
        for name in self.classes:
            self.levels_of(name)  # every class has levels
        self.files = []  # the export's files the maps read (the bank), set by read_heat_maps
        self.bank = None if bank is None else np.ascontiguousarray(bank, np.float32)
        self.bank_squared = None if bank is None else squared_norms(self.bank)
        self.ring_scale = None if ring_scale is None else np.asarray(ring_scale, np.float32)
        side = EDGE_RINGS + 1
        if self.ring_scale is not None and (self.ring_scale.shape not in ((side, side), (side,))
                                            or not np.all(self.ring_scale > 0)):
            raise ValueError(f'ring_scale must be {side}x{side} (or {side}) positive numbers, '
                             f'got {np.asarray(ring_scale).tolist()}')

    def levels_of(self, class_name):
        """``(level, background)`` of a class's map (the shared ``*`` entry of a
        normality-based map)."""
        entry = self.levels.get(class_name) or self.levels.get(ANY_CLASS)
        if entry is None:
            raise ValueError(f'no heat-map levels for class {class_name} (nor "{ANY_CLASS}")')
        return entry['level'], float(entry['background'])

    def distances(self, standardised):
        """The normality map (position-scaled): float32 ``[rows, cols]`` from
        standardised descriptors ``[rows, cols, D]``."""
        rows, cols, dim = standardised.shape
        return position_scaled(nearest_distances(standardised.reshape(-1, dim), self.bank,
                                                 self.bank_squared).reshape(rows, cols),
                               self.ring_scale)

    def grid_maps(self, patches):
        """Every class's map over the image's stride-8 cells, as ``EvidenceModel.maps``
        (every class competes for a ``fused`` cell).

        Args:
            patches (np.ndarray): ``[rows, cols, D]`` descriptors (float16, as scored).
        Returns:
            np.ndarray: float32 ``[C, rows, cols]`` (>= 0).
        """
        x = self.scorer.standardise(patches)
        logits = self.scorer.patch_logits(x, standardised=True).transpose(2, 0, 1)
        if self.kind == 'mil':
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        distance = self.distances(x)
        if self.kind == 'normality':
            return np.repeat(distance[None], len(self.classes), axis=0)
        winner = np.argmax(logits, axis=0)
        return np.stack([np.where(winner == k, distance, 0.0)
                         for k in range(len(self.classes))]).astype(np.float32)

    def image_map(self, grid_maps, class_index, image_hw):
        """Class ``class_index``'s map as drawn: level-scaled (:func:`level_scaled`; 0 the
        background, 0.5 the level) on the grid, then stretched bilinearly onto the
        original image of ``image_hw`` ``(height, width)``.

        Returns:
            np.ndarray: float32 ``[height, width]`` in [0, 1].
        """
        scaled = level_scaled(grid_maps[class_index],
                              *self.levels_of(self.classes[class_index]))
        return np.clip(resize_map(scaled, *image_hw), 0, 1)


def read_heat_maps(model_dir, section, classes, scorer, bank_file):
    """The export's :class:`EvidenceMaps`, or None when ``section`` (``verdict.evidence``)
    has no ``heat_map``.

    Raises:
        ModelFolderError: the section or the bank file is missing or broken.
    """
    heat = section.get('heat_map')
    if heat is None:
        return None
    where = 'infer_cfg.yml: verdict.evidence.heat_map'
    if not isinstance(heat, dict) or heat.get('kind') not in KINDS:
        raise ModelFolderError(f'{where}.kind must be one of {", ".join(KINDS)} '
                               f'(got {heat!r})')
    if not isinstance(heat.get('levels'), dict):
        raise ModelFolderError(f'{where}.levels must be a mapping of class levels')
    bank = None
    if heat['kind'] != 'mil':
        path = os.path.join(model_dir, heat.get('bank') or bank_file)
        if not os.path.isfile(path):
            raise ModelFolderError(f'{path}: not found; the {heat["kind"]} heat map in '
                                   f'infer_cfg.yml needs the normality bank')
        try:
            bank = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ModelFolderError(f'{path}: not readable ({err})') from None
        dim = len(scorer.arrays['mean'])
        if bank.ndim != 2 or bank.shape[1] != dim or not len(bank):
            raise ModelFolderError(f'{path}: expected [patches, {dim}] descriptors, got '
                                   f'shape {list(bank.shape)}')
    try:
        maps = EvidenceMaps(heat['kind'], heat['levels'], classes, scorer, bank,
                            heat.get('ring_scale'))
    except (ValueError, KeyError, TypeError) as err:
        raise ModelFolderError(f'{where}: {err}') from None
    maps.files = [path] if bank is not None else []
    return maps
