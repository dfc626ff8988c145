"""Benchmark of the deploy paths of one detector on one test split: the eager (dygraph)
model vs Paddle Inference with oneDNN vs onnxruntime fp32 vs onnxruntime int8.

Per path: images/s at each batch size and the latency per call (p50 / p95), end to end from
the image file (decoding, preprocessing, the model, decoding and NMS, the image verdict);
the size of the model files; mAP@0.5
(:func:`~ppdet_wsd.metrics.detection_metric.detection_report`) and the miss / over-kill
rates of the image verdict the export carries (its source and threshold,
:mod:`ppdet_wsd.deploy.verdict_export`; with a ``classifier`` or ``fusion`` verdict every
path also runs the stage-1 classifier: eager, or its exported backbone on the path's
backend, float32 also on the int8 path) on every test image.

:func:`benchmark_pipeline_detector` runs it on a pipeline's detector
(``tools/benchmark_deploy.py``); the pieces below work on any model, export and split.
"""
import json
import os
import time

import numpy as np
from ppdet.data.reader import Compose

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.evidence_input import InputGeometry
from ppdet_wsd_runtime.image_io import read_image_rgb
from ppdet_wsd_runtime.predictor import ExportedDetector
from ppdet_wsd_runtime.results import detector_class_scores
from ppdet_wsd_runtime.verdict import source_scores

from ..data.ground_truth import load_ground_truth
from ..data.labels import file_key
from ..deploy.onnx_export import onnx_unavailable_reason
from ..engine.prediction.batches import image_batches
from ..engine.commands import dataset_split, export, trained_model
from ..engine.prediction.detect import detect_samples
from ..evidence.features import FeatureExtractor
from ..metrics import verdict_rates
from ..metrics.detection_metric import detection_report
from ..pipeline.stages import export_config, export_verdict
from .report import write_section

RESULTS = 'deploy_benchmark.json'

PATHS = {'eager': 'eager (dygraph)', 'paddle': 'Paddle Inference, oneDNN',
         'onnx': 'onnxruntime fp32', 'onnx-int8': 'onnxruntime int8'}
MAX_INT8_MAP_DROP = 0.01  # the rule: int8 is kept if mAP@0.5 drops by <= 1 point
MAX_INT8_RATE_RISE = 0.01  # and the verdict's miss and over-kill rates rise by <= 1 point


def eager_predictor(model, transforms, verdict=None, extractor=None):
    """``predict(paths) -> [(detections [m, 6] clipped, im_score [C], verdict scores
    [C])]`` of a ``RetinaNetMIL`` in eval mode (its feature cache off, so every call
    computes), with ppdet's reader ``transforms``. The verdict scores are those of
    ``verdict`` (an ``ExportVerdict``; None: the detector's own), the stage-1 classifier's
    from its features computed by ``extractor`` (a ``FeatureExtractor``) as the pipeline
    computes them."""
    source = verdict.source if verdict else 'detector'

    def predict(paths):
        _, samples, image = next(image_batches(transforms, [{'im_file': p} for p in paths],
                                               len(paths)))
        outputs = detect_samples(model, samples, image, paths)
        detector = np.stack([detector_class_scores(d, s) for d, s in outputs])
        classifier = None if source == 'detector' else np.stack(
            [verdict.evidence.image_scores(extractor(read_image_rgb(p))) for p in paths])
        scores = source_scores(source, detector, classifier)
        return [(d, s, v) for (d, s), v in zip(outputs, scores)]
    return predict


def exported_predictor(exported):
    """``predict(paths)`` of :func:`eager_predictor` for an ``ExportedDetector``, judged
    by the verdict its export carries."""
    def predict(paths):
        return [(j['detections'], j['im_score'], j['scores']) for j in exported.judge(paths)]
    return predict


def parameters_mb(model):
    """Size of a dygraph model's parameters and buffers (float32), MiB."""
    return sum(int(np.prod(v.shape)) * 4 for v in model.state_dict().values()) / 2**20


def time_calls(predict, paths, batch_size):
    """Run ``predict`` over ``paths`` in batches (after one warm-up batch).

    Returns:
        dict: ``images_per_second``, ``p50_ms`` and ``p95_ms`` (latency of one call of
        ``batch_size`` images), ``calls``.
    """
    batches = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    predict(batches[0])
    seconds = []
    for batch in batches:
        tic = time.perf_counter()
        predict(batch)
        seconds.append(time.perf_counter() - tic)
    return {'images_per_second': len(paths) / sum(seconds),
            'p50_ms': 1000 * float(np.percentile(seconds, 50)),
            'p95_ms': 1000 * float(np.percentile(seconds, 95)), 'calls': len(seconds)}


def accuracy(predict, split, classes, threshold, batch_size=8, verdict_threshold=None):
    """mAP@0.5 and the verdict's miss / over-kill rates of ``predict`` on ``split``.

    Args:
        predict (callable): ``paths -> [(detections, im_score, verdict scores)]``
            (:func:`eager_predictor`, :func:`exported_predictor`).
        split (dict): ``paths``, ``labels`` (``[N, C]`` multi-hot), ``files`` (keys of the
            ground truth) and ``truth`` (:func:`~ppdet_wsd.data.ground_truth.load_ground_truth`
            of those files, or None).
        threshold (float): the detector's operating threshold.
        verdict_threshold (float | None): the verdict's threshold (None: ``threshold``).
    Returns:
        dict: ``map50`` (None without box truth), ``miss_rate``, ``overkill_rate`` (the
        verdict's).
    """
    outputs = []
    for i in range(0, len(split['paths']), batch_size):
        outputs += predict(split['paths'][i:i + batch_size])
    report = detection_report(split['labels'], np.stack([s for _, s, _ in outputs]),
                              [d for d, _, _ in outputs], classes, threshold, split['files'],
                              split['truth'])
    rates = verdict_rates(report['defective'], np.stack([v for _, _, v in outputs]).max(axis=1),
                          threshold if verdict_threshold is None else verdict_threshold)
    return {'map50': report.get('det_map50'), 'miss_rate': rates['miss_rate'],
            'overkill_rate': rates['overkill_rate']}


def deploy_predictors(model, transforms, model_dir, verdict=None):
    """``{path name: (predict, model MiB) or the reason it is not available}`` for the
    eager ``model`` and the export in ``model_dir`` (``model.onnx`` / ``model_int8.onnx``
    when present), each judging images by ``verdict`` (the ``ExportVerdict`` the export
    carries; None: the detector's own)."""
    extractor, size_mb = None, parameters_mb(model)
    if verdict is not None and verdict.source != 'detector':
        extractor = FeatureExtractor(InputGeometry(**verdict.evidence.geometry))
        size_mb += parameters_mb(extractor.backbone)
    paths = {'eager': (eager_predictor(model, transforms, verdict, extractor), size_mb)}
    onnx_reason = onnx_unavailable_reason()
    for name, backend, int8 in (('paddle', 'paddle', False), ('onnx', 'onnx', False),
                                ('onnx-int8', 'onnx', True)):
        if backend == 'onnx' and onnx_reason:
            paths[name] = onnx_reason
            continue
        exported = ExportedDetector(model_dir, backend=backend, int8=int8)
        paths[name] = (exported_predictor(exported), exported.size_mb)
    return paths


def benchmark_paths(predictors, split, classes, threshold, speed_paths, batch_sizes=(1, 8),
                    verdict_threshold=None):
    """One row per path: ``{'path', 'available', 'size_mb', 'speed': {batch: time_calls},
    'accuracy': accuracy}`` (only ``path`` and ``reason`` for an unavailable path);
    ``threshold`` is the detector's, ``verdict_threshold`` the verdict's (None: the
    same)."""
    rows = []
    for name, predictor in predictors.items():
        if isinstance(predictor, str):
            rows.append({'path': name, 'available': False, 'reason': predictor})
            continue
        predict, size_mb = predictor
        rows.append({'path': name, 'available': True, 'size_mb': size_mb,
                     'accuracy': accuracy(predict, split, classes, threshold,
                                          verdict_threshold=verdict_threshold),
                     'speed': {b: time_calls(predict, speed_paths, b) for b in batch_sizes}})
    return rows


def _fmt(value, digits=3):
    return 'n/a' if value is None else f'{value:.{digits}f}'


def int8_decision(rows):
    """Whether the int8 model is kept: its mAP@0.5 at most 1 point below fp32's and its
    verdict's miss and over-kill rates (at the exported threshold) at most 1 point above;
    one line with both paths' numbers, or None when either was not measured."""
    by_path = {r['path']: r for r in rows if r['available']}
    if 'onnx' not in by_path or 'onnx-int8' not in by_path:
        return None
    fp32, int8 = (by_path[p]['accuracy'] for p in ('onnx', 'onnx-int8'))
    if fp32['map50'] is None or int8['map50'] is None:
        return None
    change = int8['map50'] - fp32['map50']
    rises = [int8[k] - fp32[k] for k in ('miss_rate', 'overkill_rate')
             if int8[k] is not None and fp32[k] is not None]
    kept = -change <= MAX_INT8_MAP_DROP and all(r <= MAX_INT8_RATE_RISE for r in rises)
    return (f'int8 {"kept" if kept else "not kept"}: mAP@0.5 {int8["map50"]:.3f} vs fp32 '
            f'{fp32["map50"]:.3f} ({100 * change:+.1f} points; the rule allows -'
            f'{100 * MAX_INT8_MAP_DROP:.0f}); miss / over-kill {_fmt(int8["miss_rate"])} / '
            f'{_fmt(int8["overkill_rate"])} vs {_fmt(fp32["miss_rate"])} / '
            f'{_fmt(fp32["overkill_rate"])} (each may rise by '
            f'{100 * MAX_INT8_RATE_RISE:.0f} point)')


def deploy_lines(rows, batch_sizes=(1, 8)):
    """The markdown table of :func:`benchmark_paths` rows (+ the int8 decision)."""
    eager = next((r for r in rows if r['path'] == 'eager' and r['available']), None)
    header = ['path'] + [f'img/s, batch {b}' for b in batch_sizes] + \
        [f'latency p50 / p95, batch {b} (ms)' for b in batch_sizes] + \
        ['x eager (batch 1)', 'model MiB', 'mAP@0.5', 'verdict miss / over-kill']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for r in rows:
        if not r['available']:
            lines.append(f'| {PATHS[r["path"]]} | not available: {r["reason"]} |')
            continue
        speed, acc = r['speed'], r['accuracy']
        ratio = speed[batch_sizes[0]]['images_per_second'] / \
            eager['speed'][batch_sizes[0]]['images_per_second'] if eager else None
        cells = [PATHS[r['path']]] + \
            [f'{speed[b]["images_per_second"]:.1f}' for b in batch_sizes] + \
            [f'{speed[b]["p50_ms"]:.0f} / {speed[b]["p95_ms"]:.0f}' for b in batch_sizes] + \
            [_fmt(ratio, 1), f'{r["size_mb"]:.1f}', _fmt(acc['map50']),
             f'{_fmt(acc["miss_rate"])} / {_fmt(acc["overkill_rate"])}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    decision = int8_decision(rows)
    return lines + (['', f'- {decision}'] if decision else [])


def write_deploy_section(doc_path, key, title, header_lines, rows, batch_sizes=(1, 8)):
    """Write the ``key`` section of ``doc_path``: ``header_lines`` (provenance, notes),
    then the table."""
    write_section(doc_path, key, title, list(header_lines) + [''] +
                  deploy_lines(rows, batch_sizes))


def load_test_split():
    """The evaluation dataset's test split as :func:`accuracy` takes it."""
    dataset = dataset_split('test')
    files = [file_key(r['im_file'], dataset.image_root) for r in dataset.roidbs]
    return {'paths': [r['im_file'] for r in dataset.roidbs],
            'labels': np.stack([r['img_label'] for r in dataset.roidbs]), 'files': files,
            'truth': load_ground_truth(dataset.dataset_dir, files)}


def benchmark_pipeline_detector(pipeline_dir, out_dir, speed_images=100, calibration_images=32,
                                batch_sizes=(1, 8)):
    """Export a finished pipeline's detector (with its operating threshold and the image
    verdict its evaluation chose, as the pipeline's export stage does) into ``<out_dir>``
    with ``model.onnx`` and ``model_int8.onnx`` (paddle >= 3), then measure every path on
    the pipeline dataset's test split: speed on its first ``speed_images`` images,
    accuracy on all of them. The rows go to ``<out_dir>/deploy_benchmark.json`` with the
    verdict (``source``, ``threshold``).

    Returns:
        tuple: ``(rows, model_dir)``.
    """
    task_file = os.path.join(pipeline_dir, 'export', 'stage.task.json')
    if not os.path.isfile(task_file):
        raise FileNotFoundError(f'{task_file}: not found; run the pipeline to its export stage')
    with open(task_file, encoding='utf-8') as f:
        task = json.load(f)
    folder = os.path.abspath(pipeline_dir)  # the run may have been moved since
    task.update(output_dir=folder, stage_dir=os.path.join(folder, 'export'))
    cfg = export_config(task)
    verdict = export_verdict(task)
    cfg[cfg.architecture]['cache_features'] = False  # the eager model computes every call
    model_dir = os.path.abspath(export(cfg, out_dir, int8=onnx_unavailable_reason() is None,
                                       calibration_images=calibration_images, verdict=verdict))
    model, classes = trained_model(cfg)
    split = load_test_split()
    predictors = deploy_predictors(model, Compose(cfg.TestReader['sample_transforms']),
                                   model_dir, verdict)
    rows = benchmark_paths(predictors, split, classes, cfg.verdict_threshold,
                           split['paths'][:speed_images], batch_sizes,
                           verdict_threshold=verdict.threshold if verdict else None)
    judged = {'source': verdict.source if verdict else 'detector',
              'threshold': verdict.threshold if verdict else cfg.verdict_threshold}
    write_json_atomic(os.path.join(out_dir, RESULTS), {'model_dir': model_dir, 'rows': rows,
                                                       'verdict': judged,
                                                       'num_test_images': len(split['paths'])})
    return rows, model_dir
