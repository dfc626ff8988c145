"""``<output_dir>/report.json`` and ``report.html`` from the finished stages' outputs."""
import json
import os
import time

from ppdet_wsd_runtime.atomic import write_json_atomic

from ..metrics.box_mode import NO_BOXES
from ..utils.provenance import git_commit, machine_summary
from ..visualization.report_page import write_report_page
from . import records

DEFINITIONS = {
    'verdict_source': 'where the image verdict comes from: the detector (max over classes of '
                      'MIL probability and best box score), the stage-1 classifier, or their '
                      'mean (fusion); the one with the best val AUROC (image labels only)',
    'image_auroc': "the verdict source's defect score (max over classes), defective vs good "
                   'test images',
    'image_ap': 'average precision of the same score, defective images positive',
    'mean_class_auroc': "the verdict source's per-class AUROC (one class vs the other images), "
                        'mean over the classes where it is defined; the image-level number '
                        'a test split without good images still has',
    'mean_class_ap': "the verdict source's per-class AP, mean over the classes where it is "
                     'defined',
    'miss_rate': 'defective test images judged good at the verdict threshold (chosen on val)',
    'overkill_rate': 'good test images judged defective at the verdict threshold',
    'verdict_threshold': "the verdict source's operating threshold, Youden's J on val image "
                         'labels',
    'operating_threshold': "the detector's own operating threshold (val, Youden's J), "
                           'exported with it',
    'fit_map50': "the detector's mAP@0.5 on the train split against its own training boxes "
                 '(the pseudo boxes): how well it learnt what it was given',
    'cam_maxboxacc_v2': 'stage-1/2 heat maps (patch evidence of the labelled classes), '
                        'MaxBoxAccV2 in percent (IoU 0.3/0.5/0.7; the heat-map threshold is '
                        'swept against the true boxes: an upper bound)',
    'cam_pxap': 'stage-1/2 heat maps, pixel AP against the masks',
    'good_images_boxed': 'good test images on which some class map rises above its level '
                         '(levels set on val images without the class; no label used)',
    'pseudo_map50': 'COCO mAP@0.5 of pseudo boxes made for the test images from their image '
                    'labels, as for training images',
    'det_map50': "the detector's COCO mAP@0.5 on the test split (class-agnostic when the "
                 'evaluation mode is: every true box and detection one class "defect")',
    'det_map50_95': "the detector's COCO mAP@[.5:.95] on the test split",
    'few_boxes_used': 'training images whose pseudo boxes a person reviewed '
                      '(tools/review.py; 0: none, no box drawn by a person used)',
    'reviewed': 'the review folded into the pseudo boxes: images and boxes reviewed, per '
                'class, and the box level (false-alarm quantile) and extent refitted on them '
                '(null: no review)',
    'images_per_second_infer': 'the export, one image at a time incl. decoding and the '
                               "image verdict (with a classifier or fusion verdict also "
                               "the stage-1 classifier's backbone pass)",
    'model_size_mb': 'the graph files the runner loads: the detector, plus the stage-1 '
                     'backbone for a classifier or fusion verdict, MiB',
}


def _load(out, stage, name='metrics.json'):
    path = os.path.join(out, stage, name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


IMAGE_KEYS = ('image_auroc', 'image_ap', 'mean_class_auroc', 'mean_class_ap')
BOX_KEYS = ('cam_maxboxacc_v2', 'pseudo_map50', 'det_map50', 'det_map50_95',
            'det_map50_agnostic')


def null_reasons(numbers, profile):
    """``{<key>_reason: why}`` for every number of :data:`IMAGE_KEYS`, :data:`BOX_KEYS`,
    ``cam_pxap``, ``miss_rate``, ``overkill_rate`` and ``good_images_boxed`` that is
    ``None`` in ``numbers``."""
    good = profile['good_images_per_split']['test']
    defective = profile['images']['test'] - good
    evaluation = profile['evaluation']
    why = {}
    for key in IMAGE_KEYS + ('overkill_rate', 'miss_rate'):
        if not good and key in ('image_auroc', 'image_ap', 'overkill_rate'):
            why[key] = 'no good images in the test split'
        elif not defective and key != 'overkill_rate':
            why[key] = 'no defective images in the test split'
        elif key.startswith('mean_class'):
            why[key] = 'no class has both labelled and unlabelled test images'
        else:
            why[key] = 'the evaluation stage has not finished'
    why['good_images_boxed'] = 'no good images in the test split' if not good else \
        'the heat-map evaluation has not finished'
    for key in BOX_KEYS + ('cam_pxap',):
        if evaluation['mode'] == NO_BOXES:
            why[key] = f'no box ground truth: {evaluation["reason"]}'
        elif key == 'cam_pxap':
            why[key] = 'no mask (masks/<stem>.png) for a boxed defective test image'
        else:
            why[key] = 'no defective test image with a true box'
    return {f'{k}_reason': why[k] for k in why if numbers.get(k) is None}


def report_numbers(spec, profile, command_line, wall_seconds):
    """The report dict (see :data:`DEFINITIONS`): null where a number is undefined on this
    data, with ``<key>_reason`` saying why (:func:`null_reasons`); ``evaluation_mode``
    (class-aware / class-agnostic / none) and its reason, from the dataset stage."""
    out = spec['output_dir']
    cls = _load(out, 'classifier_eval')
    det = _load(out, 'evaluation')
    exported = _load(out, 'export')
    pseudo = (_load(out, 'pseudo_boxes', records.DONE) or {}).get('result', {})
    loc = cls.get('localization') if cls else None
    stage_records = {s: records.read_record(os.path.join(out, s)) for s in
                     ('classifier', 'classifier_eval', 'pseudo_boxes', 'detector', 'evaluation',
                      'export')}
    verdict = det['verdict'] if det else {}
    judged = verdict.get('test', {})
    numbers = {
        'evaluation_mode': profile['evaluation']['mode'],
        'evaluation_mode_reason': profile['evaluation']['reason'],
        'verdict_source': verdict.get('source'),
        'verdict_val_auroc': verdict.get('val_separation'),
        'image_auroc': judged.get('image_auroc'),
        'image_ap': judged.get('image_ap'),
        'mean_class_auroc': judged.get('mean_class_auroc'),
        'mean_class_ap': judged.get('mean_class_ap'),
        'cam_maxboxacc_v2': loc and loc['maxboxacc_v2']['maxboxacc_v2'],
        'cam_pxap': loc and loc['pxap'],
        'pseudo_map50': loc and loc['map50'],
        'det_map50': det and det.get('det_map50'),
        'det_map50_95': det and det.get('det_map50_95'),
        'det_map50_agnostic': det and det.get('det_map50_agnostic'),
        'fit_map50': det and det['fit_to_targets']['det_map50'],
        'miss_rate': judged.get('miss_rate'),
        'overkill_rate': judged.get('overkill_rate'),
        'verdict_threshold': verdict.get('threshold'),
        'threshold_source': verdict.get('threshold_source'),
        'threshold_basis': verdict.get('threshold_basis'),
        'operating_threshold': det and det['operating_threshold'],
        'few_boxes_used': pseudo.get('few_boxes_used', 0),
        'reviewed': pseudo.get('review'),
        'seconds_per_stage': {s: r and r['seconds'] for s, r in stage_records.items()},
        'resumed_stages': [s for s, r in stage_records.items() if r and r.get('resumed')],
        'wall_seconds_this_run': wall_seconds,
        'images_per_second_infer': exported and exported['images_per_second'],
        'model_size_mb': exported and exported['model_size_mb'],
        'exported_model': exported and exported['model_dir'],
        'commit': git_commit(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))),
        'machine': machine_summary(),
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'command': command_line,
        'config': spec,
        'dataset': profile,
        'anchors': _load(out, 'detector', 'anchors.json'),
        'pseudo_boxes': pseudo,
        'classifier': cls and {k: cls.get(k) for k in (
            'image_auroc', 'image_ap', 'miss_rate', 'overkill_rate', 'threshold', 'per_class',
            'per_group_accuracy', 'heat_map', 'good_images_boxed',
            'heat_map_images_per_second')},
        'good_images_boxed': cls and cls.get('good_images_boxed'),
        'localization': loc and {k: loc.get(k) for k in ('images', 'maxboxacc_v2', 'pxap', 'map50',
                                                     'map50_95', 'per_class_ap50', 'per_class',
                                                     'corloc', 'per_type_ap50')},
        'detector': det and {
            'per_class_ap50': (det.get('boxes') or {}).get('per_class_ap50'),
            'per_type_ap50': (det.get('boxes_agnostic') or {}).get('per_type_ap50'),
            'image_auroc': det['image_auroc'], 'image_ap': det['image_ap'],
            'at_operating_threshold': det['at_threshold'],
            'fit_to_targets': det['fit_to_targets'],
            'verdict_sources': det['verdict_sources'], 'per_class': det['per_class'],
            'num_images': det['num_images']},
        'definitions': DEFINITIONS,
    }
    numbers.update(null_reasons(numbers, profile))
    return numbers


def write_report(spec, profile, command_line, wall_seconds):
    """Write ``report.json`` and ``report.html`` into the output folder; returns the dict."""
    out = spec['output_dir']
    report = report_numbers(spec, profile, command_line, wall_seconds)
    write_json_atomic(os.path.join(out, 'report.json'), report)
    cls, det = _load(out, 'classifier_eval'), _load(out, 'evaluation')
    write_report_page(out, report, cls, det, profile)
    return report
