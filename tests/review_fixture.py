"""A hand-made pseudo-box file over four small images, for the review tests (no model)."""
import json
import os

import numpy as np

from conftest import write_image

CLASSES = ['scratch', 'spot']
# file, labels, [(class, [x1, y1, x2, y2], score)]
IMAGES = [
    ('a.png', ['scratch'], [('scratch', [4, 4, 20, 12], 0.9), ('scratch', [30, 30, 40, 44], 0.55)]),
    ('b.png', ['spot'], [('spot', [10, 10, 20, 20], 0.2)]),
    ('sub/c.png', ['scratch'], [('scratch', [0, 0, 8, 8], 0.7)]),
    ('good.png', [], []),
    ('link.png', ['spot'], []),
]


def make_review_case(root):
    """Write ``root/images`` (``link.png`` a symlink to ``root/secret.png``, outside), a
    heat picture for ``a.png`` and ``root/pseudo_boxes/pseudo_boxes.json``; returns
    ``(pseudo file, image folder)``."""
    images = os.path.join(root, 'images')
    rng = np.random.RandomState(0)
    for file, _, _ in IMAGES[:-1]:
        write_image(os.path.join(images, file), rng.randint(0, 255, (48, 64, 3), np.uint8))
    write_image(os.path.join(root, 'secret.png'), np.zeros((48, 64), np.uint8))
    os.symlink(os.path.join(root, 'secret.png'), os.path.join(images, 'link.png'))
    folder = os.path.join(root, 'pseudo_boxes')
    write_image(os.path.join(folder, 'heat', '000000.jpg'), np.zeros((48, 64, 3), np.uint8))
    coco = {'info': {'image_root': images}, 'images': [], 'annotations': [],
            'categories': [{'id': k + 1, 'name': c} for k, c in enumerate(CLASSES)]}
    for image_id, (file, labels, boxes) in enumerate(IMAGES, start=1):
        entry = {'id': image_id, 'file_name': file, 'width': 64, 'height': 48,
                 'image_labels': labels, 'class_scores': {}}
        if file == 'a.png':
            entry['heat_map'] = 'heat/000000.jpg'
        coco['images'].append(entry)
        for c, (x1, y1, x2, y2), score in boxes:
            coco['annotations'].append({
                'id': len(coco['annotations']) + 1, 'image_id': image_id,
                'category_id': CLASSES.index(c) + 1, 'bbox': [x1, y1, x2 - x1, y2 - y1],
                'area': (x2 - x1) * (y2 - y1), 'iscrowd': 0, 'score': score})
    path = os.path.join(folder, 'pseudo_boxes.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path, images


def tree(root):
    """Every file below ``root`` with its modification time, to see what was written."""
    return {os.path.relpath(os.path.join(d, f), root): os.lstat(os.path.join(d, f)).st_mtime_ns
            for d, _, files in os.walk(root) for f in files}
