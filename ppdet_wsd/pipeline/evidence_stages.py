"""Pipeline stages 1-2 on patch evidence (:mod:`ppdet_wsd.evidence`): fit the image
probe, the patch classifier, the normality bank and the per-class levels (``classifier``),
measure them on the test split (``classifier_eval``) and box the training images
(``pseudo_boxes``).

Every stage reads the images' frozen features from one cache, ``<output_dir>/features``
(computed once per image and input geometry; a killed run keeps what was cached).
Ground truth is read by ``classifier_eval`` only, to measure.
"""
import os
import time

import cv2
import numpy as np
from ppdet.core.workspace import create, merge_config
from ppdet.utils.logger import setup_logger

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.evidence_input import InputGeometry
from ppdet_wsd_runtime.evidence_maps import level_scaled
from ppdet_wsd_runtime.heatmap import caption, normalise_map, overlay_heatmap
from ppdet_wsd_runtime.image_io import read_image_rgb

from ..data.ground_truth import load_ground_truth
from ..data.labels import discover_classes, load_labeled_images
from ..engine.config import load_config
from ..engine.prediction.cam_boxes import to_coco
from ..evidence.features import FeatureExtractor
from ..evidence.fit import fit_evidence
from ..evidence.geometry import choose_short_side
from ..evidence.model import EvidenceModel
from ..evidence.run import evidence_results
from ..evidence.settings import BOX_KEYS, check_patch_evidence
from ..evidence.store import FeatureStore
from ..metrics.box_mode import NO_BOXES
from ..metrics.image_level import image_level_report
from ..metrics.pseudo_box_report import localization_metrics
from ..review.apply import apply_review
from ..review.heat import write_heat_map
from ..review.pseudo_file import PSEUDO_FILE, UNREVIEWED_FILE
from ..review.refit import refit_cut
from ..review.store import REVIEW_FILE, read_review
from ..visualization.review import (choose_review_files, render_review, save_review,
                                    write_review_gallery)
from .adapt import image_sizes

METRICS = 'metrics.json'
MODEL_DIR = 'evidence'
FEATURES = 'features'
FEATURES_VERSION = 1  # bump when the descriptors change: old cache entries then never hit
VERDICT_THRESHOLD = 0.5  # the image probe's class decision in the stage-1 numbers
logger = setup_logger(__name__)


def evidence_settings(task, box_stage=False):
    """The ``PatchEvidence`` settings of the run: the classifier config + its opts; for the
    box-making stages also the ``pseudo_boxes`` opts, which may set only the box keys."""
    spec = task['spec']
    load_config(spec['classifier']['config'])
    merge_config(spec['classifier']['opts'] or {})
    settings = create('PatchEvidence')
    if box_stage:
        extra = (spec['pseudo_boxes']['opts'] or {}).get('PatchEvidence', {})
        check_patch_evidence(extra, 'pseudo_boxes.opts.PatchEvidence', BOX_KEYS)
        for key, value in extra.items():
            setattr(settings, key, value)
    return settings


def load_dataset(dataset_dir, skip=()):
    """``(images with splits, image folder, defect classes)`` of a dataset, without the
    files of ``skip`` (those the dataset stage's check left out)."""
    images, image_root = load_labeled_images(dataset_dir)
    skip = set(skip)
    images = [im for im in images if im.file not in skip]
    return images, image_root, discover_classes(images)


def feature_store(output_dir, geometry):
    """The run's feature cache ``<output_dir>/features`` for ``geometry``."""
    settings = {'geometry': vars(geometry), 'backbone': 'EfficientNetLite lite0 imagenet',
                'version': FEATURES_VERSION}
    return FeatureStore(os.path.join(output_dir, FEATURES), settings,
                        lambda: FeatureExtractor(geometry))


def _labels(image, classes):
    return np.array([c in image.labels for c in classes], np.float32)


def review_sample(images, classes, num):
    """A label-balanced sample of ``num`` files of ``images`` (see choose_review_files)."""
    return choose_review_files([{'im_file': im.file, 'img_label': _labels(im, classes)}
                                for im in images], num)


def split_items(store, images, image_root, classes, split):
    """``[(ImageFeatures, multi-hot labels)]`` of one split."""
    return [(store.get(os.path.join(image_root, im.file)), _labels(im, classes))
            for im in images if im.split == split]


def fitting_images(train, max_good, seed):
    """The training images stage 1 is fitted on: every defective one and at most
    ``max_good`` good ones (a sample seeded by ``seed``; 0: all), in dataset order."""
    good = [i for i, im in enumerate(train) if not im.labels]
    if not max_good or len(good) <= max_good:
        return list(train)
    keep = set(np.random.default_rng(seed).choice(good, max_good, replace=False).tolist())
    logger.info(f'stage 1 is fitted on {max_good} of the {len(good)} good training images '
                f'(PatchEvidence.max_good_images)')
    return [im for i, im in enumerate(train) if im.labels or i in keep]


def fit_model(dataset_dir, output_dir, settings, skip=()):
    """Choose the input geometry from the training images, cache the features of the
    training images it is fitted on (:func:`fitting_images`) and of the val images under
    ``output_dir`` and fit the model (``skip``: files left out). Returns
    ``(model, store)``."""
    images, image_root, classes = load_dataset(dataset_dir, skip)
    train = [im for im in images if im.split == 'train']
    short = settings.short_side
    if short == 'auto':
        sizes = image_sizes([os.path.join(image_root, im.file) for im in train])
        short = choose_short_side(sizes, settings.min_short_side, settings.max_short_side)
    geometry = InputGeometry(int(short), settings.max_long_side)
    store = feature_store(output_dir, geometry)
    fitted = fitting_images(train, settings.max_good_images, settings.seed)
    val = [im for im in images if im.split == 'val']
    store.fill([os.path.join(image_root, im.file) for im in fitted + val],
               desc='features (train + val)')
    model = fit_evidence(split_items(store, fitted, image_root, classes, 'train'),
                         split_items(store, val, image_root, classes, 'val'),
                         classes, settings, vars(geometry))
    return model, store


def run_classifier(task):
    """Stage 1: the input geometry from the training images, their features, and the
    fitted evidence model in ``classifier/evidence/``."""
    tic = time.time()
    settings = evidence_settings(task)
    model, _ = fit_model(task['dataset_dir'], task['output_dir'], settings,
                         task.get('skip_files', ()))
    model.save(os.path.join(task['stage_dir'], MODEL_DIR))
    return {'train_seconds': time.time() - tic,
            'short_side': model.geometry['short_side'], 'heat_map': model.heat_map,
            'heat_map_asked': settings.heat_map,
            'levels': {c: v.to_dict() for c, v in model.levels.items()}}


def load_model(task):
    """The fitted model with the run's box settings, and its feature store."""
    model = EvidenceModel.load(os.path.join(task['output_dir'], 'classifier', MODEL_DIR))
    settings = evidence_settings(task, box_stage=True)
    model.settings.update({k: getattr(settings, k) for k in BOX_KEYS})
    store = feature_store(task['output_dir'], InputGeometry(**model.geometry))
    return model, store


def classifier_scores(output_dir, image_root, files):
    """The stage-1 classifier's class probabilities of dataset images (the verdict's
    ``classifier`` source), from the run's feature cache. Only the fitted model is read
    (no box settings, no config).

    Args:
        output_dir (str): the pipeline's output folder.
        image_root (str): the dataset's image folder.
        files (list[str]): image names relative to ``image_root``.
    Returns:
        tuple: ``(float32 [N, C] in [0, 1], class names)``.
    """
    model = EvidenceModel.load(os.path.join(output_dir, 'classifier', MODEL_DIR))
    store = feature_store(output_dir, InputGeometry(**model.geometry))
    paths = [os.path.join(image_root, f) for f in files]
    store.fill(paths, desc='features (verdict)')
    scores = [model.image_scores(store.get(p)) for p in paths]
    return np.stack(scores).reshape(len(files), len(model.classes)), model.classes


def _grid_picture(model, result):
    """The report's heat-map picture of one image: the map of its most probable class,
    coloured so that the class's level is the middle of the scale (a good image stays
    dark), captioned with the image probe's verdict."""
    scores = result['class_scores']
    best = max(scores, key=scores.get)
    levels = model.levels_of(best)
    heat = level_scaled(result['grid_maps'][model.classes.index(best)], levels.level,
                        levels.background)
    image = read_image_rgb(result['path'])
    heat = cv2.resize(heat, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    judged = ';'.join(c for c, s in scores.items() if s >= VERDICT_THRESHOLD) or 'good'
    return caption(overlay_heatmap(image, heat), f'{judged} | map: {best} {scores[best]:.2f}')


def measure_test(model, store, dataset_dir, box_mode, grid_images=0, grid_dir=None, skip=()):
    """Stage-1/2 numbers on the test split (see :func:`run_classifier_eval`).

    Args:
        skip (Iterable[str]): test files left out (the dataset stage's skipped images).
        grid_images (int): label-balanced test images whose heat-map picture is written
            to ``grid_dir``.
    Returns:
        dict: :func:`image_level_report` numbers plus ``localization`` (None without box
        truth), ``good_images_boxed``, ``heat_map_images_per_second`` (maps + boxes from
        cached features), ``defective``, ``defect_scores``, ``classes``, ``heat_map``,
        ``grid`` / ``grid_labels`` (the pictured files and their labels).
    """
    images, image_root, classes = load_dataset(dataset_dir, skip)
    test = [im for im in images if im.split == 'test']
    grid = review_sample(test, classes, grid_images)
    store.fill([os.path.join(image_root, im.file) for im in test], desc='features (test)')
    tic = time.time()
    results = []
    for r in evidence_results(model, store, test, image_root, with_heat=True,
                              check_good=True, desc='heat maps (test)'):
        if r['file'] in grid:
            stem = os.path.splitext(os.path.basename(r['file']))[0]
            cv2.imwrite(os.path.join(grid_dir, f'{stem}_cam.png'),
                        cv2.cvtColor(_grid_picture(model, r), cv2.COLOR_RGB2BGR))
        results.append(r)
    seconds = time.time() - tic
    labels = np.stack([_labels(im, classes) for im in test])
    scores = np.array([[r['class_scores'][c] for c in classes] for r in results], np.float32)
    report = image_level_report(labels, scores, classes, VERDICT_THRESHOLD)
    good_boxed = [bool(r['unlabelled_boxes']) for r in results if not r['image_labels']]
    localization = None
    truth = None if box_mode == NO_BOXES else \
        load_ground_truth(dataset_dir, [im.file for im in test])
    if truth and any(t.loc_gt and len(t.boxes) for t in truth.values()):
        run = {'files': [r['file'] for r in results],
               'labels': [tuple(r['image_labels']) for r in results],
               'heat': [None if r['heat'] is None else normalise_map(r['heat']) for r in results],
               'boxes': [r['boxes'] for r in results]}
        localization = localization_metrics(run, truth, classes, True, None, box_mode)
    report.update(
        defective=labels.any(axis=1).tolist(),
        defect_scores=scores.max(axis=1).astype(float).tolist(),
        localization=localization, classes=classes, heat_map=model.heat_map,
        good_images_boxed=float(np.mean(good_boxed)) if good_boxed else None,
        heat_map_images_per_second=len(test) / max(seconds, 1e-9),
        grid=[im.file for im in test if im.file in grid],
        grid_labels=[';'.join(im.labels) or 'good' for im in test if im.file in grid])
    return report


def run_classifier_eval(task):
    """Stage-1/2 numbers on the test split: the image verdict's AUROC / AP; with ground
    truth the heat maps' MaxBoxAccV2 and PxAP, the mAP of pseudo boxes made for the test
    images from their labels (as for training images); the share of good test images
    any map boxes; heat-map pictures of the report's grid images."""
    model, store = load_model(task)
    grid_dir = os.path.join(task['stage_dir'], 'grid')
    os.makedirs(grid_dir, exist_ok=True)
    report = measure_test(model, store, task['dataset_dir'], task['box_mode'],
                          task['spec']['evaluation']['grid_images'], grid_dir,
                          task.get('skip_files', ()))
    write_json_atomic(os.path.join(task['stage_dir'], METRICS), report)
    localization = report['localization']
    return {'image_auroc': report['image_auroc'],
            'maxboxacc_v2': localization and localization['maxboxacc_v2']['maxboxacc_v2'],
            'pseudo_map50': localization and localization['map50']}


def run_pseudo_boxes(task):
    """Stage 2: pseudo boxes for the training images (COCO json, a score per box), a heat-map
    picture per labelled image (``heat/``, for ``tools/review.py``) and review pictures of
    a label-balanced sample (``review/index.html``).

    With a review file (``review.json``, written by ``tools/review.py``) the box level and
    extent are refitted on the reviewed images (:func:`~ppdet_wsd.review.refit.refit_cut`) and the
    decisions are folded in (:func:`~ppdet_wsd.review.apply.apply_review`); the boxes
    before the review are kept in ``pseudo_boxes_unreviewed.json``."""
    model, store = load_model(task)
    images, image_root, classes = load_dataset(task['dataset_dir'], task.get('skip_files', ()))
    train = [im for im in images if im.split == 'train']
    review = read_review(os.path.join(task['stage_dir'], REVIEW_FILE))
    refit = None
    if review['images']:
        val = split_items(store, images, image_root, classes, 'val')
        refit = refit_cut(model, store, train, image_root, review, val)
    sample = review_sample(train, classes, model.settings['num_review'])
    results = []
    for index, r in enumerate(evidence_results(model, store, train, image_root,
                                               desc='pseudo boxes (train)')):
        record = {'file': r['path'], 'height': r['height'], 'width': r['width'],
                  'image_labels': r['image_labels'], 'class_scores': r['class_scores'],
                  'boxes': [{k: b[k] for k in ('class', 'box', 'score', 'above_level')}
                            for b in r['boxes']]}
        if r['image_labels']:
            record['heat_map'] = write_heat_map(task['stage_dir'], index, r['grid_maps'],
                                                r['image_labels'], model,
                                                (r['height'], r['width']))
        if r['file'] in sample:
            ids = [classes.index(c) for c in r['image_labels']]
            maps = np.stack([cv2.resize(r['grid_maps'][k], (r['width'], r['height']))
                             for k in ids]) if ids else np.zeros((0, r['height'], r['width']))
            picture = render_review(r['path'], maps, ids, record, classes)
            record['review'] = save_review(task['stage_dir'], picture, r['path'])
        results.append(record)
    info = {'heat_map': model.heat_map, 'few_boxes_used': 0,
            'image_root': os.path.abspath(image_root),
            'settings': {k: model.settings[k] for k in BOX_KEYS}}
    coco = to_coco(results, classes, image_root, info)
    summary = None
    if review['images']:
        write_json_atomic(os.path.join(task['stage_dir'], UNREVIEWED_FILE), coco)
        coco, summary = apply_review(coco, review)
        coco['info'].update(few_boxes_used=summary['images_reviewed'], refit=refit)
    write_json_atomic(os.path.join(task['stage_dir'], PSEUDO_FILE), coco)
    write_review_gallery(task['stage_dir'], results, f'Pseudo boxes: {model.heat_map} map', [
        f'{len(results)} training images, {len(coco["annotations"])} boxes',
        'Each picture: the image\'s strongest labelled class map over it, and every pseudo '
        'box with its class and score (scores below ~0.9 are regions that did not pass the '
        'class level, kept because the image is labelled defective). Good images get no box.'])
    return {'boxes': len(coco['annotations']), 'images': len(coco['images']),
            'boxes_above_level': sum(b['above_level'] for r in results for b in r['boxes']),
            'few_boxes_used': summary['images_reviewed'] if summary else 0,
            'review': summary and dict(summary, refit=refit)}
