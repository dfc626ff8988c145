"""Benchmark of stage 3: train a detector config, measure it once on the test split, and
tabulate it beside the pseudo boxes it learnt from and the fully supervised reference."""
import json
import os

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.predictor import exported_speed

from ..engine.commands import (TRAIN_SUMMARY, dataset_split, export, train,
                               val_threshold_and_test)
from ..metrics import verdict_rates
from ..utils.provenance import machine_summary
from .report import provenance, write_section

ROLES = ('weak', 'supervised')


def _fmt(value, digits=3):
    return 'n/a' if value is None else f'{value:.{digits}f}'


def benchmark_detector(cfg, label, role, results_dir, repo_dir, train_first=True,
                       speed_images=100):
    """Measure a detector config on the ``test`` split and save the row as
    ``<results_dir>/<config name>.json`` (returned).

    Steps: train ``cfg`` (no validation, fixed schedule; skipped with ``train_first=False``,
    which reuses the run's ``train_summary.json``); choose an operating threshold on the
    **val** split's image labels (Youden's J; no box is read); evaluate ``model_final`` on
    ``test`` against ``annotations.json`` (verdicts at the fixed ``verdict_threshold`` and at
    the val threshold); export it and time the export on ``speed_images`` test images.
    """
    if role not in ROLES:
        raise ValueError(f'role must be one of {ROLES}, got "{role}"')
    run_dir = os.path.join(cfg.save_dir, cfg.filename)
    if train_first:
        summary = train(cfg, validate=False).summary
    else:
        with open(os.path.join(run_dir, TRAIN_SUMMARY), encoding='utf-8') as f:
            summary = json.load(f)
    cfg.weights = os.path.join(run_dir, 'model_final')
    _, threshold, _, test = val_threshold_and_test(cfg)
    at_val = verdict_rates(test['defective'], test['defect_scores'], threshold) \
        if threshold is not None else None
    model_dir = export(cfg, os.path.join(cfg.save_dir, 'export'))
    paths = [r['im_file'] for r in dataset_split('test').roidbs[:speed_images]]
    size_mb, exported_ips = exported_speed(model_dir, paths)
    row = {'label': label, 'role': role, 'config': cfg.filename,
           'train_seconds': summary['seconds'], 'epochs': summary['epochs'],
           'num_train_images': summary['num_train_images'],
           'refinement': summary.get('refinement', []),
           'infer_images_per_second': test['num_images'] / test['seconds'],
           'model_size_mb': size_mb, 'exported_images_per_second': exported_ips,
           'test': test, 'val_threshold': threshold, 'test_at_val_threshold': at_val,
           'provenance': provenance(repo_dir)}
    write_json_atomic(os.path.join(results_dir, f'{cfg.filename}.json'), row)
    return row


def pseudo_box_row(path):
    """The stage-2 benchmark's pseudo boxes on the test split (from
    ``tools/benchmark_pseudo_boxes.py``'s results json) as a table row."""
    with open(path, encoding='utf-8') as f:
        run = json.load(f)
    return {'label': f'(a) pseudo boxes alone: {run["label"]}, {run["method"]}',
            'map50': run['map50'], 'map50_95': run['map50_95'],
            'agnostic_map50': run['agnostic_map50'], 'command': run['command'],
            'commit': run['commit']}


def render_detector_section(results_dir, pseudo_json, doc_path, key, title, notes):
    """Rewrite the ``key`` section of ``doc_path`` from every row in ``results_dir``."""
    rows = [json.load(open(os.path.join(results_dir, n), encoding='utf-8'))
            for n in sorted(os.listdir(results_dir)) if n.endswith('.json')]
    supervised = [r for r in rows if r['role'] == 'supervised']
    full = supervised[0]['test']['det_map50'] if supervised else None
    lines = list(notes) + [f'- machine: {machine_summary()}', '',
                           '| run | mAP@0.5 | mAP@[.5:.95] | class-agnostic mAP@0.5 | weak / full '
                           '(mAP@0.5) | miss / over-kill at 0.5 | miss / over-kill at the val '
                           'threshold | image AUROC | training wall time | exported model: MiB, '
                           'img/s (1 image at a time) |',
                           '|---|---|---|---|---|---|---|---|---|---|']
    if pseudo_json and os.path.isfile(pseudo_json):
        p = pseudo_box_row(pseudo_json)
        ratio = p['map50'] / full if full else None
        lines.append(f'| {p["label"]} | {_fmt(p["map50"])} | {_fmt(p["map50_95"])} | '
                     f'{_fmt(p["agnostic_map50"])} | {_fmt(ratio, 2)} | n/a | n/a | n/a | n/a | '
                     f'n/a |')
    for r in sorted(rows, key=lambda r: (r['role'] == 'supervised', r['label'])):
        t = r['test']
        ratio = t['det_map50'] / full if full and r['role'] == 'weak' else None
        lines.append(f'| {r["label"]} | {_fmt(t["det_map50"])} | {_fmt(t["det_map50_95"])} | '
                     f'{_fmt(t["det_map50_agnostic"])} | {_fmt(ratio, 2)} | '
                     f'{_fmt(t["miss_rate"])} / {_fmt(t["overkill_rate"])} | {_at_val(r)} | '
                     f'{_fmt(t["image_auroc"])} | {r["train_seconds"]:.0f} s ({r["epochs"]} '
                     f'epochs) | {_exported(r)} |')
    lines += ['', '| run | ' + ' | '.join(f'AP50 {c}' for c in _classes(rows)) +
              ' | verdict from MIL alone: miss / over-kill | from boxes alone: miss / over-kill |',
              '|---|' + '---|' * (len(_classes(rows)) + 2)]
    for r in rows:
        t, sources = r['test'], r['test']['verdict_sources']
        per_class = t['boxes']['per_class_ap50']
        lines.append(f'| {r["label"]} | ' + ' | '.join(_fmt(per_class[c]) for c in _classes(rows))
                     + f' | {_fmt(sources["mil"]["miss_rate"])} / '
                       f'{_fmt(sources["mil"]["overkill_rate"])} | '
                       f'{_fmt(sources["detections"]["miss_rate"])} / '
                       f'{_fmt(sources["detections"]["overkill_rate"])} |')
    lines += ['', 'Refinement (boxes of the training images re-mined by the EMA teacher):', '']
    for r in rows:
        for h in r['refinement']:
            lines.append(f'- {r["label"]}: after epoch {h["epoch"]}: {h["boxes_before"]} -> '
                         f'{h["boxes_after"]} boxes, {h["images_changed"]} of {h["images"]} '
                         f'images changed')
    lines += ['', 'Commands (each row: its command and commit):', '']
    if pseudo_json and os.path.isfile(pseudo_json):
        p = pseudo_box_row(pseudo_json)
        lines.append(f'- (a): `{p["command"]}` at `{p["commit"]}`')
    for r in rows:
        lines += [f'- {r["label"]}:'] + [f'  {line}' for line in r['provenance']]
    write_section(doc_path, key, title, lines)


def _at_val(row):
    rates = row.get('test_at_val_threshold')
    if not rates:
        return 'not measured'
    return (f'{_fmt(rates["miss_rate"])} / {_fmt(rates["overkill_rate"])} '
            f'(t = {rates["threshold"]:.3f})')


def _exported(row):
    if 'model_size_mb' not in row:
        return 'not measured'
    return f'{row["model_size_mb"]:.1f} MiB, {row["exported_images_per_second"]:.1f} img/s'


def _classes(rows):
    return list(rows[0]['test']['boxes']['per_class_ap50']) if rows else []

