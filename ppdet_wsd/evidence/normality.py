"""How unlike any good surface each patch is: distance to a memory bank of good patches.

In the spirit of PatchCore / PaDiM: the patch descriptors of the good training images
form a memory bank (a seeded random sample of at most ``max_patches`` of them, so memory
and search time stay bounded on large lines); a patch's normality distance is the L2
distance to its nearest bank patch (faiss, exact search). Defects the classifier has never
been told about still stand out, and rare-but-normal structures that occur on good
images (edges, corners, texture changes) do not.
"""
import faiss
import numpy as np


class NormalityBank:
    """Nearest-neighbour distance of patch descriptors to good patches.

    Args:
        max_patches (int): bank size cap (a seeded random sample above it).
        seed (int): the sample.
    """

    def __init__(self, max_patches=50000, seed=0):
        self.max_patches = max_patches
        self.seed = seed
        self.bank = None
        self._index = None

    def fit(self, good_bags):
        """Build the bank from ``good_bags``: list of float ``[n_i, D]`` (standardised).
        Returns self."""
        counts = np.array([len(b) for b in good_bags])
        total = int(counts.sum())
        if total == 0:
            raise ValueError('NormalityBank.fit: no good patch to build the bank from')
        rng = np.random.default_rng(self.seed)
        keep = np.sort(rng.choice(total, min(total, self.max_patches), replace=False))
        starts = np.concatenate([[0], np.cumsum(counts)])
        chosen = []
        for i, bag in enumerate(good_bags):
            local = keep[(keep >= starts[i]) & (keep < starts[i + 1])] - starts[i]
            chosen.append(np.asarray(bag, np.float32)[local])
        self.bank = np.ascontiguousarray(np.concatenate(chosen), dtype=np.float32)
        self._index = None
        return self

    @property
    def index(self):
        if self._index is None:
            self._index = faiss.IndexFlatL2(self.bank.shape[1])
            self._index.add(self.bank)
        return self._index

    def distances(self, patches):
        """Distance map: float ``[rows, cols, D]`` -> float32 ``[rows, cols]`` (>= 0)."""
        rows, cols, dim = patches.shape
        query = np.ascontiguousarray(np.asarray(patches, np.float32).reshape(-1, dim))
        squared, _ = self.index.search(query, 1)
        return np.sqrt(np.maximum(squared[:, 0], 0.0)).reshape(rows, cols)
