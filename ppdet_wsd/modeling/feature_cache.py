"""Remember what a frozen backbone computed, so later epochs skip it."""
import hashlib

import numpy as np
import paddle


def sample_key(image):
    """A content key of one input image (``float32 [3, H, W]`` numpy array)."""
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


class FeatureCache:
    """Per-image cache of frozen feature maps, keyed by the exact input pixels.

    A key is the hash of one image as it enters the network, so any augmentation
    (a flip, another size) is simply another entry and never a wrong hit. Entries
    are stored as float16 numpy arrays; once ``max_mb`` is reached nothing new is
    stored (what is cached stays valid).

    Args:
        max_mb (float): memory budget of the stored features in MiB.
    """

    def __init__(self, max_mb=4096):
        self.max_bytes = int(max_mb * 2**20)
        self.used_bytes = 0
        self.store = {}
        self.hits = self.misses = 0

    def __call__(self, compute, image):
        """Features of a batch, computing only the images not cached yet.

        Args:
            compute (callable): ``image [b, 3, H, W] -> list[Tensor [b, C_i, H_i, W_i]]``.
            image (paddle.Tensor): float32 ``[B, 3, H, W]``.
        Returns:
            list[paddle.Tensor]: float32 ``[B, C_i, H_i, W_i]``, no gradient.
        """
        batch = image.numpy()
        keys = [sample_key(x) for x in batch]
        todo = [i for i, k in enumerate(keys) if k not in self.store]
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        fresh = {}
        if todo:
            with paddle.no_grad():
                feats = compute(paddle.to_tensor(batch[todo]))
            for j, i in enumerate(todo):
                fresh[keys[i]] = [f[j].numpy().astype(np.float16) for f in feats]
                self._remember(keys[i], fresh[keys[i]])
        per_image = [fresh.get(k) or self.store[k] for k in keys]
        return [paddle.to_tensor(np.stack([maps[level] for maps in per_image]).astype(np.float32))
                for level in range(len(per_image[0]))]

    def _remember(self, key, maps):
        size = sum(m.nbytes for m in maps)
        if self.used_bytes + size <= self.max_bytes:
            self.store[key] = maps
            self.used_bytes += size
