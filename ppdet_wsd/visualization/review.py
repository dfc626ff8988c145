"""Review pictures of pseudo boxes: heat map + boxes over the image, and their gallery."""
import os

import cv2
import numpy as np

from ppdet_wsd_runtime.boxes import class_colour, draw_boxes
from ppdet_wsd_runtime.heatmap import caption, normalise_map, overlay_heatmap
from ppdet_wsd_runtime.image_io import read_image_rgb

from .gallery import write_gallery

REVIEW_DIR = 'review'


def choose_review_files(records, num):
    """A deterministic, label-balanced sample of ``num`` image files for review.

    Args:
        records (list[dict]): dataset records with ``im_file`` and ``img_label``.
        num (int): how many to pick (all if fewer); groups (good and each label set)
            take turns so rare classes are shown too.
    Returns:
        set[str]: the chosen ``im_file`` values.
    """
    groups = {}
    for r in records:
        groups.setdefault(tuple(np.flatnonzero(r['img_label'] > 0.5)), []).append(r['im_file'])
    chosen, turn = [], 0
    while len(chosen) < min(num, len(records)):
        for files in groups.values():
            if turn < len(files) and len(chosen) < num:
                chosen.append(files[turn])
        turn += 1
    return set(chosen)


def render_review(image_path, maps, class_ids, result, classes):
    """One review picture: the strongest requested class map over the image, all boxes.

    Args:
        image_path (str): the original image.
        maps (np.ndarray): float ``[K, H, W]`` maps aligned with the image.
        class_ids (list[int]): class index of each of the K maps.
        result (dict): the image's pseudo-box record (``boxes``, ``image_labels``).
        classes (list[str]): all class names.
    Returns:
        np.ndarray: uint8 RGB picture with a caption band.
    """
    image = read_image_rgb(image_path)
    if len(class_ids):
        strongest = int(np.argmax([m.max() for m in maps]))
        image = overlay_heatmap(image, normalise_map(maps[strongest]))
    boxes = result['boxes']
    picture = draw_boxes(image, [b['box'] for b in boxes],
                         [class_colour(classes.index(b['class'])) for b in boxes],
                         [f"{b['class']} {b['score']:.2f}" for b in boxes])
    return caption(picture, f"label: {';'.join(result['image_labels']) or 'good'}  "
                            f"boxes: {len(boxes)}")


def save_review(output_dir, picture, image_path):
    """Write a review picture as ``<output_dir>/review/<stem>.png``; returns its relative path."""
    rel = os.path.join(REVIEW_DIR, os.path.splitext(os.path.basename(image_path))[0] + '.png')
    path = os.path.join(output_dir, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return rel


def write_review_gallery(output_dir, results, title, intro):
    """``<output_dir>/review/index.html`` for the results that have a review picture."""
    cards = []
    for r in results:
        if not r.get('review'):
            continue
        lines = [f"{b['class']} {b['score']:.2f} at {[round(v) for v in b['box']]}"
                 for b in r['boxes']] or ['no box']
        scores = ', '.join(f'{c} {s:.2f}' for c, s in r['class_scores'].items())
        cards.append({'group': ';'.join(r['image_labels']) or 'good',
                      'image': os.path.relpath(r['review'], REVIEW_DIR),
                      'title': os.path.basename(r['file']),
                      'lines': lines + [f'class scores: {scores}']})
    path = os.path.join(output_dir, REVIEW_DIR, 'index.html')
    write_gallery(path, title, intro, cards)
    return path
