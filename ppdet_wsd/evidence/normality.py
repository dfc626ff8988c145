"""How unlike any good surface each patch is: distance to a memory bank of good patches.

In the spirit of PatchCore / PaDiM: the patch descriptors of the good training images
form a memory bank (a seeded sample of at most ``max_patches`` of them, so memory and
search time stay bounded on large lines); a patch's normality distance is the L2 distance
to its nearest bank patch (exact search, the deploy runtime's
:func:`~ppdet_wsd_runtime.evidence_maps.nearest_distances`, so an export's heat maps are
computed as the pipeline's are). Defects the classifier has never been
told about still stand out, and rare-but-normal structures that occur on good images
(edges, corners, texture changes) do not.

The image edge is the rare-but-normal structure every line has (a part's border, the
background, the crop), and it is more varied than the surface inside. Two rules keep it
from outshining defects (on magnetic tile, 68 of 74 good val images had their farthest
patch on the outermost ring of cells before them):

* the bank draws ``edge_share`` of its patches from the cells within ``EDGE_BANK_DEPTH``
  cells of the edge (a uniform sample gave them only their area's share);
* distances are divided by the mean distance of held-out good images' cells at the same
  distances from the top-or-bottom and from the left-or-right edge (``ring_scale``,
  :func:`ppdet_wsd_runtime.evidence_maps.position_scaled`). The two distances are kept
  apart because a corner, where two edges meet, is rarer than either edge: with one
  scale per distance to the nearer edge (before 2026-12-02), the corner cells of good
  magnetic-tile val images still stood 1.33x above good surface and held the farthest
  patch of 20 of the 74 images.
"""
import numpy as np

from ppdet_wsd_runtime.evidence_maps import (EDGE_RINGS, edge_cells, edge_rings,
                                             nearest_distances, position_scaled, squared_norms)

EDGE_BANK_DEPTH = 2  # cells this close to the image edge form the bank's edge pool


def _sample_cells(grids, masks, quota, rng):
    """``quota`` descriptors drawn without replacement from the cells of ``grids``
    (``[rows, cols, D]`` each) where ``masks`` (bool ``[rows, cols]`` each) hold, as
    float32 ``[quota, D]``; bag by bag, so the pool is never copied whole."""
    counts = np.array([int(m.sum()) for m in masks])
    keep = np.sort(rng.choice(int(counts.sum()), quota, replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)])
    chosen = []
    for i, (grid, mask) in enumerate(zip(grids, masks)):
        local = keep[(keep >= starts[i]) & (keep < starts[i + 1])] - starts[i]
        if len(local):
            chosen.append(np.asarray(grid[mask][local], np.float32))
    return np.concatenate(chosen) if chosen else np.zeros((0, grids[0].shape[-1]), np.float32)


class NormalityBank:
    """Nearest-neighbour distance of patch descriptors to good patches.

    Args:
        max_patches (int): bank size cap (a seeded sample above it).
        seed (int): the sample.
        edge_share (float | None): in [0, 1]: share of the bank drawn from the cells
            near the image edge (the rest from the inside; a pool too small for its share
            gives the rest to the other); None: their area's share (a uniform sample).

    Attributes:
        bank (np.ndarray): float32 ``[M, D]`` standardised good patches.
        ring_scale (np.ndarray): float32 ``[EDGE_RINGS + 1, EDGE_RINGS + 1]`` (> 0), by
            (row ring, column ring); ones until :meth:`fit_positions`.
    """

    def __init__(self, max_patches=50000, seed=0, edge_share=0.5):
        if edge_share is not None and not 0 <= edge_share <= 1:
            raise ValueError(f'NormalityBank.edge_share must be in [0, 1], got {edge_share}')
        self.max_patches = max_patches
        self.seed = seed
        self.edge_share = edge_share
        self.bank = None
        self.ring_scale = np.ones((EDGE_RINGS + 1,) * 2, np.float32)
        self._bank_squared = None

    def fit(self, good_grids):
        """Build the bank from ``good_grids``: list of float ``[rows, cols, D]``
        (standardised descriptors of good images). Returns self."""
        near = [edge_rings(g.shape[:2]) < EDGE_BANK_DEPTH for g in good_grids]
        n_edge = sum(int(m.sum()) for m in near)
        n_inside = sum(m.size for m in near) - n_edge
        if n_edge + n_inside == 0:
            raise ValueError('NormalityBank.fit: no good patch to build the bank from')
        cap = min(self.max_patches, n_edge + n_inside)
        share = n_edge / (n_edge + n_inside) if self.edge_share is None else self.edge_share
        edge_quota = min(n_edge, int(round(share * cap)))
        inside_quota = min(n_inside, cap - edge_quota)
        edge_quota = cap - inside_quota
        rng = np.random.default_rng(self.seed)
        parts = [_sample_cells(good_grids, near, edge_quota, rng),
                 _sample_cells(good_grids, [~m for m in near], inside_quota, rng)]
        self.bank = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        self.ring_scale = np.ones((EDGE_RINGS + 1,) * 2, np.float32)
        self._bank_squared = None
        return self

    def fit_positions(self, good_distances):
        """Set ``ring_scale`` from held-out good images (not in the bank): their
        :meth:`raw_distances` maps, float ``[rows, cols]`` each; a position no map reaches
        (maps fewer than ``2 * EDGE_RINGS + 1`` cells across) takes the mean of the
        others. Returns self."""
        side = EDGE_RINGS + 1
        sums, counts = np.zeros(side * side), np.zeros(side * side)
        for distance in good_distances:
            row, col = edge_cells(distance.shape)
            position = (row * side + col).ravel()
            sums += np.bincount(position, distance.ravel(), side * side)
            counts += np.bincount(position, minlength=side * side)
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        fallback = np.nanmean(mean) if np.isfinite(mean).any() else 1.0
        mean = np.where(np.isfinite(mean) & (mean > 1e-6), mean, max(fallback, 1e-6))
        self.ring_scale = mean.reshape(side, side).astype(np.float32)
        return self

    def raw_distances(self, patches):
        """Distance map before the position scale: float ``[rows, cols, D]`` -> float32
        ``[rows, cols]`` (>= 0)."""
        rows, cols, dim = patches.shape
        if self._bank_squared is None:  # once per bank (a loaded bank is set, not fitted)
            self._bank_squared = squared_norms(self.bank)
        query = np.asarray(patches, np.float32).reshape(-1, dim)
        return nearest_distances(query, self.bank, self._bank_squared).reshape(rows, cols)

    def distances(self, patches):
        """The normality map: :meth:`raw_distances` in units of ``ring_scale``
        (:func:`~ppdet_wsd_runtime.evidence_maps.position_scaled`); float32
        ``[rows, cols]`` (>= 0)."""
        return position_scaled(self.raw_distances(patches), self.ring_scale)
