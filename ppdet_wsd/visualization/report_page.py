"""The pipeline's ``report.html``: the numbers, per-class tables, precision-recall curves
and a grid of test images (heat map | true and predicted boxes), for a person to read
without the code. Pictures go to ``<output_dir>/report_files/``."""
import html
import json
import os

import cv2
import matplotlib
import numpy as np
from sklearn.metrics import precision_recall_curve

from ppdet_wsd_runtime.atomic import write_text_atomic
from ppdet_wsd_runtime.boxes import class_colour, draw_boxes
from ppdet_wsd_runtime.heatmap import caption
from ppdet_wsd_runtime.image_io import read_image_rgb

from ..data.ground_truth import load_ground_truth
from ..metrics.box_mode import CLASS_AGNOSTIC, NO_BOXES

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

FILES = 'report_files'
TRUTH_COLOUR = (0, 255, 0)
STYLE = """
body{font-family:sans-serif;margin:20px;background:#f6f6f6;color:#222;max-width:1400px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.verdict{font-size:16px;background:#fff;border-left:6px solid #d33;padding:10px}
.grid{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #ccc;padding:6px;width:430px;font-size:12px}
.card img{width:100%;image-rendering:pixelated}
.meta{color:#555} .small{color:#666;font-size:12px}
"""


def _num(value, digits=3, percent=False):
    if value is None:
        return 'n/a'
    return f'{value:.1f}%' if percent else f'{value:.{digits}f}'


def _table(header, rows):
    head = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(str(c))}</td>' for c in row) + '</tr>'
                   for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def pr_curve_picture(path, curves):
    """Save image-level precision-recall curves (defective = positive) as a PNG.

    Args:
        curves (list[tuple]): ``(name, defective bool [N], score float [N], threshold)``;
            the point at ``threshold`` is marked.
    """
    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=100)
    for name, defective, score, threshold in curves:
        defective, score = np.asarray(defective, bool), np.asarray(score, float)
        if defective.all() or not defective.any():
            continue
        precision, recall, _ = precision_recall_curve(defective, score)
        line, = ax.plot(recall, precision, label=name)
        judged = score >= threshold
        tp = (judged & defective).sum()
        ax.plot(tp / defective.sum(), tp / max(judged.sum(), 1), 'o', color=line.get_color(),
                label=f'{name}: operating point (threshold {threshold:.2f})')
    ax.set_xlabel('recall (defective images found)')
    ax.set_ylabel('precision (flagged images truly defective)')
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower left')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def grid_picture(heat_path, result, truth, classes, threshold):
    """Heat map (left) beside the image with true boxes (green) and the detector's boxes
    scored >= ``threshold`` (class colours); uint8 RGB."""
    image = read_image_rgb(result['file'])
    thickness = max(1, round(max(image.shape[:2]) / 300))
    if truth is not None and truth.loc_gt:
        image = draw_boxes(image, truth.boxes, [TRUTH_COLOUR] * len(truth.boxes),
                           thickness=thickness)
    shown = [b for b in result['boxes'] if b['score'] >= threshold]
    boxes = draw_boxes(image, [b['box'] for b in shown],
                       [class_colour(classes.index(b['class'])) for b in shown],
                       [f'{b["class"]} {b["score"]:.2f}' for b in shown], thickness=thickness)
    boxes = caption(boxes, f'{result["verdict"]} | score {result["defect_score"]:.2f}')
    heat = cv2.cvtColor(cv2.imread(heat_path), cv2.COLOR_BGR2RGB) if os.path.isfile(heat_path) \
        else np.full_like(boxes, 255)
    heat = cv2.resize(heat, (round(heat.shape[1] * boxes.shape[0] / heat.shape[0]),
                             boxes.shape[0]))
    return np.concatenate([heat, np.full((boxes.shape[0], 4, 3), 255, np.uint8), boxes], axis=1)


def _grid_cards(out, cls, det, profile, threshold):
    """Draw the grid pictures; returns HTML cards."""
    results_path = os.path.join(out, 'evaluation', 'grid', 'results.json')
    if not cls or not os.path.isfile(results_path):
        return []
    with open(results_path, encoding='utf-8') as f:
        results = json.load(f)
    truth = load_ground_truth(profile['dataset_dir'], cls['grid']) \
        if profile['evaluation']['mode'] != NO_BOXES else None
    labels = dict(zip(cls['grid'], cls['grid_labels']))
    folder = os.path.join(out, FILES, 'grid')
    os.makedirs(folder, exist_ok=True)
    cards = []
    for file, result in zip(cls['grid'], results):
        stem = os.path.splitext(os.path.basename(file))[0]
        picture = grid_picture(os.path.join(out, 'classifier_eval', 'grid', f'{stem}_cam.png'),
                               result, truth.get(file) if truth else None,
                               profile['classes'], threshold)
        name = f'{len(cards):03d}_{stem}.jpg'
        cv2.imwrite(os.path.join(folder, name), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        boxes = [f'{b["class"]} {b["score"]:.2f}' for b in result['boxes']
                 if b['score'] >= threshold]
        cards.append(f'<div class="card"><img src="{FILES}/grid/{html.escape(name)}" '
                     f'loading="lazy"><div><b>{html.escape(file)}</b></div>'
                     f'<div class="meta">true label: {html.escape(labels.get(file, "?"))} | '
                     f'verdict: {html.escape(result["verdict"])}</div>'
                     f'<div class="meta">boxes: {html.escape(", ".join(boxes) or "none")}</div>'
                     f'</div>')
    return cards


def write_report_page(out, report, cls, det, profile):
    """Write ``<out>/report.html`` (and its pictures) for ``report`` (the report.json dict),
    the classifier's and the detector's test metrics ``cls`` / ``det`` (None if missing)."""
    os.makedirs(os.path.join(out, FILES), exist_ok=True)
    r = report
    threshold = r['operating_threshold'] if r['operating_threshold'] is not None else 0.5
    parts = [f'<!doctype html><html><head><meta charset="utf-8"><title>ppdet-wsd report'
             f'</title><style>{STYLE}</style></head><body>',
             f'<h1>Weakly supervised defect detection: {html.escape(profile["dataset_dir"])}</h1>',
             f'<p class="small">{r["date"]}, commit {html.escape(r["commit"])}, '
             f'{html.escape(r["machine"])}</p>']
    if r['miss_rate'] is not None or r['overkill_rate'] is not None:
        parts.append(_verdict(r, profile))
    parts.append(f'<p>Box evaluation mode: <b>{html.escape(r["evaluation_mode"])}</b> '
                 f'({html.escape(r["evaluation_mode_reason"])})</p>')
    parts.append('<h2>Numbers (test split)</h2>')
    keys = ['verdict_source', 'image_auroc', 'image_ap', 'mean_class_auroc', 'mean_class_ap',
            'miss_rate', 'overkill_rate', 'verdict_threshold', 'cam_maxboxacc_v2', 'cam_pxap',
            'pseudo_map50', 'det_map50', 'det_map50_95', 'fit_map50', 'operating_threshold',
            'few_boxes_used', 'images_per_second_infer', 'model_size_mb']
    parts.append(_table(['number', 'value', 'what it is'], [
        [k, _value(r, k), r['definitions'].get(k, '')] for k in keys]))
    parts += _reviewed(r.get('reviewed'))
    parts += _class_tables(r, profile)
    if r['evaluation_mode'] == CLASS_AGNOSTIC:
        parts += _type_table(r)
    pr_path = os.path.join(out, FILES, 'pr_image.png')
    curves = []
    if cls:
        curves.append(('classifier', cls['defective'], cls['defect_scores'], cls['threshold']))
    if det:
        curves.append(('detector', det['defective'], det['defect_scores'], threshold))
    if curves:
        pr_curve_picture(pr_path, curves)
        parts.append('<h2>Precision-recall: finding defective images</h2>'
                     f'<img src="{FILES}/pr_image.png">')
    parts.append('<h2>Stages</h2>' + _table(
        ['stage', 'seconds', 'resumed'],
        [[s, _num(sec, 0), 'yes' if s in r['resumed_stages'] else ''] for s, sec in
         r['seconds_per_stage'].items()]))
    parts.append(_settings(r, profile))
    cards = _grid_cards(out, cls, det, profile, threshold)
    if cards:
        parts.append('<h2>Test images</h2><p class="small">Left: the stage-1/2 heat map of '
                     'the most probable class, scaled so that its level (set on good val images) '
                     'is mid-scale (green): warmer colours pass it, a good image stays blue. '
                     'Right: green = true boxes (when the dataset has them), coloured = the '
                     'detector\'s boxes at the operating threshold.</p><div class="grid">' + ''.join(cards) + '</div>')
    parts.append('</body></html>')
    write_text_atomic(os.path.join(out, 'report.html'), '\n'.join(parts))


def _value(r, key):
    """A report number as shown: formatted, or ``n/a (<reason>)`` when it is null."""
    value = r[key]
    if value is None:
        return f'n/a ({r[key + "_reason"]})' if key + '_reason' in r else 'n/a'
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return _num(value, percent=key == 'cam_maxboxacc_v2')


def _verdict(r, profile):
    """The one-sentence verdict: miss and over-kill rates at the verdict threshold, and
    which source gave the verdict (a rate that is undefined on this test split says so)."""
    def clause(key, text, name):
        if r[key] is None:
            return f'{name}: n/a ({html.escape(r[key + "_reason"])})'
        return text.format(f'<b>{_num(100 * r[key], percent=True)}</b>')
    basis = f', {r["threshold_basis"]}' if r.get('threshold_basis') else ''
    source = {'detector': 'the exported detector', 'classifier': 'the stage-1 classifier',
              'fusion': 'the mean of the detector and the stage-1 classifier'}[r['verdict_source']]
    val = ', '.join(f'{k} {_num(v)}' for k, v in (r['verdict_val_auroc'] or {}).items())
    return (f'<p class="verdict">On the {profile["images"]["test"]} test images, '
            f'{source} {clause("miss_rate", "misses {} of defective images", "miss rate")} '
            f'and {clause("overkill_rate", "rejects {} of good ones", "over-kill rate")} '
            f'at threshold {r["verdict_threshold"]:.3f} (chosen on: {r["threshold_source"]}'
            f'{basis}; verdict source chosen by val AUROC: {val}). '
            f'It was trained from image labels only'
            + (f' (plus a person\'s review of {r["few_boxes_used"]} training images\' pseudo '
               f'boxes)' if r['few_boxes_used'] else '')
            + '.</p>')


def _reviewed(review):
    """The reviewed-boxes block (tools/review.py), or nothing without a review."""
    if not review:
        return []
    refit = review['refit'] or {}
    extent = (f'box level refitted on them (share of negative val images below it: '
              f'{refit["level_quantile_before"]} -> {refit["level_quantile"]}), box extent '
              f'{refit["extent_before"]} -> {refit["extent"]}' if refit.get('refitted') else
              f'box level and extent kept ({refit.get("reason", "no review")})')
    return ['<h2>Reviewed pseudo boxes</h2>',
            f'<p>{review["images_reviewed"]} training images reviewed ({review["no_defect_images"]} '
            f'with no defect visible, left out of training), {review["boxes_reviewed"]} boxes '
            f'decided: {review["boxes_accepted"]} accepted at full weight (of them '
            f'{review["boxes_redrawn"]} redrawn, {review["boxes_relabelled"]} relabelled, '
            f'{review["boxes_added"]} added), {review["boxes_rejected"]} rejected; '
            f'{html.escape(extent)}.</p>',
            _table(['class', 'images reviewed', 'accepted boxes'],
                   [[c, v['images'], v['boxes']] for c, v in review['per_class'].items()])]


def _type_table(r):
    """Class-agnostic AP50 per true box type (labels coarser than the boxes)."""
    loc = (r['localization'] or {}).get('per_type_ap50') or {}
    det = (r['detector'] or {}).get('per_type_ap50') or {}
    return ['<h2>Per true box type (class-agnostic AP50)</h2>', _table(
        ['box type', 'pseudo-box AP50', 'detector AP50'],
        [[t, _num(loc.get(t)), _num(det.get(t))] for t in sorted(set(loc) | set(det))])]


def _class_tables(r, profile):
    classes = profile['classes']
    cls = r['classifier'] or {}
    loc = r['localization'] or {}
    det = r['detector'] or {}
    fit = (det.get('fit_to_targets') or {}).get('per_class_ap50') or {}
    rows = []
    for c in classes:
        per_loc = (loc.get('per_class') or {}).get(c, {})
        rows.append([c, profile['images_per_class'][c],
                     _num(((cls.get('per_class') or {}).get(c) or {}).get('auroc')),
                     _num(((det.get('per_class') or {}).get(c) or {}).get('auroc')),
                     _num(per_loc.get('maxboxacc_v2'), percent=True), _num(per_loc.get('pxap')),
                     _num((loc.get('per_class_ap50') or {}).get(c)),
                     _num((det.get('per_class_ap50') or {}).get(c)), _num(fit.get(c))])
    return ['<h2>Per class (test split; the last column: train split)</h2>', _table(
        ['class', 'images (all splits)', 'classifier AUROC', 'detector AUROC',
         'heat map MaxBoxAccV2', 'heat map PxAP', 'pseudo-box AP50', 'detector AP50',
         'detector fit AP50 (train, against its own training boxes)'], rows)]


def _settings(r, profile):
    anchors = r['anchors'] or {}
    canvas = profile['input_canvas']
    rows = [['detector input', f'{canvas[1]}x{canvas[0]} px canvas, aspect kept (short side '
             f'{profile["input_size"]}: {profile["input_size_source"]}; median image '
             f'{profile["median_width"]}x{profile["median_height"]})'],
            ['images (train / val / test)', ' / '.join(str(profile['images'][s])
                                                       for s in ('train', 'val', 'test'))],
            ['images skipped (unreadable or missing)',
             f'{profile["check"]["skipped_images"]} (listed in '
             f'{profile["check"]["skipped_file"]}; dataset check: '
             f'{profile["check"]["summary_file"]})'],
            ['pseudo boxes (train)', f'{r["pseudo_boxes"].get("boxes", "n/a")} on '
             f'{r["pseudo_boxes"].get("images", "n/a")} images']]
    if anchors:
        rows.append(['anchors', f'base scale {anchors["octave_base_scale"]:.2f}, aspect ratios '
                     f'{anchors["aspect_ratios"]} ('
                     + (f'from {anchors["num_boxes"]} pseudo boxes, 10th-percentile side '
                        f'{anchors["side_p10"]:.1f} px' if anchors['used'] else
                        'config values: too few pseudo boxes') + ')'])
    rows.append(['config', r['config']['config_file']])
    rows.append(['command', r['command'] or ''])
    return '<h2>Settings adapted to the data</h2>' + _table(['', ''], rows)
