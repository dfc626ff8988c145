"""Run a detector (``RetinaNetMIL``) outside ppdet's Trainer loops: detections,
verdicts, pictures."""
import os

import cv2
import numpy as np
import paddle
from ppdet.data.reader import Compose
from ppdet.utils.logger import setup_logger
from tqdm import tqdm

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.detections import fit_boxes_to_image, split_detections
from ppdet_wsd_runtime.drawing import draw_detection
from ppdet_wsd_runtime.image_io import read_image_rgb
from ppdet_wsd_runtime.results import box_list, detector_class_scores

from ...visualization.gallery import write_gallery
from .batches import image_batches
from .infer import verdict

logger = setup_logger(__name__)


def detect_records(model, transforms, records, batch_size, desc='detecting'):
    """Detections and image scores of a detector for every record, in order.

    Args:
        model: a ``RetinaNetMIL`` in eval mode.
        transforms (callable): evaluation sample transforms (set ``im_shape`` and
            ``scale_factor``).
        records (list[dict]): records with ``im_file``.
        batch_size (int): images per forward pass.
        desc (str): progress bar label.
    Yields:
        tuple: ``(record, detections float32 [m, 6] in original pixels (see
        :func:`detect_samples`), im_score float32 [C] in [0, 1])``.
    """
    with tqdm(total=len(records), desc=desc, unit='img', leave=False) as bar:
        for batch, samples, image in image_batches(transforms, records, batch_size):
            yield from ((record, *out) for record, out in
                        zip(batch, detect_samples(model, samples, image,
                                                  [r['im_file'] for r in batch])))
            bar.update(len(batch))


def detect_samples(model, samples, image, paths):
    """One forward pass of a detector over a batch (from :func:`image_batches`).

    Args:
        model: a ``RetinaNetMIL`` in eval mode.
        samples (list[dict]): the transformed samples (``im_shape``, ``scale_factor``,
            ``h``, ``w``).
        image (paddle.Tensor): their float32 ``[B, 3, H, W]`` images.
        paths (list[str]): their image files (read again for the boxes' final edges).
    Returns:
        list[tuple]: per sample ``(detections float32 [m, 6] in original pixels (clipped,
        small boxes sharpened: :func:`~ppdet_wsd_runtime.detections.fit_boxes_to_image`),
        im_score float32 [C] in [0, 1])``.
    """
    inputs = {'image': image}
    for key in ('im_shape', 'scale_factor'):
        inputs[key] = paddle.to_tensor(np.stack([s[key] for s in samples]))
    with paddle.no_grad():
        out = model(inputs)
    per_image = split_detections(out['bbox'].numpy(), out['bbox_num'].numpy())
    for sample, detections, path in zip(samples, per_image, paths):
        fit_boxes_to_image(detections, read_image_rgb(path), model.finest_stride,
                           sample['scale_factor'])
    return list(zip(per_image, out['im_score'].numpy()))


def detection_result(path, detections, im_score, classes, threshold):
    """One image's result: the verdict (a class is found when its MIL probability or its
    best box reaches ``threshold``), per-class scores and every box.

    Returns:
        dict: ``{'file', 'verdict', 'defect_score', 'scores': {class: p}, 'boxes':
        [{'class', 'score', 'box': [x1, y1, x2, y2]}]}`` (boxes best first); detect_images
        adds ``'picture'`` (its drawing) when it saves one.
    """
    scores = detector_class_scores(detections, im_score)
    return {'file': path, 'verdict': verdict(scores, classes, threshold),
            'defect_score': float(scores.max()),
            'scores': {c: float(s) for c, s in zip(classes, scores)},
            'boxes': box_list(detections, classes)}


def draw_result(result, classes, threshold):
    """The image of ``result`` with its boxes scored >= ``threshold`` and a caption; uint8
    RGB ``[H, W, 3]``."""
    shown = dict(result, boxes=[b for b in result['boxes'] if b['score'] >= threshold])
    return draw_detection(read_image_rgb(result['file']), shown, classes)


def write_verdict_gallery(output_dir, results, threshold):
    """``<output_dir>/index.html``: the pictures of ``results`` grouped by verdict."""
    cards = [{'group': r['verdict'], 'image': os.path.basename(r['picture']),
              'title': os.path.basename(r['file']),
              'lines': [f"{b['class']} {b['score']:.2f} at {[round(v) for v in b['box']]}"
                        for b in r['boxes'] if b['score'] >= threshold] or ['no box shown']}
             for r in results if r.get('picture')]
    path = os.path.join(output_dir, 'index.html')
    write_gallery(path, 'Detections', [
        f'{len(results)} images, grouped by verdict (defective when a class\'s image score '
        f'or best box reaches {threshold}); boxes scored >= {threshold} are drawn.'], cards)
    return path


def detect_images(model, cfg, paths, output_dir, classes, threshold=0.5, save_pictures=True):
    """Run a detector over ``paths``; write ``results.json``, ``<stem>_boxes.png`` and an
    ``index.html`` gallery of the pictures grouped by verdict.

    Returns:
        list[dict]: :func:`detection_result` per image, in the order of ``paths``.
    """
    transforms = Compose(cfg.TestReader['sample_transforms'])
    model.eval()
    os.makedirs(output_dir, exist_ok=True)
    results = []
    for record, detections, im_score in detect_records(
            model, transforms, [{'im_file': p} for p in paths],
            cfg.TestReader.get('batch_size', 1)):
        results.append(detection_result(record['im_file'], detections, im_score, classes,
                                        threshold))
        if save_pictures:
            stem = os.path.splitext(os.path.basename(record['im_file']))[0]
            results[-1]['picture'] = os.path.join(output_dir, f'{stem}_boxes.png')
            cv2.imwrite(results[-1]['picture'], cv2.cvtColor(
                draw_result(results[-1], classes, threshold), cv2.COLOR_RGB2BGR))
    write_json_atomic(os.path.join(output_dir, 'results.json'), results)
    if save_pictures:
        logger.info(f'gallery: {write_verdict_gallery(output_dir, results, threshold)}')
    logger.info(f'wrote {len(results)} results to {os.path.join(output_dir, "results.json")}')
    return results
