"""The pseudo boxes a review starts from, read from a COCO pseudo-box file
(``pseudo_boxes.json`` of the pipeline or of ``tools/gen_pseudo_boxes.py``)."""
import json
import os

from ..data.labels import DatasetError

PSEUDO_FILE = 'pseudo_boxes.json'
# written beside it by a pipeline run that folded a review in: the boxes before the review
UNREVIEWED_FILE = 'pseudo_boxes_unreviewed.json'


def coco_to_images(coco):
    """Per image of a COCO pseudo-box dict, in its order.

    Returns:
        tuple[list[str], list[dict]]: the classes (category order) and ``{'file',
        'width', 'height', 'labels' [class names], 'heat_map' (path relative to the
        file's folder, or None), 'boxes' [{'class', 'box' [x1, y1, x2, y2], 'score'}]}``.
    """
    names = {c['id']: c['name'] for c in coco['categories']}
    images, by_id = [], {}
    for entry in coco['images']:
        image = {'file': entry['file_name'].replace('\\', '/'), 'width': int(entry['width']),
                 'height': int(entry['height']), 'labels': list(entry.get('image_labels', [])),
                 'heat_map': entry.get('heat_map'), 'boxes': []}
        by_id[entry['id']] = image
        images.append(image)
    for ann in coco.get('annotations', []):
        x, y, w, h = (float(v) for v in ann['bbox'])
        by_id[ann['image_id']]['boxes'].append({'class': names[ann['category_id']],
                                                'box': [x, y, x + w, y + h],
                                                'score': float(ann.get('score', 1.0))})
    return [names[k] for k in sorted(names)], images


def read_pseudo_images(path):
    """:func:`coco_to_images` of the file ``path``.

    Raises:
        DatasetError: not a COCO file with images, categories and boxes (names ``path``).
    """
    try:
        with open(path, encoding='utf-8') as f:
            return coco_to_images(json.load(f))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError) as err:
        raise DatasetError(f'{path}: not a readable COCO pseudo-box file ({err})') from None


def resolve_sources(output_dir=None, pseudo=None, images=None):
    """``(pseudo-box file, image folder)`` to review, from a pipeline output folder or a
    file and folder given by hand.

    A pipeline folder's ``pseudo_boxes/`` is reviewed from ``pseudo_boxes_unreviewed.json``
    when a run already folded a review in, else from ``pseudo_boxes.json``; the image
    folder defaults to the ``info.image_root`` the file records.

    Raises:
        ValueError: neither or both sources given, no pseudo-box file, no image folder.
    """
    if (output_dir is None) == (pseudo is None):
        raise ValueError('give a pipeline output folder, or --pseudo <file> (not both)')
    if output_dir is not None:
        folder = os.path.join(output_dir, 'pseudo_boxes')
        pseudo = os.path.join(folder, UNREVIEWED_FILE)
        if not os.path.isfile(pseudo):
            pseudo = os.path.join(folder, PSEUDO_FILE)
    if not os.path.isfile(pseudo):
        raise ValueError(f'{pseudo}: no pseudo-box file (has the pseudo_boxes stage run?)')
    if images is None:
        with open(pseudo, encoding='utf-8') as f:
            images = (json.load(f).get('info') or {}).get('image_root')
        if not images:
            raise ValueError(f'{pseudo} records no image folder: give --images')
    if not os.path.isdir(images):
        raise ValueError(f'{images}: no such image folder')
    return pseudo, images
