"""Heat-map pictures for the review page, written by the pseudo-box stage: each labelled
training image's map coloured so that its class level sits mid-scale (defect-free
surface stays blue, a region that passes the level turns yellow to red)."""
import os

import cv2
import numpy as np

from ppdet_wsd_runtime.evidence_maps import level_scaled

from ..evidence.geometry import map_to_image

HEAT_DIR = 'heat'
JPEG_QUALITY = 90


def write_heat_map(folder, index, grid_maps, class_names, model, image_hw):
    """Write ``<folder>/heat/<index>.jpg``: the labelled classes' level-scaled maps
    combined by maximum, at image size, JET-coloured.

    Args:
        grid_maps (np.ndarray): float ``[C, rows, cols]`` (every class of ``model``).
        class_names (list[str]): the image's labelled classes (at least one).
        model (EvidenceModel): gives the classes' order and levels.
        image_hw (tuple[int, int]): the original image's height and width.
    Returns:
        str: the picture's path relative to ``folder``.
    """
    heat = np.max([level_scaled(grid_maps[model.classes.index(c)], model.levels_of(c).level,
                                model.levels_of(c).background)
                   for c in class_names], axis=0)
    picture = cv2.applyColorMap(np.uint8(255 * map_to_image(heat, *image_hw)), cv2.COLORMAP_JET)
    rel = f'{HEAT_DIR}/{index:06d}.jpg'
    os.makedirs(os.path.join(folder, HEAT_DIR), exist_ok=True)
    cv2.imwrite(os.path.join(folder, rel), picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return rel
