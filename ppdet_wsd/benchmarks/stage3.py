"""Benchmark of stage 3: the pipeline's own detector stages, run as variants beside a
finished pipeline run (its stages 1-2 are shared, not redone), in one table with the
pseudo boxes they started from and the same recipe trained on the true boxes.

Variants (each its own output folder ``<run>_<variant>``, run by the pipeline runner):

* ``no_refinement``: the default detector without the EMA-teacher refinement;
* the run itself: the default pipeline (refinement on);
* ``supervised``: the same recipe (input canvas, anchors from its boxes, schedule) on the
  **true** boxes of ``annotations.json``, no refinement: the yardstick of the weak
  detector. Only this row reads ground-truth boxes for training, and says so.
"""
import copy
import json
import os
import shutil

from ..pipeline.runner import run_pipeline
from .report import write_section

SHARED_STAGES = ('classifier', 'classifier_eval', 'pseudo_boxes')
VARIANTS = {
    'no_refinement': ('(b) weak detector, no refinement', {'Refinement': {'enable': False}}),
    'supervised': ('(d) fully supervised: same recipe on the true boxes',
                   {'Refinement': {'enable': False}}),
}
TRUE_BOXES = 'annotations.json'


def _fmt(value, digits=3):
    return 'n/a' if value is None else f'{value:.{digits}f}'


def prepare_variant(run_dir, variant_dir):
    """Give ``variant_dir`` the finished stages 1-2 of ``run_dir`` (the feature cache
    linked, the stage folders copied), so the runner skips them."""
    os.makedirs(variant_dir, exist_ok=True)
    features = os.path.join(variant_dir, 'features')
    if not os.path.exists(features):
        os.symlink(os.path.abspath(os.path.join(run_dir, 'features')), features)
    for stage in SHARED_STAGES:
        target = os.path.join(variant_dir, stage)
        if not os.path.isdir(target):
            shutil.copytree(os.path.join(run_dir, stage), target, symlinks=True)


def variant_spec(spec, variant_dir, opts):
    """``spec`` writing into ``variant_dir`` with the detector opts ``opts`` merged in."""
    out = copy.deepcopy(spec)
    out['output_dir'] = variant_dir
    out['detector']['opts'] = dict(out['detector']['opts'] or {}, **opts)
    return out


def variant_report(spec, name):
    """The report of variant ``name`` of ``spec``'s run, or None when it has not run."""
    path = os.path.join(f'{spec["output_dir"].rstrip(os.sep)}_{name}', 'report.json')
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def run_variants(spec, command_line, names=tuple(VARIANTS)):
    """Run the pipeline of ``spec`` (stages 1-6; skipped when finished) and then the
    variants ``names`` of :data:`VARIANTS`; returns ``{name: report}`` with the run under
    ``'default'`` and the reports of variants run earlier (None if never run)."""
    reports = {'default': run_pipeline(spec, command_line)}
    reports.update({name: variant_report(spec, name) for name in VARIANTS})
    for name in names:
        opts = VARIANTS[name][1]
        variant_dir = f'{spec["output_dir"].rstrip(os.sep)}_{name}'
        prepare_variant(spec['output_dir'], variant_dir)
        if name == 'supervised':  # the only training that reads true boxes
            shutil.copyfile(os.path.join(spec['dataset_dir'], TRUE_BOXES),
                            os.path.join(variant_dir, 'pseudo_boxes', 'pseudo_boxes.json'))
        reports[name] = run_pipeline(variant_spec(spec, variant_dir, opts), command_line)
    return reports


def _row(label, report, full_map50):
    if report is None:
        return f'| {label} | not run |' + ' |' * 8
    det = report['detector'] or {}
    seconds = report['seconds_per_stage']['detector']
    at = det.get('at_operating_threshold') or {}
    weak = report['det_map50']
    ratio = weak / full_map50 if weak is not None and full_map50 else None
    return (f'| {label} | {_fmt(weak)} | {_fmt(report["det_map50_95"])} | '
            f'{_fmt(report["det_map50_agnostic"])} | {_fmt(ratio, 2)} | '
            f'{_fmt(report["fit_map50"])} | {_fmt(at.get("miss_rate"))} / '
            f'{_fmt(at.get("overkill_rate"))} | {_fmt(det.get("image_auroc"))} | '
            f'{_fmt(seconds, 0)} s | {_fmt(report["images_per_second_infer"], 1)} |')


def stage3_lines(reports, classes):
    """The markdown table (and per-class table, refinement rounds) of :func:`run_variants`."""
    default = reports['default']
    full = (reports['supervised'] or {}).get('det_map50')
    loc = default['localization'] or {}
    lines = ['| run | mAP@0.5 | mAP@[.5:.95] | class-agnostic mAP@0.5 | weak / full | '
             'fit to own targets (train mAP@0.5) | detector miss / over-kill at its val '
             'threshold | detector image AUROC | detector stage time | exported img/s |',
             '|---|---|---|---|---|---|---|---|---|---|',
             f'| (a) pseudo boxes alone (made for the test images from their labels) | '
             f'{_fmt(loc.get("map50"))} | {_fmt(loc.get("map50_95"))} | n/a | '
             f'{_fmt(loc.get("map50") / full if loc.get("map50") is not None and full else None, 2)}'
             f' | n/a | n/a | n/a | n/a | n/a |',
             _row(VARIANTS['no_refinement'][0], reports['no_refinement'], full),
             _row('(c) weak detector with refinement (the default pipeline)', default, full),
             _row(VARIANTS['supervised'][0], reports['supervised'], full), '',
             '| run | ' + ' | '.join(f'AP50 {c}' for c in classes) + ' |',
             '|---|' + '---|' * len(classes),
             '| (a) pseudo boxes | ' + ' | '.join(
                 _fmt((loc.get('per_class_ap50') or {}).get(c)) for c in classes) + ' |']
    for name, label in (('no_refinement', '(b)'), ('default', '(c)'), ('supervised', '(d)')):
        per_class = ((reports[name] or {}).get('detector') or {}).get('per_class_ap50') or {}
        lines.append(f'| {label} | ' + ' | '.join(_fmt(per_class.get(c)) for c in classes) + ' |')
    val = ', '.join(f'{k} {_fmt(v)}' for k, v in (default['verdict_val_auroc'] or {}).items())
    lines += ['', f'Pipeline verdict (c): source **{default["verdict_source"]}** (val AUROC '
              f'{val}), test miss {_fmt(default["miss_rate"])} / '
              f'over-kill {_fmt(default["overkill_rate"])} at {_fmt(default["verdict_threshold"])}'
              f' (chosen on val).', '']
    return lines


def benchmark_stage3(spec, command_line, doc_path, key, header, names=tuple(VARIANTS)):
    """Run :func:`run_variants` and write section ``stage3:<key>`` of ``doc_path``."""
    reports = run_variants(spec, command_line, names)
    classes = reports['default']['dataset']['classes']
    lines = list(header) + [''] + stage3_lines(reports, classes) + [
        'Reports: ' + ', '.join(f'`{r["config"]["output_dir"]}/report.html`'
                                for r in reports.values() if r) + ' (each with its own '
        'command, commit and wall times in report.json)']
    write_section(doc_path, f'stage3:{key}', f'Stage 3 on {key}: weak vs full, same recipe',
                  lines)
    return reports
