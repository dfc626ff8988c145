"""An on-disk cache of :class:`~ppdet_wsd.evidence.features.ImageFeatures`.

Each image's features are computed once per cache folder and kept as one ``.npz`` file,
named by a key over the image file's bytes and the extraction settings: a changed image,
input size or backbone can never hit an old entry. Files are written atomically (a
killed run leaves no half-written entry) and read back on demand, so memory holds only
what the caller keeps.
"""
import hashlib
import os

import numpy as np
from tqdm import tqdm

from ppdet_wsd_runtime.atomic import write_atomic
from ppdet_wsd_runtime.image_io import read_image_rgb

from ..utils.fingerprint import file_digest, fingerprint
from .features import ImageFeatures


class FeatureStore:
    """Features of image files, computed by ``extractor`` once and cached in ``folder``.

    Args:
        folder (str): cache folder (created on first write).
        settings (dict): everything besides the image that decides the features (input
            geometry, backbone and its weights); part of every key.
        make_extractor (callable): builds the extractor (uint8 RGB ``[H, W, 3]`` ->
            ImageFeatures) on first need, so a fully cached run never loads the backbone.
    """

    def __init__(self, folder, settings, make_extractor):
        self.folder = folder
        self.settings_print = fingerprint(settings)
        self._make_extractor = make_extractor
        self._extractor = None
        self._entries = {}  # (path, size, mtime) -> entry path: a file is hashed once

    def _path(self, image_path):
        stat = os.stat(image_path)
        seen = (image_path, stat.st_size, stat.st_mtime_ns)
        if seen not in self._entries:
            key = hashlib.sha1(f'{file_digest(image_path)}:{self.settings_print}'.encode())
            key = key.hexdigest()
            self._entries[seen] = os.path.join(self.folder, key[:2], f'{key}.npz')
        return self._entries[seen]

    def get(self, image_path):
        """The features of one image file (computed and stored when missing).

        Raises:
            ImageReadError: the file cannot be decoded (the message names it).
        """
        path = self._path(image_path)
        if os.path.isfile(path):
            with np.load(path) as data:
                return ImageFeatures(patches=data['patches'], pooled=data['pooled'],
                                     image_hw=tuple(int(v) for v in data['image_hw']))
        if self._extractor is None:
            self._extractor = self._make_extractor()
        features = self._extractor(read_image_rgb(image_path))
        write_atomic(path, lambda f: np.savez(f, patches=features.patches, pooled=features.pooled,
                                              image_hw=np.array(features.image_hw)),
                     binary=True)
        return features

    def fill(self, image_paths, desc='features'):
        """Make sure every image of ``image_paths`` is cached (progress bar)."""
        for image_path in tqdm(image_paths, desc=desc, unit='img', mininterval=5):
            if not os.path.isfile(self._path(image_path)):
                self.get(image_path)
