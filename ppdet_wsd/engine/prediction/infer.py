"""Classify images with a trained ``CAMClassifier``: verdicts, scores and heat maps."""
import glob
import os

import cv2
import numpy as np
import paddle
from ppdet.data.reader import Compose
from ppdet.utils.logger import setup_logger
from tqdm import tqdm

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.heatmap import caption, normalise_map, overlay_heatmap, resize_map
from ppdet_wsd_runtime.image_io import IMAGE_EXTENSIONS, read_image_rgb

from ...data.labels import GOOD_LABEL
from .batches import image_batches

logger = setup_logger(__name__)


def list_images(infer_img=None, infer_dir=None):
    """Image paths from one file and/or a folder (recursive), sorted.

    Raises:
        FileNotFoundError: a named file or folder does not exist, or nothing is found.
    """
    paths = []
    if infer_img:
        if not os.path.isfile(infer_img):
            raise FileNotFoundError(f'--infer_img: {infer_img} not found')
        paths.append(infer_img)
    if infer_dir:
        if not os.path.isdir(infer_dir):
            raise FileNotFoundError(f'--infer_dir: {infer_dir} is not a folder')
        paths += sorted(p for p in glob.glob(os.path.join(infer_dir, '**', '*'), recursive=True)
                        if p.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise FileNotFoundError('no image given: use --infer_img FILE or --infer_dir DIR')
    return paths


def verdict(scores, classes, threshold):
    """``good`` or the predicted classes joined by ``;`` for one score vector ``[C]``."""
    names = [c for c, s in zip(classes, scores) if s >= threshold]
    return ';'.join(names) or GOOD_LABEL


def classify_images(model, cfg, paths, output_dir, classes, threshold=0.5,
                    save_heatmaps=True):
    """Run ``model`` over ``paths``; write ``results.json`` (and heat maps) to ``output_dir``.

    Each result: ``{'file', 'verdict', 'defect_score', 'scores': {class: p}}``;
    the heat map of the highest-scoring class is saved as ``<stem>_cam.png``.
    Returns:
        list[dict]: the results, in the order of ``paths``.
    """
    transforms = Compose(cfg.TestReader['sample_transforms'])
    batch_size = cfg.TestReader.get('batch_size', 1)
    model.eval()
    os.makedirs(output_dir, exist_ok=True)
    results = []
    with tqdm(total=len(paths), desc='classifying', unit='img') as bar:
        records = [{'im_file': p} for p in paths]
        for chunk, _, image in image_batches(transforms, records, batch_size):
            with paddle.no_grad():
                outs = model({'image': image})
            for record, scores, cams in zip(chunk, outs['scores'].numpy(), outs['cam'].numpy()):
                path = record['im_file']
                results.append({'file': path, 'verdict': verdict(scores, classes, threshold),
                                'defect_score': float(scores.max()),
                                'scores': {c: float(s) for c, s in zip(classes, scores)}})
                if save_heatmaps:
                    _save_heatmap(path, results[-1]['verdict'], scores, cams, classes,
                                  output_dir)
            bar.update(len(chunk))
    write_json_atomic(os.path.join(output_dir, 'results.json'), results)
    logger.info(f'wrote {len(results)} results to {os.path.join(output_dir, "results.json")}')
    return results


def _save_heatmap(path, judged, scores, cams, classes, output_dir):
    """Save the map of the top class over the image, captioned with the verdict. The map
    is scaled by the class probability, so a confident defect glows and a good image stays
    nearly clear (a min-max map alone would look equally alarming on both)."""
    image = read_image_rgb(path)
    best = int(np.argmax(scores))
    heat = resize_map(normalise_map(cams[best]) * float(scores[best]), *image.shape[:2])
    picture = caption(overlay_heatmap(image, heat),
                      f'{judged} | map: {classes[best]} {scores[best]:.2f}')
    stem = os.path.splitext(os.path.basename(path))[0]
    cv2.imwrite(os.path.join(output_dir, f'{stem}_cam.png'),
                cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
