"""Boxes and masks of a dataset -- FOR EVALUATION ONLY.

!!! The weak pipeline must NEVER call this module for training, for choosing CAM
!!! thresholds or other hyper-parameters, or for model selection. Image labels
!!! (:mod:`ppdet_wsd.data.labels`) are its only supervision. This loader exists so that
!!! benchmarks and reports can measure localisation against the truth (see
!!! docs/DATASETS.md, "Measuring honestly"); a "few boxes" option must name how many
!!! boxed images it reads and call this loader itself, visibly.

Files read (standard layout, docs/DATASETS.md)::

    <root>/annotations.json   COCO: images {id, file_name, width, height, loc_gt?},
                              annotations {image_id, category_id, bbox [x, y, w, h]},
                              categories {id, name}
    <root>/masks/<stem>.png   optional binary masks (0 / 255), <stem> = file_name
                              without its extension (sub-folders kept)

An image entry with ``"loc_gt": false`` has no usable localisation ground truth: keep
it for classification, leave it out of box and pixel metrics.
"""
import json
import os
from dataclasses import dataclass

import cv2
import numpy as np

from .labels import DatasetError

ANNOTATION_FILE = 'annotations.json'
MASK_DIR = 'masks'


@dataclass(frozen=True, eq=False)
class GroundTruthImage:
    """The localisation ground truth of one image (evaluation only).

    Attributes:
        file (str): ``file_name`` of the image entry (relative to the image folder).
        boxes (np.ndarray): float32 ``[N, 4]`` ``(x1, y1, x2, y2)`` in pixel-edge
            coordinates (COCO ``x + w``, ``y + h``); ``[0, 4]`` for a good image.
        labels (tuple[str, ...]): class name of each box, ``N`` entries.
        height (int): image height in pixels.
        width (int): image width in pixels.
        loc_gt (bool): False when the image has no usable localisation ground truth
            (leave it out of box and pixel metrics).
        mask_path (str | None): path of its mask PNG, ``None`` when there is none.
    """
    file: str
    boxes: np.ndarray
    labels: tuple
    height: int
    width: int
    loc_gt: bool = True
    mask_path: str = None

    def mask(self):
        """Read the mask now (it is not kept in memory).

        Returns:
            np.ndarray | None: bool ``[height, width]`` (pixel value > 127 is
            defect), or ``None`` when the image has no mask file.
        Raises:
            DatasetError: the mask cannot be decoded or its size differs from the
                image entry's; the message names the mask file.
        """
        if self.mask_path is None:
            return None
        data = np.fromfile(self.mask_path, dtype=np.uint8)  # non-ASCII paths too
        mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
        if mask is None:
            raise DatasetError(f'{self.mask_path}: not a readable image')
        if mask.shape != (self.height, self.width):
            raise DatasetError(f'{self.mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} '
                               f'(w x h) but the image entry says {self.width}x{self.height}')
        return mask > 127


def _read_json(path):
    """Parse ``path`` into a dict with ``images``, ``annotations``, ``categories`` lists."""
    try:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f'{path}: not valid JSON ({err})') from None
    if not isinstance(coco, dict) or not isinstance(coco.get('images'), list):
        raise DatasetError(f'{path}: expected a COCO object with an "images" list')
    for key in ('annotations', 'categories'):
        if not isinstance(coco.get(key, []), list):
            raise DatasetError(f'{path}: "{key}" must be a list')
    return coco


def _parse_entries(path, key, entries, parse):
    """``[parse(entry) for entry in entries]``; a bad entry raises a DatasetError
    naming ``path``, ``key`` and the entry's index."""
    parsed = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(parse(entry))
        except (KeyError, TypeError, ValueError) as err:
            raise DatasetError(f'{path}: {key}[{index}]: malformed entry '
                               f'({type(err).__name__}: {err}): {entry}') from None
    return parsed


def _parse_image(entry):
    """COCO image entry -> ``(id, file_name, height, width, loc_gt)``."""
    file, height, width = str(entry['file_name']), int(entry['height']), int(entry['width'])
    loc_gt = entry.get('loc_gt', True)
    if not file or height <= 0 or width <= 0 or not isinstance(loc_gt, bool):
        raise ValueError('file_name must be non-empty, width and height positive, '
                         'loc_gt true or false')
    return entry['id'], file.replace('\\', '/'), height, width, loc_gt


def _parse_annotation(entry):
    """COCO annotation -> ``(image_id, category_id, [x1, y1, x2, y2])``."""
    x, y, w, h = (float(v) for v in entry['bbox'])
    if not np.isfinite([x, y, w, h]).all() or w < 0 or h < 0:
        raise ValueError('bbox must be 4 finite numbers [x, y, w, h] with w, h >= 0')
    return entry['image_id'], entry['category_id'], [x, y, x + w, y + h]


def _parse_category(entry):
    """COCO category -> ``(id, name)``."""
    return entry['id'], str(entry['name'])


def _mask_path(dataset_dir, file):
    """``<root>/masks/<file without extension>.png`` if it exists, else ``None``."""
    path = os.path.join(dataset_dir, MASK_DIR, os.path.splitext(file)[0] + '.png')
    return path if os.path.isfile(path) else None


def load_ground_truth(dataset_dir, files=None):
    """Read the boxes (and locate the masks) of a dataset. EVALUATION ONLY.

    Args:
        dataset_dir (str): dataset root holding ``annotations.json``.
        files (Iterable[str] | None): keep only these ``file_name`` values (e.g. the
            test split); ``None`` keeps every image entry.
    Returns:
        dict[str, GroundTruthImage] | None: ``file_name -> record`` in the order of
        the JSON's image entries; ``None`` when the dataset has no
        ``annotations.json`` (not an error: many datasets have image labels only).
    Raises:
        DatasetError: invalid JSON, a malformed or duplicate entry, an annotation
            naming an unknown image or category, or a requested file with no image
            entry; the message names ``annotations.json``.
    """
    path = os.path.join(dataset_dir, ANNOTATION_FILE)
    if not os.path.isfile(path):
        return None
    coco = _read_json(path)
    images = _parse_entries(path, 'images', coco['images'], _parse_image)
    annotations = _parse_entries(path, 'annotations', coco.get('annotations', []),
                                 _parse_annotation)
    categories = dict(_parse_entries(path, 'categories', coco.get('categories', []),
                                     _parse_category))
    by_id, seen = {}, set()
    for image_id, file, *_ in images:
        if file in seen or image_id in by_id:
            raise DatasetError(f'{path}: image "{file}" (id {image_id}) is listed twice')
        by_id[image_id] = ([], [])
        seen.add(file)
    for index, (image_id, category_id, box) in enumerate(annotations):
        if image_id not in by_id or category_id not in categories:
            raise DatasetError(f'{path}: annotations[{index}] names unknown image_id '
                               f'{image_id} or category_id {category_id}')
        by_id[image_id][0].append(box)
        by_id[image_id][1].append(categories[category_id])
    wanted = None if files is None else {f.replace('\\', '/') for f in files}
    if wanted is not None and wanted - seen:
        missing = sorted(wanted - seen)
        raise DatasetError(f'{path}: no image entry for {len(missing)} requested file(s), '
                           f'e.g. "{missing[0]}"')
    return {file: GroundTruthImage(
                file=file, boxes=np.asarray(by_id[image_id][0], np.float32).reshape(-1, 4),
                labels=tuple(by_id[image_id][1]), height=height, width=width, loc_gt=loc_gt,
                mask_path=_mask_path(dataset_dir, file))
            for image_id, file, height, width, loc_gt in images
            if wanted is None or file in wanted}
