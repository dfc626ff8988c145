"""Benchmark of the pseudo-box review with a SIMULATED reviewer: how much do N reviewed
training images per class improve the pseudo boxes, and what would the checks cost?

The reviewer is simulated from the ground truth (it is not a person): it walks the review
queue in the page's order (:func:`~ppdet_wsd.review.order.review_order`), takes the
first N images of each class (an image counts for its first label) and decides each of
their pseudo boxes against the true boxes with the page's own decisions
(:func:`~ppdet_wsd.review.decisions.apply_decision`):

* a pseudo box matched (greedily, highest score first) to a true box with IoU >= 0.5:
  ``accept`` (``relabel`` if the class differs);
* IoU in [0.1, 0.5): ``redraw`` to the true box (and ``relabel`` if needed);
* otherwise: ``reject``; a true box no pseudo box found: ``add``; an image without a
  true box: ``no_defect``.

The review is then folded in exactly as the pipeline's pseudo-box stage does it (level
and extent refitted on the reviewed images, decisions applied) and the pseudo boxes of ALL training
images are measured against the truth (COCO mAP@0.5 with the pipeline's localisation
metrics), plus those of the images nobody reviewed before and after (the refit's effect
alone).

Seconds per check are estimated, not measured, with the keystroke-level model (Card,
Moran & Newell): keystroke K 0.28 s, pointing P 1.1 s, button press or release B 0.1 s,
moving the hand between keyboard and mouse H 0.4 s, mental preparation M 1.35 s.
"""
import copy
import json
import os
import time

import numpy as np

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.heatmap import normalise_map

from ..data.ground_truth import load_ground_truth
from ..engine.prediction.cam_boxes import to_coco
from ..evidence.run import evidence_results
from ..metrics.box_mode import CLASS_AGNOSTIC, NO_BOXES
from ..metrics.localization import box_iou
from ..metrics.pseudo_box_report import localization_metrics
from ..pipeline.box_truth import dataset_box_mode
from ..pipeline.evidence_stages import fit_model, load_dataset, split_items
from ..review.apply import apply_review
from ..review.decisions import apply_decision
from ..review.order import review_order
from ..review.pseudo_file import coco_to_images
from ..review.refit import refit_cut
from ..review.store import REVIEW_FILE, empty_review
from ..utils.provenance import git_commit, machine_summary
from .report import provenance, write_section

K, P, B, H, M = 0.28, 1.1, 0.1, 0.4, 1.35
SECONDS = {  # keystroke-level estimates of one decision, and of moving to the next image
    'accept': M + K, 'reject': M + K, 'relabel': M + K, 'no_defect': M + K,
    'redraw': M + K + H + P + B + P + B + H, 'add': M + K + H + P + B + P + B + H,
    'next_image': M + K}
MATCH_IOU, REDRAW_IOU = 0.5, 0.1


def simulate_reviewer(image, truth, agnostic=False):
    """The decisions a reviewer who knows the true boxes makes on one image (module doc).

    Args:
        image (dict): ``{'file', 'width', 'height', 'labels', 'boxes' [{'class', 'box',
            'score'}]}``.
        truth (GroundTruthImage): its true boxes.
        agnostic (bool): the true boxes name other categories than the classes
            (class-agnostic evaluation mode): classes are never changed, an added box
            gets the image's first label.
    Returns:
        list[dict]: decisions in the page's format (``file`` set).
    """
    file = image['file']
    if not truth.loc_gt or not len(truth.boxes):
        return [{'file': file, 'action': 'no_defect', 'value': True}]
    decisions, free = [], list(range(len(truth.boxes)))
    order = sorted(range(len(image['boxes'])), key=lambda k: -image['boxes'][k]['score'])
    for k in order:
        box = image['boxes'][k]
        overlaps = box_iou([box['box']], truth.boxes[free])[0] if free else np.zeros(0)
        best = int(np.argmax(overlaps)) if len(overlaps) else -1
        if best < 0 or overlaps[best] < REDRAW_IOU:
            decisions.append({'file': file, 'action': 'reject', 'box': f'p{k}'})
            continue
        t = free.pop(best)
        if overlaps[best] < MATCH_IOU:
            decisions.append({'file': file, 'action': 'redraw', 'box': f'p{k}',
                              'xyxy': [float(v) for v in truth.boxes[t]]})
        if not agnostic and truth.labels[t] != box['class']:
            decisions.append({'file': file, 'action': 'relabel', 'box': f'p{k}',
                              'class': truth.labels[t]})
        elif overlaps[best] >= MATCH_IOU:
            decisions.append({'file': file, 'action': 'accept', 'box': f'p{k}'})
    decisions += [{'file': file, 'action': 'add', 'xyxy': [float(v) for v in truth.boxes[t]],
                   'class': image['labels'][0] if agnostic else truth.labels[t]} for t in free]
    return decisions


def first_per_class(queue, per_class):
    """The first ``per_class`` images of each class (by first label) of a review queue."""
    counts, chosen = {}, []
    for image in queue:
        c = image['labels'][0]
        if counts.get(c, 0) < per_class:
            counts[c] = counts.get(c, 0) + 1
            chosen.append(image)
    return chosen


def _boxes(model, store, train, image_root):
    """``(pseudo-box records for to_coco, normalised heat maps)`` of the training images."""
    records, heat = [], []
    for r in evidence_results(model, store, train, image_root, with_heat=True,
                              desc='pseudo boxes (train)'):
        records.append({'file': r['path'], 'height': r['height'], 'width': r['width'],
                        'image_labels': r['image_labels'], 'class_scores': r['class_scores'],
                        'boxes': [{k: b[k] for k in ('class', 'box', 'score')}
                                  for b in r['boxes']]})
        heat.append(None if r['heat'] is None else normalise_map(r['heat']))
    return records, heat


def _measure(coco, heat, truth, classes, files, box_mode):
    """Localisation numbers of a COCO pseudo-box dict on the images ``files``."""
    _, images = coco_to_images(coco)
    index = {im['file']: k for k, im in enumerate(images)}
    keep = [index[f] for f in files]
    run = {'files': files, 'labels': [tuple(images[k]['labels']) for k in keep],
           'heat': [heat[k] for k in keep], 'boxes': [images[k]['boxes'] for k in keep]}
    return localization_metrics(run, truth, classes, True, None, box_mode)


def detector_map(pipeline_config, dataset_dir, output_dir, review):
    """Run the whole pipeline (``pipeline_config``) on ``dataset_dir`` into ``output_dir``
    with ``review`` as its review file (none when it is empty); returns its report. Runs
    for several reviews share the output folder, so only the review-dependent stages
    (pseudo boxes onwards) are redone."""
    from ..pipeline.runner import run_pipeline
    from ..pipeline.spec import load_pipeline_config
    spec = load_pipeline_config(pipeline_config, {'dataset_dir': dataset_dir,
                                                  'output_dir': output_dir})
    path = os.path.join(output_dir, 'pseudo_boxes', REVIEW_FILE)
    if review['images']:
        write_json_atomic(path, review)
    elif os.path.isfile(path):
        os.remove(path)
    return run_pipeline(spec)


def benchmark_review(dataset_dir, output_dir, settings, per_class_counts, repo_dir,
                     pipeline_config=None):
    """Fit stage 1 once (train + val, as the pipeline), then for each N in
    ``per_class_counts``: simulate the review of N images per class, fold it in, measure;
    with ``pipeline_config`` also the detector trained by that pipeline on the reviewed
    pseudo boxes (``det_map50``, test split; :func:`detector_map`).
    Returns a list of result dicts, one per N (also written to ``output_dir/results``).

    Raises:
        ValueError: the dataset has no box ground truth to simulate the reviewer from.
    """
    tic = time.time()
    model, store = fit_model(dataset_dir, output_dir, settings)
    fit_seconds = time.time() - tic
    images, image_root, classes = load_dataset(dataset_dir)
    train = [im for im in images if im.split == 'train']
    val = split_items(store, images, image_root, classes, 'val')
    box_mode = dataset_box_mode(dataset_dir, classes, [im.file for im in train])
    if box_mode['mode'] == NO_BOXES:
        raise ValueError(f'{dataset_dir}: no box ground truth to simulate a reviewer from '
                         f'({box_mode["reason"]})')
    agnostic = box_mode['mode'] == CLASS_AGNOSTIC
    truth = load_ground_truth(dataset_dir, [im.file for im in train])
    base_records, heat = _boxes(model, store, train, image_root)
    base = to_coco(base_records, classes, image_root, {})
    _, queue_images = coco_to_images(base)
    queue = [queue_images[i] for i in review_order(queue_images, classes)]
    results = []
    for n in per_class_counts:
        tic = time.time()
        chosen = first_per_class(queue, n)
        review, actions = empty_review(), {a: 0 for a in SECONDS}
        for image in chosen:
            actions['next_image'] += 1
            for decision in simulate_reviewer(image, truth[image['file']], agnostic):
                actions[decision['action']] += 1
                apply_decision(review, image, decision, classes)
        variant = copy.copy(model)
        variant.settings, variant.levels = dict(model.settings), dict(model.levels)
        refit = refit_cut(variant, store, train, image_root, review, val) if chosen else None
        records = base_records if not chosen else _boxes(variant, store, train, image_root)[0]
        merged, summary = apply_review(to_coco(records, classes, image_root, {}), review)
        reviewed = {im['file'] for im in chosen}
        rest = [im.file for im in train if im.file not in reviewed]
        measurable = any(im.labels for im in train if im.file not in reviewed)
        seconds = sum(SECONDS[a] * c for a, c in actions.items())
        result = {
            'per_class': n, 'images_reviewed': len(chosen), 'actions': actions,
            'decisions': sum(c for a, c in actions.items() if a != 'next_image'),
            'estimated_seconds': seconds,
            'estimated_seconds_per_image': seconds / len(chosen) if chosen else None,
            'refit': refit, 'summary': summary,
            'all_train': _measure(merged, heat, truth, classes, [im.file for im in train],
                                  box_mode['mode']),
            'unreviewed': _measure(merged, heat, truth, classes, rest, box_mode['mode'])
            if measurable else None,
            'unreviewed_before': _measure(base, heat, truth, classes, rest, box_mode['mode'])
            if measurable else None,
            'box_mode': box_mode['mode'],
            'seconds': time.time() - tic, 'fit_seconds': fit_seconds, 'dataset': dataset_dir,
            'train_images': len(train), 'classes': classes,
            'commit': git_commit(repo_dir), 'machine': machine_summary()}
        if pipeline_config:
            report = detector_map(pipeline_config, dataset_dir,
                                  os.path.join(output_dir, 'pipeline'), review)
            result.update(det_map50=report['det_map50'], det_few_boxes_used=report[
                'few_boxes_used'], det_reviewed=report['reviewed'])
        os.makedirs(os.path.join(output_dir, 'results'), exist_ok=True)
        with open(os.path.join(output_dir, 'results', f'review_{n}.json'), 'w') as f:
            json.dump(result, f, indent=1, default=float)
        results.append(result)
    return results


def _num(v, digits=3):
    return '-' if v is None else f'{v:.{digits}f}'


def render_review_section(results, doc_path, key, title, repo_dir):
    """Write the table of :func:`benchmark_review` results into ``doc_path``."""
    first = results[0]
    classes = first['classes']
    detector = int('det_map50' in first)
    lines = provenance(repo_dir) + [
        f'- dataset: `{first["dataset"]}`, train split ({first["train_images"]} images), box '
        f'evaluation mode {first["box_mode"]}; stage 1 fitted once ({first["fit_seconds"]:.0f} '
        f's, incl. extracting the features not yet cached in the output folder)',
        '- **the reviewer is simulated from the ground truth** (not a person): it takes the '
        'first N images per class in the page\'s review order and accepts pseudo boxes with '
        'IoU >= 0.5 to a true box, redraws those with IoU in [0.1, 0.5), rejects the rest, '
        'adds missed true boxes, relabels wrong classes. The review is folded in as the '
        'pipeline does (level and extent refitted on the reviewed images, accepted boxes at '
        'score 1.0) and the pseudo boxes of the train images are measured against the true boxes.',
        '- seconds are **estimated** with the keystroke-level model from the decisions (per '
        'decision: accept / reject / relabel / no defect 1.63 s, redraw / add 4.83 s; '
        '1.63 s per image viewed), not measured on people.',
        '',
        '| N per class | images reviewed | decisions (accept/reject/redraw/relabel/add/no defect) '
        '| est. s per image | level quantile; extent | pseudo mAP@0.5 all train | unreviewed train: before '
        '-> after | ' + ' | '.join(f'AP50 {c}' for c in classes) + ' |' +
        (' detector mAP@0.5 (test) |' if detector else ''),
        '|' + '---|' * (7 + len(classes) + detector)]
    for r in results:
        a = r['actions']
        extent = '-' if not r['refit'] else '; '.join(
            f'{r["refit"][k + "_before"]} -> {r["refit"][k]}' if r['refit']['refitted']
            else f'{r["refit"][k]} (kept)' for k in ('level_quantile', 'extent'))
        per_class = r['all_train']['per_class_ap50'] or {}
        lines.append(
            f'| {r["per_class"]} | {r["images_reviewed"]} | {r["decisions"]} ({a["accept"]}/'
            f'{a["reject"]}/{a["redraw"]}/{a["relabel"]}/{a["add"]}/{a["no_defect"]}) | '
            f'{_num(r["estimated_seconds_per_image"], 1)} | {extent} | '
            f'{_num(r["all_train"]["map50"])} | '
            f'{_num(r["unreviewed_before"] and r["unreviewed_before"]["map50"])} -> '
            f'{_num(r["unreviewed"] and r["unreviewed"]["map50"])} | ' +
            ' | '.join(_num(per_class.get(c), 2) for c in classes) + ' |' +
            (f' {_num(r["det_map50"])} |' if detector else ''))
    write_section(doc_path, key, title, lines)
