"""Synthetic industrial-defect datasets in the standard layout (docs/datasets.md).

:func:`make_defect_dataset` writes::

    <root>/images/<stem>.png     textured surfaces, some with defects
    <root>/labels.csv            file,label   ("good", a class name, or names joined by ";")
    <root>/splits.csv            file,split   (train | val | test, stratified per label by
                                              ppdet_wsd.data.labels.seeded_split)
    <root>/annotations.json      COCO boxes, one per defect instance (evaluation only)
    <root>/masks/<stem>.png      union of the defect pixels, 0 / 255 (evaluation only)

Every image is a surface (grey level, slow mottling, fine or brushed grain, an
illumination ramp) plus 1..``max_instances`` instances of each of its defect classes:

* ``scratch``: a thin, long, straight or gently curved line, mostly bright;
* ``spot``: a small, compact, roughly round blob, mostly dark;
* ``crack``: a dark, jagged polyline with one to three side branches;
* ``stain``: a large, faint, irregular region with soft edges (not in the default set).

Everything is drawn from ``numpy.random.SeedSequence(seed)``: the same arguments give
byte-identical files. This module itself uses only numpy, OpenCV, scikit-image, the
standard library, the label constants of :mod:`ppdet_wsd.data.labels` and the runtime's
atomic writes (importing it still imports the plugin, and with it paddle).
"""
import csv
import io
import os
from collections import Counter

import cv2
import numpy as np
from skimage.draw import polygon as fill_polygon

from ppdet_wsd_runtime.atomic import write_bytes_atomic, write_json_atomic

from ..data.labels import GOOD_LABEL, LABEL_SEPARATOR, SPLITS, LabeledImage, seeded_split
DEFAULT_NUM_PER_CLASS = {'good': 40, 'scratch': 20, 'spot': 20, 'crack': 20}
REFERENCE_SIDE = 128.0  # defect sizes below are in pixels of a 128 px image
MIN_SIDE = 32


# ----------------------------------------------------------------------------- surface

def smooth_noise(rng, shape, sigma):
    """Gaussian-filtered white noise with zero mean and unit standard deviation.

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.
        sigma (float): filter width in pixels (> 0); larger means smoother.

    Returns:
        numpy.ndarray: float32, shape ``(height, width)``, mean 0, std 1.
    """
    noise = rng.standard_normal(shape, dtype=np.float32)
    field = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return (field - field.mean()) / (field.std() + 1e-6)


def brushed_grain(rng, shape, length, angle):
    """White noise smeared along one direction, like a brushed or ground metal finish.

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.
        length (int): length of the smear in pixels (>= 1).
        angle (float): direction of the smear in radians.

    Returns:
        numpy.ndarray: float32, shape ``(height, width)``, mean 0, std 1.
    """
    size = 2 * (length // 2) + 1
    kernel = np.zeros((size, size), np.float32)
    half = size // 2
    dx, dy = round(half * np.cos(angle)), round(half * np.sin(angle))
    cv2.line(kernel, (half - dx, half - dy), (half + dx, half + dy), 1.0, 1)
    noise = rng.standard_normal(shape, dtype=np.float32)
    field = cv2.filter2D(noise, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    return (field - field.mean()) / (field.std() + 1e-6)


def illumination_ramp(shape, angle, strength):
    """A linear brightness ramp across the image.

    Args:
        shape (tuple[int, int]): ``(height, width)``.
        angle (float): direction of increasing brightness in radians.
        strength (float): grey-level difference between the two ends of the ramp.

    Returns:
        numpy.ndarray: float32, shape ``(height, width)``, values in
        ``[-strength / 2, strength / 2]``.
    """
    rows = np.linspace(-0.5, 0.5, shape[0], dtype=np.float32)[:, None]
    cols = np.linspace(-0.5, 0.5, shape[1], dtype=np.float32)[None, :]
    ramp = np.cos(angle) * cols + np.sin(angle) * rows
    return strength * ramp / max(float(ramp.max() - ramp.min()), 1e-6)


def make_surface(rng, shape):
    """A defect-free textured surface, different for every ``rng`` state.

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.

    Returns:
        numpy.ndarray: float32 grey levels, shape ``(height, width)``, mostly in
        ``[40, 215]`` (not clipped).
    """
    side = min(shape)
    surface = np.full(shape, rng.uniform(80.0, 170.0), np.float32)
    surface += rng.uniform(4.0, 12.0) * smooth_noise(rng, shape, rng.uniform(0.08, 0.2) * side)
    surface += rng.uniform(1.5, 4.0) * smooth_noise(rng, shape, rng.uniform(1.0, 2.5))
    if rng.random() < 0.5:
        grain = brushed_grain(rng, shape, int(rng.integers(5, 16)), rng.uniform(0, np.pi))
    else:
        grain = rng.standard_normal(shape, dtype=np.float32)
    surface += rng.uniform(2.0, 6.0) * grain
    surface += illumination_ramp(shape, rng.uniform(0, 2 * np.pi), rng.uniform(5.0, 30.0))
    return surface


# ----------------------------------------------------------------------------- defects
# Each painter maps (rng, shape) to (mask, delta): ``mask`` is a bool (H, W) array of
# the instance's pixels (never empty) and ``delta`` a float32 (H, W) array of grey-level
# changes to add to the surface (soft edges, so it reaches a pixel or two past the mask).

def _scale(shape):
    """Size factor of an image of ``shape`` relative to a 128 px image (float > 0)."""
    return min(shape) / REFERENCE_SIDE


def _draw_polyline(shape, points, thickness):
    """Rasterise an open polyline into a mask.

    Args:
        shape (tuple[int, int]): ``(height, width)``.
        points (numpy.ndarray): float, shape ``(N, 2)``, ``(x, y)`` pixel coordinates.
        thickness (int): line width in pixels (>= 1).

    Returns:
        numpy.ndarray: bool, shape ``(height, width)``.
    """
    canvas = np.zeros(shape, np.uint8)
    cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 255, thickness,
                  cv2.LINE_8)
    return canvas > 0


def _soften(mask, sigma):
    """Blur a bool mask into float32 weights in ``[0, 1]`` that are 1 on the mask."""
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    return np.maximum(soft / max(soft.max(), 1e-6), mask)


def paint_scratch(rng, shape):
    """A thin, long line (straight or a gentle arc), bright in 70% of cases, else dark.

    Length is 35-80% of the short side; the contrast fades smoothly along the line.

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: ``(mask, delta)`` as described above.
    """
    height, width = shape
    length = rng.uniform(0.35, 0.8) * min(shape)
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    reach = np.abs(direction) * length / 2
    centre = rng.uniform(reach, [width - 1 - reach[0], height - 1 - reach[1]])
    start, end = centre - direction * length / 2, centre + direction * length / 2
    bend = rng.uniform(-0.12, 0.12) * length * np.array([-direction[1], direction[0]])
    t = np.linspace(0.0, 1.0, 33)[:, None]
    points = (1 - t) ** 2 * start + 2 * t * (1 - t) * (centre + bend) + t ** 2 * end
    points = np.clip(points, 0, [width - 1, height - 1])
    thickness = 1 if _scale(shape) < 1.5 or rng.random() < 0.5 else 2
    mask = _draw_polyline(shape, points, thickness)
    fade = np.clip(0.75 + 0.25 * smooth_noise(rng, shape, 0.15 * min(shape)), 0.4, 1.0)
    sign = 1.0 if rng.random() < 0.7 else -1.0
    delta = sign * rng.uniform(45.0, 75.0) * fade * _soften(mask, 0.6)
    return mask, delta


def paint_spot(rng, shape):
    """A small, compact blob with an irregular outline, dark in 70% of cases, else bright.

    The radius is 3-9 px at 128 px; the blob is darkest (brightest) in its middle.

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: ``(mask, delta)`` as described above.
    """
    height, width = shape
    radius = max(2.0, rng.uniform(3.0, 9.0) * _scale(shape))
    centre = rng.uniform(radius + 1, [width - radius - 2, height - radius - 2])
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    harmonics = np.arange(2, 5)[:, None]  # a few smooth bumps around the outline
    wobble = rng.uniform(0, 0.1, (3, 1)) * np.cos(harmonics * angles + rng.uniform(0, 6.3, (3, 1)))
    aspect = rng.uniform(0.7, 1.0)
    radii = radius * (1 + wobble.sum(axis=0))
    rows = centre[1] + aspect * radii * np.sin(angles)
    cols = centre[0] + radii * np.cos(angles)
    mask = np.zeros(shape, bool)
    mask[fill_polygon(rows, cols, shape)] = True
    mask[int(round(centre[1])), int(round(centre[0]))] = True
    core = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(radius / 2.5, 0.8))
    sign = -1.0 if rng.random() < 0.7 else 1.0
    delta = sign * rng.uniform(50.0, 85.0) * _soften(mask, 0.8) * (0.6 + 0.4 * core / core.max())
    return mask, delta


def _jagged_walk(rng, start, angle, length, step, shape):
    """Points of a random walk that keeps roughly to one direction, with sharp kinks.

    Args:
        rng (numpy.random.Generator): source of randomness.
        start (numpy.ndarray): float ``(x, y)`` start point.
        angle (float): mean heading in radians.
        length (float): total path length in pixels.
        step (float): segment length in pixels.
        shape (tuple[int, int]): ``(height, width)``; points are clipped to the image.

    Returns:
        numpy.ndarray: float, shape ``(N, 2)``, ``(x, y)`` with ``N >= 2``.
    """
    count = max(2, int(length / step))
    drift = np.clip(np.cumsum(0.1 * rng.standard_normal(count)), -0.8, 0.8)
    headings = angle + drift + 0.5 * rng.standard_normal(count)
    steps = step * np.stack([np.cos(headings), np.sin(headings)], axis=1)
    points = start + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
    return np.clip(points, 0, [shape[1] - 1, shape[0] - 1])


def paint_crack(rng, shape):
    """A dark, jagged polyline (40-80% of the short side) with one to three thinner branches.

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: ``(mask, delta)`` as described above.
    """
    height, width = shape
    scale = _scale(shape)
    length = rng.uniform(0.4, 0.8) * min(shape)
    angle = rng.uniform(0, 2 * np.pi)
    centre = rng.uniform(0.3, 0.7, 2) * [width, height]
    start = centre - length / 2 * np.array([np.cos(angle), np.sin(angle)])
    trunk = _jagged_walk(rng, start, angle, length, rng.uniform(3.0, 5.0) * scale, shape)
    thick = max(1, int(round((2.0 if rng.random() < 0.35 else 1.0) * scale)))
    mask = _draw_polyline(shape, trunk, thick)
    for _ in range(rng.integers(1, 4)):
        root = trunk[rng.integers(1, len(trunk) - 1)] if len(trunk) > 2 else trunk[0]
        side = angle + rng.choice([-1, 1]) * rng.uniform(0.5, 1.2)
        branch = _jagged_walk(rng, root, side, rng.uniform(0.2, 0.5) * length,
                              rng.uniform(2.5, 4.0) * scale, shape)
        mask |= _draw_polyline(shape, branch, max(1, thick - 1))
    halo = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2.0 * scale)
    delta = -rng.uniform(60.0, 90.0) * _soften(mask, 0.5) - 10.0 * halo / halo.max()
    return mask, delta


def paint_stain(rng, shape):
    """A large, faint, irregular region with soft edges (15-45% of the short side across).

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: ``(mask, delta)`` as described above.
    """
    height, width = shape
    radius = rng.uniform(0.08, 0.22) * min(shape)
    centre = rng.uniform(radius, [width - radius, height - radius])
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot((cols - centre[0]) / radius, (rows - centre[1]) / radius)
    field = 1.0 - distance + 0.35 * smooth_noise(rng, shape, max(radius / 3, 1.0))
    mask = field > 0
    mask[int(round(centre[1])), int(round(centre[0]))] = True
    sign = -1.0 if rng.random() < 0.6 else 1.0
    delta = sign * rng.uniform(15.0, 28.0) * _soften(mask, max(radius / 3, 1.0))
    return mask, delta


PAINTERS = {'scratch': paint_scratch, 'spot': paint_spot, 'crack': paint_crack,
            'stain': paint_stain}


# ----------------------------------------------------------------------------- images

def render_image(rng, shape, classes, max_instances, grey):
    """One image of a surface with 1..``max_instances`` instances of every class in ``classes``.

    Args:
        rng (numpy.random.Generator): source of randomness.
        shape (tuple[int, int]): ``(height, width)``.
        classes (tuple[str, ...]): defect class names (keys of :data:`PAINTERS`);
            empty for a good image.
        max_instances (int): most instances per class (>= 1).
        grey (bool): return a single-channel image instead of a colour one.

    Returns:
        tuple: ``(image, instances)``; ``image`` is uint8 of shape ``(H, W)`` if ``grey``
        else ``(H, W, 3)`` (BGR, for ``cv2.imwrite``); ``instances`` is a list of
        ``(class_name, mask)`` with ``mask`` a non-empty bool ``(H, W)`` array.
    """
    surface = make_surface(rng, shape)
    instances = []
    for name in classes:
        for _ in range(rng.integers(1, max_instances + 1)):
            mask, delta = PAINTERS[name](rng, shape)
            surface += delta
            instances.append((name, mask))
    if grey:
        return np.clip(np.rint(surface), 0, 255).astype(np.uint8), instances
    tint = rng.uniform(0.92, 1.06, 3).astype(np.float32)
    return np.clip(np.rint(surface[..., None] * tint), 0, 255).astype(np.uint8), instances


def _image_shape(rng, image_size, image_shapes=None):
    """Draw ``(height, width)`` from ``image_size``, or the next of ``image_shapes``
    (see :func:`make_defect_dataset`)."""
    if image_shapes:
        height, width = image_shapes[int(rng.integers(len(image_shapes)))]
        return int(height), int(width)
    if np.isscalar(image_size):
        return int(image_size), int(image_size)
    height, width = image_size
    if np.isscalar(height) and np.isscalar(width):
        return int(height), int(width)
    return int(rng.integers(height[0], height[1] + 1)), int(rng.integers(width[0], width[1] + 1))


def mask_to_box(mask):
    """COCO box of a non-empty bool mask: ``[x, y, w, h]`` floats in pixels, inclusive extent."""
    rows, cols = np.nonzero(mask)
    return [float(cols.min()), float(rows.min()),
            float(cols.max() - cols.min() + 1), float(rows.max() - rows.min() + 1)]


# ----------------------------------------------------------------------------- planning

def plan_labels(num_per_class, multi_label_fraction, rng):
    """The defect classes of every image, in generation order.

    Each defect class ``c`` gets ``num_per_class[c]`` images; the first
    ``round(multi_label_fraction * num_per_class[c])`` of them also carry one other
    defect class, drawn at random.

    Args:
        num_per_class (dict[str, int]): images per label; ``"good"`` for defect-free ones.
        multi_label_fraction (float): in ``[0, 1]``.
        rng (numpy.random.Generator): chooses the second class.

    Returns:
        list[tuple[str, ...]]: sorted class names per image; ``()`` for good images.
    """
    defects = sorted(c for c in num_per_class if c != GOOD_LABEL)
    plans = [()] * int(num_per_class.get(GOOD_LABEL, 0))
    for name in defects:
        others = [c for c in defects if c != name]
        num_multi = int(round(multi_label_fraction * num_per_class[name]))
        for index in range(int(num_per_class[name])):
            extra = (str(rng.choice(others)),) if index < num_multi else ()
            plans.append(tuple(sorted((name,) + extra)))
    return plans


def _check_arguments(num_per_class, image_size, split_fractions, multi_label_fraction,
                     max_instances):
    """Raise ``ValueError`` naming the first bad argument of :func:`make_defect_dataset`."""
    unknown = sorted(set(num_per_class) - set(PAINTERS) - {GOOD_LABEL})
    if unknown:
        raise ValueError(f'no painter for classes {unknown}; known: {sorted(PAINTERS)}')
    if any(int(n) < 0 for n in num_per_class.values()):
        raise ValueError(f'num_per_class has a negative count: {num_per_class}')
    if len(split_fractions) != 3 or min(split_fractions) < 0 \
            or not np.isclose(sum(split_fractions), 1.0):
        raise ValueError(f'split_fractions must be 3 non-negative shares summing to 1, '
                         f'got {split_fractions}')
    if not 0.0 <= multi_label_fraction <= 1.0:
        raise ValueError(f'multi_label_fraction must be in [0, 1], got {multi_label_fraction}')
    if multi_label_fraction > 0 and len(set(num_per_class) - {GOOD_LABEL}) < 2:
        raise ValueError('multi-label images need at least two defect classes')
    if max_instances < 1:
        raise ValueError(f'max_instances must be >= 1, got {max_instances}')
    if np.min(image_size) < MIN_SIDE:
        raise ValueError(f'image sides must be >= {MIN_SIDE} px, got image_size={image_size}')


# ----------------------------------------------------------------------------- writing

def _encode_png(image):
    """PNG bytes of a uint8 image (``(H, W)`` or ``(H, W, 3)`` BGR)."""
    ok, buffer = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError(f'OpenCV could not encode an image of shape {image.shape}')
    return buffer.tobytes()


def _csv_bytes(header, rows):
    """UTF-8 CSV text with ``header`` then ``rows`` (``\\n`` line ends) as bytes."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode('utf-8')


def _prepare_folders(root, overwrite):
    """Create ``root/images`` and ``root/masks``; refuse a non-empty ``images`` folder
    unless ``overwrite``."""
    images_dir, masks_dir = os.path.join(root, 'images'), os.path.join(root, 'masks')
    if os.path.isdir(images_dir) and os.listdir(images_dir) and not overwrite:
        raise FileExistsError(f'{images_dir} is not empty; pass overwrite=True '
                              f'(--overwrite in tools/make_demo_data.py) to replace it')
    os.makedirs(images_dir, exist_ok=True)
    os.makedirs(masks_dir, exist_ok=True)
    return images_dir, masks_dir


def _remove_stale(folder, keep):
    """Delete files in ``folder`` whose names are not in ``keep`` (left by an earlier run)."""
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name not in keep and os.path.isfile(path):
            os.remove(path)


def make_defect_dataset(root, num_per_class=None, image_size=128, seed=0,
                        split_fractions=(0.6, 0.2, 0.2), grey=False,
                        multi_label_fraction=0.0, max_instances=2, overwrite=False,
                        image_shapes=None):
    """Write a synthetic defect dataset in the standard layout and return a summary.

    Args:
        root (str): dataset folder; created if missing.
        num_per_class (dict[str, int] | None): images per label, e.g. the default
            ``{'good': 40, 'scratch': 20, 'spot': 20, 'crack': 20}``. Defect classes
            must be keys of :data:`PAINTERS` (``scratch``, ``spot``, ``crack``, ``stain``).
        image_size (int | tuple): ``128`` (square), ``(height, width)``, or
            ``((min_h, max_h), (min_w, max_w))`` for a size drawn per image (inclusive);
            every side >= 32 px.
        seed (int): everything (surfaces, defects, multi-label choice, splits) follows
            from it; the same arguments give byte-identical files.
        split_fractions (tuple[float, float, float]): train, val, test shares, applied
            per label string.
        grey (bool): single-channel PNGs instead of colour ones.
        multi_label_fraction (float): share of each defect class's images that also show
            one other defect class (label ``"a;b"``, names sorted). Needs two or more
            defect classes when > 0.
        max_instances (int): each class in an image has 1..``max_instances`` instances.
        overwrite (bool): allow ``root/images`` to be non-empty; files there and in
            ``root/masks`` that the new dataset does not contain are deleted.
        image_shapes (list[tuple[int, int]] | None): ``(height, width)`` choices, one
            drawn per image (e.g. ``[(64, 64), (64, 640)]``: squares beside strips);
            replaces ``image_size`` when given.

    Returns:
        dict: ``root``, ``num_images``, ``num_boxes``, ``categories`` (sorted defect
        class names), ``labels`` (count per label string), ``splits`` (count per split).

    Raises:
        ValueError: an unknown class, a negative count, a side under 32 px, or a bad
            share or instance count.
        FileExistsError: ``root/images`` is not empty and ``overwrite`` is False.
    """
    num_per_class = dict(DEFAULT_NUM_PER_CLASS if num_per_class is None else num_per_class)
    _check_arguments(num_per_class, image_shapes or image_size, split_fractions,
                     multi_label_fraction, max_instances)
    images_dir, masks_dir = _prepare_folders(root, overwrite)

    seeds = np.random.SeedSequence(seed)
    plan_seed, _ = seeds.spawn(2)  # the second child is unused: drawing it keeps the images
    plans = plan_labels(num_per_class, multi_label_fraction, np.random.default_rng(plan_seed))
    labels = [LABEL_SEPARATOR.join(classes) or GOOD_LABEL for classes in plans]
    per_label = Counter()
    files = []
    for label in labels:
        files.append(f"{label.replace(LABEL_SEPARATOR, '+')}_{per_label[label]:04d}.png")
        per_label[label] += 1
    splits = [im.split for im in seeded_split(
        [LabeledImage(file, classes) for file, classes in zip(files, plans)],
        dict(zip(SPLITS, split_fractions)), seed)]
    categories = sorted(c for c in num_per_class if c != GOOD_LABEL)
    category_ids = {name: index + 1 for index, name in enumerate(categories)}

    coco_images, coco_annotations = [], []
    for image_id, (classes, label, file, image_seed) in enumerate(
            zip(plans, labels, files, seeds.spawn(len(plans))), start=1):
        rng = np.random.default_rng(image_seed)
        image, instances = render_image(rng, _image_shape(rng, image_size, image_shapes), classes,
                                        max_instances, grey)
        write_bytes_atomic(os.path.join(images_dir, file), _encode_png(image))
        union = np.zeros(image.shape[:2], bool)
        for name, mask in instances:
            union |= mask
            coco_annotations.append({
                'id': len(coco_annotations) + 1, 'image_id': image_id,
                'category_id': category_ids[name], 'bbox': mask_to_box(mask),
                'area': float(mask.sum()), 'iscrowd': 0})
        write_bytes_atomic(os.path.join(masks_dir, file),
                     _encode_png(union.astype(np.uint8) * 255))
        coco_images.append({'id': image_id, 'file_name': file, 'width': image.shape[1],
                            'height': image.shape[0], 'label': label})

    if overwrite:
        _remove_stale(images_dir, set(files))
        _remove_stale(masks_dir, set(files))
    coco = {'info': {'description': f'synthetic defects (ppdet_wsd.demo.synthetic, seed={seed})'},
            'images': coco_images, 'annotations': coco_annotations,
            'categories': [{'id': category_ids[n], 'name': n, 'supercategory': 'defect'}
                           for n in categories]}
    write_bytes_atomic(os.path.join(root, 'labels.csv'),
                       _csv_bytes(('file', 'label'), zip(files, labels)))
    write_bytes_atomic(os.path.join(root, 'splits.csv'),
                       _csv_bytes(('file', 'split'), zip(files, splits)))
    write_json_atomic(os.path.join(root, 'annotations.json'), coco)
    return {'root': root, 'num_images': len(files), 'num_boxes': len(coco_annotations),
            'categories': categories, 'labels': dict(sorted(Counter(labels).items())),
            'splits': {name: splits.count(name) for name in SPLITS}}
