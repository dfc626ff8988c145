"""The deploy runner: an exported model over a folder, a file or a glob of images ->
one results file (and, if asked, one picture and one heat map per image). Imports no
ppdet.

``results.json`` (written once, at the end, via a temporary file and a rename)::

    {"model": <folder>, "backend": "paddle" | "onnx", "int8": bool, "kind": "detector" |
     "classifier", "classes": [...], "operating_threshold": t, "min_box_score": s,
     "heat_map": "fused" | "normality" | "mil" | "cam" | null,
     "verdict": {"source": "detector" | "classifier" | "fusion", "threshold": v,
                 "exported": bool} (detector),
     "images": [{"file", "verdict": "defective" | "good", "defect_score", "found": [...],
                 "scores": {class: score}, "source_scores": {"detector": {...},
                 "classifier": {...}} (a verdict with the stage-1 classifier),
                 "boxes": [{"class", "score", "box": [x1, y1, x2, y2]}] (detector),
                 "picture" (with --draw), "heatmap" (with --heatmaps),
                 "heatmap_class" (the class of the map drawn / written)}, ...],
     "unreadable": [{"file", "error"}, ...]}

``heat_map`` is the kind of map the pictures and ``heatmaps/`` show: a detector's
export's stage-1 maps (:mod:`.evidence_maps`; null when it has none: its pictures show the
boxes alone) or a classifier's class maps (``cam``).

A detector's ``verdict``, ``defect_score``, ``found`` and ``scores`` are those of the
verdict source its export carries, at that source's threshold (:mod:`.verdict`);
``operating_threshold`` is the detector's own (the default ``min_box_score``).
"""
import glob
import os

import cv2
import numpy as np
from tqdm import tqdm

from .atomic import write_json_atomic
from .drawing import classifier_heat, draw_detection, draw_heatmap
from .image_io import IMAGE_EXTENSIONS, ImageReadError, read_image_rgb
from .predictor import ExportedDetector, load_exported
from .results import classification_result, judged_result

RESULTS_FILE = 'results.json'
PICTURES = 'pictures'
HEATMAPS = 'heatmaps'


def list_images(spec):
    """The images ``spec`` names and the folder their names are relative to.

    Args:
        spec (str): a folder (searched recursively for image files), an image file, or a
            glob pattern (``**`` recursive; every matching file is taken).
    Returns:
        tuple: ``(sorted paths, root folder)``.
    Raises:
        FileNotFoundError: nothing found.
    """
    if os.path.isdir(spec):
        paths = [p for p in glob.glob(os.path.join(spec, '**', '*'), recursive=True)
                 if p.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(p)]
        root = spec
    elif os.path.isfile(spec):
        paths, root = [spec], os.path.dirname(spec)
    else:
        paths = [p for p in glob.glob(spec, recursive=True) if os.path.isfile(p)]
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]) \
            if paths else ''
    if not paths:
        raise FileNotFoundError(f'{spec}: no image found (give a folder, an image file or a '
                                f'glob pattern such as "images/**/*.png")')
    return sorted(paths), root


def read_batches(paths, preprocess, batch_size, unreadable):
    """Preprocessed images in batches of ``batch_size``: yields ``(paths, samples)``.
    A file that cannot be read is skipped and appended to ``unreadable`` as
    ``{'file', 'error'}``."""
    batch = []
    for path in paths:
        try:
            batch.append((path, preprocess(path)))
        except ImageReadError as err:
            unreadable.append({'file': path, 'error': str(err)})
            continue
        if len(batch) == batch_size:
            yield [p for p, _ in batch], [s for _, s in batch]
            batch = []
    if batch:
        yield [p for p, _ in batch], [s for _, s in batch]


def picture_path(out_dir, root, path, folder=PICTURES, extension='.png'):
    """``<out_dir>/<folder>/<path relative to root, with extension>`` (``pictures/*.png``
    by default)."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root or '.'))
    return os.path.join(out_dir, folder, os.path.splitext(relative)[0] + extension)


def _describe(model, path, sample, output, min_box_score, draw, heatmaps):
    """(result dict, picture or None, heat map float32 [H, W] or None) of one image."""
    image_hw = (sample['h'], sample['w'])
    if isinstance(model, ExportedDetector):
        result = judged_result(path, output, model.classes, model.verdict['threshold'],
                               min_box_score)
        heat = model.image_map(output, image_hw) if draw or heatmaps else None
        if heat is not None:
            result['heatmap_class'] = model.classes[heat[1]]
        picture = None
        if draw:  # the decoded image when the verdict kept it
            image = sample['rgb'] if 'rgb' in sample else read_image_rgb(path)
            picture = draw_detection(image, result, model.classes,
                                     None if heat is None else heat[0],
                                     result.get('heatmap_class'))
    else:
        scores, cams = output
        result = classification_result(path, scores, model.classes, model.threshold)
        heat = classifier_heat(result, cams, sample, model.classes, image_hw) \
            if draw or heatmaps else None
        if heatmaps:
            result['heatmap_class'] = model.classes[heat[1]]
        picture = draw and draw_heatmap(read_image_rgb(path), result, cams, sample,
                                        model.classes, heat)
    return result, picture, None if heat is None else heat[0]


def heat_map_kind(model):
    """What ``--heatmaps`` writes for ``model``: the stage-1 map kind of a detector's
    export (``fused``, ``normality``, ``mil``; None when it has none) or ``cam`` (a
    classifier's class map)."""
    return model.heat_map if isinstance(model, ExportedDetector) else 'cam'


def run_deploy(model_dir, images, out_dir, backend='paddle', int8=False, batch_size=1,
               threads=None, draw=False, min_box_score=None, heatmaps=False):
    """Run the exported model in ``model_dir`` over ``images`` and write
    ``<out_dir>/results.json`` (format in the module docstring).

    Args:
        model_dir (str): an exported model folder.
        images (str): a folder, an image file or a glob pattern (:func:`list_images`).
        out_dir (str): where the results (and pictures) go.
        backend (str): ``paddle`` (Paddle Inference, oneDNN) or ``onnx`` (onnxruntime).
        int8 (bool): the int8 ONNX model (onnx backend).
        batch_size (int): images per model call.
        threads (int | None): CPU threads; None = every core.
        draw (bool): also write ``<out_dir>/pictures/<image>.png``.
        min_box_score (float | None): boxes below it are left out of the results; None =
            the operating threshold (every box still counts for the verdict).
        heatmaps (bool): also write ``<out_dir>/heatmaps/<image>.npy``: float16 ``[H, W]``,
            the heat map of the verdict's top class as drawn (a detector's export needs
            heat maps, ``export.heat_maps``).
    Returns:
        dict: the results document.
    """
    if batch_size < 1:
        raise ValueError(f'batch size must be at least 1, got {batch_size}')
    model = load_exported(model_dir, backend, threads, int8)
    kind = heat_map_kind(model)
    if heatmaps and kind is None:
        raise ValueError(f'--heatmaps: {model_dir} has no heat maps; export it with the '
                         f'stage-1 heat maps (pipeline: export.heat_maps: true)')
    detector = isinstance(model, ExportedDetector)
    maps = detector and kind is not None and (draw or heatmaps)
    paths, root = list_images(images)
    min_box_score = model.threshold if min_box_score is None else float(min_box_score)
    results, unreadable = [], []
    with tqdm(total=len(paths), desc='deploy', unit='img') as bar:
        for batch_paths, samples in read_batches(paths, model.preprocess, batch_size,
                                                 unreadable):
            outputs = model.judge_samples(samples, maps) if detector \
                else model.predict_samples(samples)
            for path, sample, output in zip(batch_paths, samples, outputs):
                result, picture, heat = _describe(model, path, sample, output, min_box_score,
                                                  draw, heatmaps)
                if draw:
                    result['picture'] = picture_path(out_dir, root, path)
                    os.makedirs(os.path.dirname(result['picture']), exist_ok=True)
                    cv2.imwrite(result['picture'], cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
                if heatmaps:
                    result['heatmap'] = picture_path(out_dir, root, path, HEATMAPS, '.npy')
                    os.makedirs(os.path.dirname(result['heatmap']), exist_ok=True)
                    np.save(result['heatmap'], heat.astype(np.float16))
                results.append(result)
            bar.update(len(results) + len(unreadable) - bar.n)
        bar.update(len(paths) - bar.n)  # unreadable files after the last batch
    document = {'model': os.path.abspath(model_dir), 'backend': backend, 'int8': bool(int8),
                'kind': 'detector' if detector else 'classifier',
                'classes': model.classes, 'operating_threshold': model.threshold,
                'min_box_score': min_box_score, 'heat_map': kind}
    if detector:
        document['verdict'] = {k: model.verdict[k] for k in ('source', 'threshold', 'exported')}
    document.update(images=results, unreadable=unreadable)
    write_json_atomic(os.path.join(out_dir, RESULTS_FILE), document)
    return document
