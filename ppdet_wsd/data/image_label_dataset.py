"""``ImageLabelDataSet``: a ppdet data source of images with image-level labels only."""
import os

import numpy as np
from ppdet.data.source.dataset import DetDataset
from ppdet.utils.logger import setup_logger
from tqdm import tqdm

from ppdet_wsd_runtime.image_io import ImageReadError, read_image_rgb

from ..registry import register_data_source
from .check_cache import cached_entry, read_check_cache
from .labels import SPLITS, DatasetError, discover_classes, load_labeled_images, raise_problems

logger = setup_logger(__name__)


@register_data_source
class ImageLabelDataSet(DetDataset):
    """Images sorted as ``good`` or by defect class, for ppdet readers.

    Reads the standard layout (``images/``, ``labels.csv``, optional ``splits.csv``)
    or class folders; never reads boxes or masks. Each record is::

        {'im_file': str, 'im_id': int64 [1], 'h': int, 'w': int,
         'img_label': float32 [num_classes] (multi-hot, all zero for good images)}

    Args:
        dataset_dir (str): dataset root.
        split (str | None): ``train``, ``val``, ``test`` or ``None`` for all images.
        classes (list[str] | None): defect classes in model output order; ``None``
            takes the sorted class names found in the labels (of all splits, so
            every split has the same classes). A label outside this list is an error.
        image_dir, label_file, split_file (str): names inside ``dataset_dir``.
        val_fraction (float): share of train images moved to ``val`` when the
            dataset has no val split (taken from train, never from test).
        test_fraction (float): share for ``test`` when there is no ``splits.csv``.
        seed (int): seed of any split made here.
        check_images (bool): decode every image once while parsing; unreadable or
            missing images are skipped with a warning and counted in ``skipped``.
        check_cache (str | None): a dataset check's cache file
            (:mod:`ppdet_wsd.data.check_cache`; the pipeline sets its own): an image
            unchanged since that check takes its size, or its reason to be skipped,
            from there instead of being decoded again.

    After ``parse_dataset``: ``classes``, ``roidbs``, ``skipped`` and ``image_root``
    (the folder that ``labels.csv`` paths are relative to).
    """

    def __init__(self, dataset_dir=None, split='train', classes=None,
                 image_dir='images', label_file='labels.csv', split_file='splits.csv',
                 val_fraction=0.1, test_fraction=0.2, seed=0, check_images=True,
                 check_cache=None, data_fields=['image'], sample_num=-1, **kwargs):
        super().__init__(dataset_dir=dataset_dir, image_dir=image_dir,
                         data_fields=data_fields, sample_num=sample_num, **kwargs)
        if split is not None and split not in SPLITS:
            raise DatasetError(f'split must be one of {SPLITS} or null, got "{split}"')
        self.split = split
        self.classes = list(classes) if classes else None
        self.label_file = label_file
        self.split_file = split_file
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.check_images = check_images
        self.check_cache = check_cache
        self.skipped = []
        self.roidbs = None
        self.image_root = None

    def check_or_download_dataset(self):
        """Never download: fail clearly when the folder is missing."""
        if not os.path.isdir(self.dataset_dir):
            raise DatasetError(f'{self.dataset_dir}: dataset folder not found')

    def parse_dataset(self):
        """Build ``self.roidbs`` (see class docstring); idempotent."""
        if self.roidbs is not None:
            return
        images, self.image_root = load_labeled_images(
            self.dataset_dir, self.image_dir, self.label_file, self.split_file,
            self.val_fraction, self.test_fraction, self.seed)
        self.classes = self._checked_classes(images)
        chosen = [im for im in images if self.split is None or im.split == self.split]
        if self.sample_num > 0:
            chosen = chosen[:self.sample_num]
        index = {name: i for i, name in enumerate(self.classes)}
        checked = read_check_cache(self.check_cache) if self.check_cache else {}
        records = []
        for im_id, image in enumerate(tqdm(chosen, desc=f'reading {self.split or "all"} images',
                                           disable=not self.check_images, leave=False)):
            path = os.path.join(self.image_root, image.file)
            record = self._record(path, im_id, image.labels, index,
                                  cached_entry(checked, image.file, path))
            if record is not None:
                records.append(record)
        self._report_skipped()
        if not records:
            raise DatasetError(f'{self.dataset_dir}: no usable image in split '
                               f'"{self.split}" ({len(chosen)} listed, '
                               f'{len(self.skipped)} skipped)')
        self.roidbs = records
        logger.info(f'{self.dataset_dir} [{self.split}]: {len(records)} images, '
                    f'{sum(r["img_label"].any() for r in records)} defective, '
                    f'classes {self.classes}')

    def _checked_classes(self, images):
        found = discover_classes(images)
        if not self.classes:
            if not found:
                raise DatasetError(f'{self.dataset_dir}: every image is labelled good; '
                                   f'at least one defect class is needed')
            return found
        label_path = os.path.join(self.dataset_dir, self.label_file)
        raise_problems([f'{label_path}: "{im.file}" has label(s) '
                        f'{sorted(set(im.labels) - set(self.classes))} not in the configured '
                        f'classes {self.classes}'
                        for im in images if set(im.labels) - set(self.classes)])
        return self.classes

    def _record(self, path, im_id, labels, index, checked=None):
        """One record, or ``None`` (and a note in ``skipped``) for a bad image;
        ``checked``: the dataset check's entry of the unchanged file, if any (then the
        file is known to exist: its stamp was just read)."""
        if checked is None and not os.path.isfile(path):
            self.skipped.append((path, 'file not found'))
            return None
        h = w = None
        if checked is not None:
            if 'problem' in checked:
                self.skipped.append((path, checked['problem']))
                return None
            h, w = checked['size']
        elif self.check_images:
            try:
                h, w = read_image_rgb(path).shape[:2]
            except ImageReadError as err:
                self.skipped.append((path, str(err)))
                return None
        img_label = np.zeros(len(self.classes), dtype=np.float32)
        img_label[[index[name] for name in labels]] = 1.0
        return {'im_file': path, 'im_id': np.array([im_id], dtype=np.int64),
                'h': h, 'w': w, 'img_label': img_label}

    def _report_skipped(self):
        if not self.skipped:
            return
        shown = '\n'.join(f'  {p}: {why}' for p, why in self.skipped[:10])
        more = f'\n  ... and {len(self.skipped) - 10} more' if len(self.skipped) > 10 else ''
        logger.warning(f'skipped {len(self.skipped)} image(s) of {self.dataset_dir}:\n'
                       f'{shown}{more}')

    def get_anno(self):
        """No annotation file: this source carries image labels only."""
        return None
