"""Benchmark of stage 2 on a test split: CAM maps and pseudo boxes against the truth.

Ground truth (boxes, masks) is read here for MEASURING only; every threshold used to
make boxes comes from the config (a rule), never from these boxes.
"""
import datetime
import json
import os
import shlex
import sys
import time

import numpy as np
import paddle
from ppdet.data.reader import Compose

from ppdet_wsd_runtime.heatmap import normalise_map

from ..cam import build_cam
from ..data.ground_truth import load_ground_truth
from ..data.labels import file_key
from ..engine.prediction.batches import image_batches
from ..engine.prediction.cam_boxes import boxes_for_image, cam_batches, labelled_classes
from ..metrics.pseudo_box_report import localization_metrics
from ..utils.provenance import git_commit, machine_summary
from .report import write_section


def _combined_heat(aligned):
    """One map per image: the max over its labelled classes' normalised maps ``[h, w]``."""
    return np.max([normalise_map(m) for m in aligned], axis=0)


def plain_inference_seconds(model, transforms, records, batch_size):
    """Seconds of the model's forward pass alone over ``records`` (batched, no grad)."""
    total = 0.0
    for _, _, image in image_batches(transforms, records, batch_size):
        tic = time.perf_counter()
        with paddle.no_grad():
            model({'image': image})['scores'].numpy()
        total += time.perf_counter() - tic
    return total


def collect(cam_method, generator, transforms, records, classes, batch_size, image_root):
    """Maps and boxes for every record, with the time spent making them.

    Returns:
        dict: ``files``, ``labels`` (class-name tuples), ``heat`` (combined normalised
        map per defective image, None for good ones), ``boxes`` (generator output
        per image) and ``seconds`` (CAM + alignment + boxes).
    """
    out = {'files': [], 'labels': [], 'heat': [], 'boxes': [], 'seconds': 0.0}
    for batch, samples, result, cam_seconds in cam_batches(cam_method, transforms, records,
                                                          batch_size):
        tic = time.perf_counter()
        for record, sample, maps, scores in zip(batch, samples, result.maps, result.scores):
            wanted = labelled_classes(record)
            aligned, boxes = boxes_for_image(generator, maps, scores, sample, wanted, classes)
            out['files'].append(file_key(record['im_file'], image_root))
            out['labels'].append(tuple(classes[i] for i in wanted))
            out['heat'].append(_combined_heat(aligned) if wanted else None)
            out['boxes'].append(boxes)
        out['seconds'] += cam_seconds + time.perf_counter() - tic
    return out


def benchmark_pseudo_boxes(model, cfg, dataset, classes, generator, methods, label,
                           results_dir, repo_dir, few_boxes_used=0):
    """Measure each CAM method of ``methods`` on ``dataset`` and save one JSON per method
    in ``results_dir`` (named ``<label>__<method>.json``); returns the results.
    ``few_boxes_used`` is recorded with them (0 unless the generator's thresholds were
    chosen in the few-boxes mode)."""
    transforms = Compose(cfg.EvalReader['sample_transforms'])
    batch_size = cfg.EvalReader.get('batch_size', 8)
    records = dataset.roidbs
    image_root = dataset.image_root
    truth = load_ground_truth(dataset.dataset_dir)
    if truth is None:
        raise FileNotFoundError(f'{dataset.dataset_dir}: no annotations.json to measure against')
    plain = plain_inference_seconds(model, transforms, records, batch_size)
    rule = generator.threshold if generator.threshold_mode == 'relative' else None
    out = {}
    for method in methods:
        run = collect(build_cam(method, model), generator, transforms, records, classes,
                      batch_size, image_root)
        metrics = localization_metrics(run, truth, classes, generator.all_contours, rule)
        metrics.update({'label': label, 'method': method, 'config': cfg.filename,
                        'weights': cfg.weights, 'split': dataset.split,
                        'generator': vars(generator), 'num_images': len(records),
                        'images_per_second': len(records) / run['seconds'],
                        'plain_images_per_second': len(records) / plain,
                        'few_boxes_used': few_boxes_used, 'command': 'python ' + shlex.join(sys.argv),
                        'commit': git_commit(repo_dir)})
        os.makedirs(results_dir, exist_ok=True)
        with open(os.path.join(results_dir, f'{label}__{method}.json'), 'w') as f:
            json.dump(metrics, f, indent=1)
        out[method] = metrics
    return out


def _num(v, scale=1.0, digits=1):
    return 'n/a' if v is None else f'{v * scale:.{digits}f}'


def _rule_cell(box_acc):
    """``BoxAcc (thr t)``, or n/a for runs without one relative threshold."""
    return 'n/a' if box_acc is None else f"{box_acc['box_acc']:.1f} (thr {box_acc['threshold']})"


def render_section(results_dir, doc_path, key, title, notes):
    """Rewrite the ``key`` section of ``doc_path`` from every JSON in ``results_dir``."""
    runs = [json.load(open(os.path.join(results_dir, n))) for n in sorted(os.listdir(results_dir))
            if n.endswith('.json')]
    classes = sorted({c for r in runs for c in r['per_class']})
    lines = [f'- machine: {machine_summary()}',
             f'- rendered: {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}; each run\'s '
             'command and commit are listed under the tables'] + notes + [
        '',
        '| run | CAM method | boxed images used | MaxBoxAccV2 | BoxAcc at the rule threshold | PxAP | pseudo-box mAP@0.5 '
        '| mAP@[.5:.95] | class-agnostic AP50 | CorLoc | maps+boxes img/s | plain inference img/s |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in runs:
        lines.append(
            f"| {r['label']} | {r['method']} | {r['few_boxes_used']} | "
            f"{_num(r['maxboxacc_v2']['maxboxacc_v2'])} | "
            f"{_rule_cell(r['box_acc_at_rule'])} | "
            f"{_num(r['pxap'], 1, 3)} | {_num(r['map50'], 1, 3)} | {_num(r['map50_95'], 1, 3)} | "
            f"{_num(r['agnostic_map50'], 1, 3)} | {_num(r['corloc'], 1, 3)} | "
            f"{r['images_per_second']:.1f} | {r['plain_images_per_second']:.1f} |")
    lines += ['', 'Per class (MaxBoxAccV2 / PxAP / pseudo-box AP50):', '',
              '| run | method | ' + ' | '.join(classes) + ' |',
              '|---|---|' + '---|' * len(classes)]
    for r in runs:
        cells = [f"{_num(r['per_class'].get(c, {}).get('maxboxacc_v2'))} / "
                 f"{_num(r['per_class'].get(c, {}).get('pxap'), 1, 2)} / "
                 f"{_num(r['per_class_ap50'].get(c), 1, 2)}" for c in classes]
        lines.append(f"| {r['label']} | {r['method']} | " + ' | '.join(cells) + ' |')
    lines += ['', 'Runs:', '']
    lines += [f"- {r['label']} / {r['method']}: `{r['command']}` at `{r['commit']}`, "
              f"generator {r['generator']}" for r in runs]
    write_section(doc_path, key, title, lines)
