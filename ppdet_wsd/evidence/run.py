"""The one stage-2 loop: a fitted evidence model over labelled images -> per-image class
scores, heat map and pseudo boxes. The pipeline's pseudo-box stage, its measuring stage
and the benchmarks all consume :func:`evidence_results`."""
import os

from tqdm import tqdm

from ppdet_wsd_runtime.contrast import grow_line_box, tighten_box
from ppdet_wsd_runtime.image_io import read_image_rgb

from .geometry import map_to_image


def evidence_results(model, store, images, image_root, with_heat=False, check_good=False,
                     desc='heat maps'):
    """Yield one result per image, boxing the classes of its label (good images get none).

    Args:
        model (EvidenceModel): fitted.
        store (FeatureStore): the features (computed on first need).
        images (list[LabeledImage]): the images, with their labels.
        image_root (str): their folder.
        with_heat (bool): also return the heat map at image size (the labelled classes'
            maps combined by maximum; None for a good image).
        check_good (bool): for good images, also box every class without the label
            (only regions above the level): ``unlabelled_boxes``.
    Yields:
        dict: ``file`` (relative, as in labels.csv), ``path``, ``height``, ``width``,
        ``image_labels`` (class names), ``class_scores`` ({class: image probability}),
        ``boxes`` (see :meth:`EvidenceModel.evidence`; shrunk to the contrasting
        pixels with ``tighten_boxes``, grown along a thin line with ``grow_lines``),
        ``heat`` (float32 ``[H, W]`` or None) and ``grid_maps`` (float32
        ``[C, rows, cols]``, every class; for a ``fused`` model the labelled classes
        compete for the cells, every class for a good image; None for a good image
        unless ``with_heat`` or ``check_good``); ``unlabelled_boxes`` (list or None, see
        ``check_good``).
    """
    index = {c: k for k, c in enumerate(model.classes)}
    for image in tqdm(images, desc=desc, unit='img', mininterval=5):
        path = os.path.join(image_root, image.file)
        features = store.get(path)
        class_ids = [index[c] for c in image.labels if c in index]
        maps, boxes, unlabelled = None, [], None
        if check_good and not class_ids:  # its maps and unlabelled boxes from one search
            maps, unlabelled = model.evidence(features, None, list(index.values()), False)
        elif class_ids or with_heat:  # a good image's maps serve nothing else
            maps, boxes = model.evidence(features, class_ids or None, class_ids,
                                         model.settings['always_box_labelled'])
        tighten, grow = model.settings['tighten_boxes'], model.settings['grow_lines']
        if boxes and (tighten or grow):
            grey = read_image_rgb(path).mean(axis=2)
            blur = model.map_blur_pixels(features.image_hw)
            for box in boxes:
                if tighten:
                    box['box'] = tighten_box(grey, box['box'], max_shrink=blur)
                if grow:
                    box['box'] = grow_line_box(grey, box['box'])
        heat = None
        if with_heat and class_ids:
            heat = map_to_image(maps[class_ids].max(axis=0), *features.image_hw)
        scores = model.image_scores(features)
        yield {'file': image.file, 'path': path, 'height': features.image_hw[0],
               'width': features.image_hw[1], 'image_labels': list(image.labels),
               'class_scores': {c: float(s) for c, s in zip(model.classes, scores)},
               'boxes': boxes, 'heat': heat, 'grid_maps': maps,
               'unlabelled_boxes': unlabelled}

