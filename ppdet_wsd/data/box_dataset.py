"""``BoxLabelDataSet``: image labels plus boxes from a COCO file, for detector training.

The weak pipeline points ``boxes_file`` at ``pseudo_boxes.json`` (written by
``tools/gen_pseudo_boxes.py``); the fully supervised reference points it at the
dataset's own ``annotations.json``. Either way, the image labels still come from
``labels.csv`` (:class:`ImageLabelDataSet`), never from the boxes.
"""
import json
import os

import numpy as np
from ppdet.utils.logger import setup_logger

from ..registry import register_data_source
from .ground_truth import GroundTruthImage
from .image_label_dataset import ImageLabelDataSet
from .labels import DatasetError, file_key

logger = setup_logger(__name__)


def read_coco_boxes(path, classes):
    """Boxes of a COCO file, per image file name, with class indices and scores.

    Args:
        path (str): COCO json; ``file_name`` relative to the dataset's image folder;
            an annotation's optional ``score`` (pseudo boxes) defaults to 1.0.
        classes (list[str]): class names in model output order; every category
            name must be one of them.
    Returns:
        dict[str, tuple]: ``file_name -> (boxes float32 [N, 4] xyxy, classes int32
        [N, 1], scores float32 [N, 1] in [0, 1])`` for every image entry.
    Raises:
        DatasetError: missing or invalid file, unknown category, malformed box; the
            message names ``path``.
    """
    if not os.path.isfile(path):
        raise DatasetError(f'{path}: boxes file not found')
    try:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
        names = {c['id']: c['name'] for c in coco['categories']}
        files = {im['id']: im['file_name'].replace('\\', '/') for im in coco['images']}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise DatasetError(f'{path}: not a COCO file with images and categories ({err})') from None
    unknown = sorted(set(names.values()) - set(classes))
    if unknown:
        raise DatasetError(f'{path}: categories {unknown} are not among the classes {classes}')
    per_image = {image_id: [] for image_id in files}
    for index, ann in enumerate(coco.get('annotations', [])):
        try:
            x, y, w, h = (float(v) for v in ann['bbox'])
            row = [x, y, x + w, y + h, classes.index(names[ann['category_id']]),
                   float(ann.get('score', 1.0))]
            per_image[ann['image_id']].append(row)
        except (KeyError, TypeError, ValueError) as err:
            raise DatasetError(f'{path}: annotations[{index}] is malformed ({err})') from None
        if not (w > 0 and h > 0 and np.isfinite(row).all()):
            raise DatasetError(f'{path}: annotations[{index}] has an empty or invalid box {ann["bbox"]}')
    out = {}
    for image_id, rows in per_image.items():
        table = np.asarray(rows, np.float32).reshape(-1, 6)
        out[files[image_id]] = (table[:, :4], table[:, 4:5].astype(np.int32),
                                np.clip(table[:, 5:6], 0.0, 1.0))
    return out


def excluded_images(path):
    """``info.excluded_images`` of a pseudo-box file (files a review found without
    defect), as a set; empty when there is none."""
    if not os.path.isfile(path):
        return set()
    with open(path, encoding='utf-8') as f:
        return set((json.load(f).get('info') or {}).get('excluded_images', []))


def boxes_as_truth(path, classes, files, sizes):
    """The boxes of a COCO file (e.g. the detector's own training targets,
    ``pseudo_boxes.json``) in the form the box metrics take as ground truth, so a
    detector can be measured against what it was trained on.

    Args:
        path (str): COCO json read by :func:`read_coco_boxes`.
        classes (list[str]): class names in model output order.
        files (list[str]): ``file_name`` of the evaluated images; one without an entry
            in ``path`` counts as an image without boxes.
        sizes (list[tuple[int, int]]): ``(height, width)`` of each of ``files``.
    Returns:
        dict[str, GroundTruthImage]: ``file -> record`` (no masks).
    """
    boxes = read_coco_boxes(path, classes)
    empty = (np.zeros((0, 4), np.float32), np.zeros((0, 1), np.int32), None)
    truth = {}
    for file, (height, width) in zip(files, sizes):
        bbox, cls, _ = boxes.get(file, empty)
        truth[file] = GroundTruthImage(file=file, boxes=bbox, height=int(height),
                                       width=int(width),
                                       labels=tuple(classes[c] for c in cls[:, 0]))
    return truth


@register_data_source
class BoxLabelDataSet(ImageLabelDataSet):
    """:class:`ImageLabelDataSet` records plus the boxes of ``boxes_file``::

        {'im_file', 'im_id', 'h', 'w', 'img_label': float32 [C],
         'gt_bbox': float32 [N, 4] xyxy (original pixels), 'gt_class': int32 [N, 1],
         'gt_score': float32 [N, 1] in [0, 1]}

    Good images have ``N = 0``. A box of a class the image label excludes is
    dropped (the image label is the trusted supervision). Images a review found
    without a visible defect (``info.excluded_images``, :mod:`ppdet_wsd.review.apply`)
    are left out.

    Args:
        boxes_file (str): COCO json (``pseudo_boxes.json`` or, for the fully
            supervised reference only, ``annotations.json``); absolute or relative
            to the working folder, like ``dataset_dir``.
        min_score (float): drop boxes scored below this.
        drop_unboxed_defective (bool): leave out defective images without any box
            (right for true boxes, where such an image has no usable box truth;
            with pseudo boxes keep them: their image label still trains the MIL head).
        good_per_defective (float | None): an epoch is every defective image plus this
            many good images per defective one (a fresh seeded draw each epoch, see
            :meth:`set_epoch`); ``None`` takes every image every epoch. A line's good
            images far outnumber its defective ones; the draw keeps each epoch's time
            on the images that carry boxes while every good image is still seen.
        other args: as :class:`ImageLabelDataSet`.
    """

    def __init__(self, boxes_file=None, min_score=0.0, drop_unboxed_defective=False,
                 good_per_defective=None, **kwargs):
        super().__init__(**kwargs)
        self.boxes_file = boxes_file
        self.min_score = min_score
        self.drop_unboxed_defective = drop_unboxed_defective
        self.good_per_defective = good_per_defective
        self.epoch_order = None

    def epoch_indices(self, epoch):
        """Indices into ``roidbs`` of the images of ``epoch`` (see ``good_per_defective``):
        every defective image, then the epoch's draw of good images; a constant count."""
        indices = np.arange(len(self.roidbs))
        if self.good_per_defective is None:
            return indices
        good = np.array([not r['img_label'].any() for r in self.roidbs], bool)
        count = min(int(good.sum()),
                    int(np.ceil(self.good_per_defective * max(1, (~good).sum()))))
        draw = np.random.default_rng([self.seed, epoch]).choice(indices[good], count,
                                                                 replace=False)
        return np.concatenate([indices[~good], np.sort(draw)])

    def set_epoch(self, epoch_id):
        super().set_epoch(epoch_id)
        self.epoch_order = self.epoch_indices(epoch_id)

    def _order(self):
        """The current epoch's indices (the first epoch's when set_epoch was not called)."""
        if self.epoch_order is None:
            self.epoch_order = self.epoch_indices(0)
        return self.epoch_order

    def __len__(self):
        return len(self._order())

    def __getitem__(self, idx):
        return super().__getitem__(int(self._order()[idx]))

    def boxes_path(self):
        """The boxes file (a path like ``dataset_dir``: absolute or from the working folder)."""
        if not self.boxes_file:
            raise DatasetError(f'{self.dataset_dir}: BoxLabelDataSet needs boxes_file '
                               f'(e.g. -o TrainDataset.boxes_file=<pseudo_boxes.json>)')
        return self.boxes_file

    def parse_dataset(self):
        if self.roidbs is not None:
            return
        super().parse_dataset()
        path = self.boxes_path()
        boxes = read_coco_boxes(path, self.classes)
        excluded = excluded_images(path)
        missing, dropped, records = 0, 0, []
        for record in self.roidbs:
            key = file_key(record['im_file'], self.image_root)
            if key in excluded:
                continue
            if key not in boxes:
                missing += 1
            bbox, cls, score = boxes.get(key, (np.zeros((0, 4), np.float32),
                                               np.zeros((0, 1), np.int32),
                                               np.zeros((0, 1), np.float32)))
            keep = (score[:, 0] >= self.min_score) & (record['img_label'][cls[:, 0]] > 0)
            record.update(gt_bbox=bbox[keep], gt_class=cls[keep], gt_score=score[keep])
            if self.drop_unboxed_defective and record['img_label'].any() and not keep.any():
                dropped += 1
                continue
            records.append(record)
        if missing:
            logger.warning(f'{path}: {missing} of {len(self.roidbs)} {self.split} images have '
                           f'no entry (trained as images without boxes)')
        if dropped:
            logger.info(f'{path}: left out {dropped} defective images without boxes')
        if excluded:
            logger.info(f'{path}: left out {len(excluded)} images a review found without '
                        f'a visible defect')
        self.roidbs = records
        logger.info(f'{path}: {sum(len(r["gt_bbox"]) for r in records)} boxes on '
                    f'{sum(len(r["gt_bbox"]) > 0 for r in records)} of {len(records)} images')
