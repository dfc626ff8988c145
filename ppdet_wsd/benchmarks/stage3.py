"""Benchmark of stage 3: the pipeline's own detector stages, run as variants beside a
finished pipeline run (its stages 1-2 are shared, not redone), in one table with the
pseudo boxes they started from and the same recipe trained on the true boxes.

Variants (each its own output folder ``<run>_<variant>``, run by the pipeline runner):

* the run itself: the default pipeline (no refinement since it did not show a gain);
* ``refinement``: the same detector with the EMA-teacher refinement turned on;
* ``supervised``: the same recipe (input canvas, anchors from its boxes) on the **true**
  boxes of ``annotations.json``, no refinement, for twice the pipeline's steps (at the
  pipeline's own schedule it was far from converged: magnetic tile val mAP@0.5 0.54 vs
  0.80 at twice the steps, docs/detector.md): the yardstick of the weak detector. Only
  this row reads ground-truth boxes for training, and says so.

With extra ``seeds``, the weak detector with and without refinement is trained again with
each seed (``<run>_seed<s>``, ``<run>_refinement_seed<s>``: the head's initialisation
and each epoch's draw of good images change), so the table shows how far one recipe's
test mAP moves between runs before two recipes are compared.
"""
import copy
import json
import os
import shutil
from typing import NamedTuple

from ..pipeline.runner import run_pipeline
from .report import write_section

SHARED_STAGES = ('classifier', 'classifier_eval', 'pseudo_boxes')


class Variant(NamedTuple):
    """A detector trained beside the run: its table label, the detector opts merged into
    the run's and the multiple of the run's ``detector.steps`` it trains for."""
    label: str
    opts: dict
    steps_factor: int = 1


VARIANTS = {
    'refinement': Variant('(c) weak detector with refinement', {'Refinement': {'enable': True}}),
    'supervised': Variant('(d) fully supervised: same inputs and head on the true boxes, '
                          'twice the steps', {'Refinement': {'enable': False}}, 2),
}
TRUE_BOXES = 'annotations.json'
SEEDED = {'default': Variant('(b) no refinement', {}),
          'refinement': Variant('(c) with refinement', VARIANTS['refinement'].opts)}


def _fmt(value, digits=3):
    return 'n/a' if value is None else f'{value:.{digits}f}'


def prepare_variant(run_dir, variant_dir):
    """Give ``variant_dir`` the finished stages 1-2 of ``run_dir`` (the feature cache
    linked, the stage folders copied), so the runner skips them. Stage folders a variant
    kept from an earlier run are replaced: stale ones would be run again inside the
    variant, and that would overwrite the true boxes the supervised variant trains on."""
    os.makedirs(variant_dir, exist_ok=True)
    features = os.path.join(variant_dir, 'features')
    if not os.path.exists(features):
        os.symlink(os.path.abspath(os.path.join(run_dir, 'features')), features)
    for stage in SHARED_STAGES:
        target = os.path.join(variant_dir, stage)
        if os.path.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(os.path.join(run_dir, stage), target, symlinks=True)


def variant_spec(spec, variant_dir, opts, steps_factor=1):
    """``spec`` writing into ``variant_dir`` with the detector opts ``opts`` merged in and
    ``steps_factor`` times its ``detector.steps`` (a budget of None stays None)."""
    out = copy.deepcopy(spec)
    out['output_dir'] = variant_dir
    out['detector']['opts'] = dict(out['detector']['opts'] or {}, **opts)
    if out['detector'].get('steps'):
        out['detector']['steps'] = int(out['detector']['steps'] * steps_factor)
    return out


def _report_in(folder):
    """The ``report.json`` of a run folder with ``folder`` added, or None."""
    path = os.path.join(folder, 'report.json')
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return dict(json.load(f), folder=folder)


def variant_report(spec, name):
    """The report of variant ``name`` of ``spec``'s run, or None when it has not run."""
    return _report_in(f'{spec["output_dir"].rstrip(os.sep)}_{name}')


def finished_reports(spec, default=None):
    """``{name: report}`` of ``spec``'s run (``'default'``; ``default`` when the caller
    holds it already, else read) and of its variants of :data:`VARIANTS`, as their
    folders hold them (None: not run)."""
    if default is None:
        default = _report_in(spec['output_dir'].rstrip(os.sep))
    reports = {'default': default}
    reports.update({name: variant_report(spec, name) for name in VARIANTS})
    return reports


def run_variants(spec, command_line, names=tuple(VARIANTS)):
    """Run the pipeline of ``spec`` (stages 1-6; skipped when finished) and then the
    variants ``names`` of :data:`VARIANTS`; returns ``{name: report}`` with the run under
    ``'default'`` and the reports of variants run earlier (None if never run)."""
    reports = finished_reports(spec, default=run_pipeline(spec, command_line))
    for name in names:
        variant = VARIANTS[name]
        variant_dir = f'{spec["output_dir"].rstrip(os.sep)}_{name}'
        prepare_variant(spec['output_dir'], variant_dir)
        if name == 'supervised':  # the only training that reads true boxes
            shutil.copyfile(os.path.join(spec['dataset_dir'], TRUE_BOXES),
                            os.path.join(variant_dir, 'pseudo_boxes', 'pseudo_boxes.json'))
        reports[name] = run_pipeline(
            variant_spec(spec, variant_dir, variant.opts, variant.steps_factor), command_line)
    return reports


def seed_dir(spec, name, seed):
    """The output folder of weak recipe ``name`` (:data:`SEEDED`) trained with ``seed``."""
    stem = spec['output_dir'].rstrip(os.sep)
    return f'{stem}_seed{seed}' if name == 'default' else f'{stem}_{name}_seed{seed}'


def run_seeds(spec, command_line, seeds):
    """Train the weak recipes of :data:`SEEDED` again with each of ``seeds`` beside the
    run (stages 1-2 shared); returns ``{(name, seed): report}``, with the reports of seeds
    run earlier (whatever ``seeds`` says) read back."""
    reports = {}
    for name, variant in SEEDED.items():
        for seed in seeds:
            folder = seed_dir(spec, name, seed)
            prepare_variant(spec['output_dir'], folder)
            reports[(name, seed)] = run_pipeline(
                variant_spec(spec, folder, dict(variant.opts, seed=int(seed))), command_line)
    stem = os.path.basename(spec['output_dir'].rstrip(os.sep))
    parent = os.path.dirname(spec['output_dir'].rstrip(os.sep)) or '.'
    for entry in sorted(os.listdir(parent)):
        for name in SEEDED:
            prefix = f'{stem}_seed' if name == 'default' else f'{stem}_{name}_seed'
            if entry.startswith(prefix) and entry[len(prefix):].isdigit():
                seed = int(entry[len(prefix):])
                report = None if (name, seed) in reports else \
                    _report_in(os.path.join(parent, entry))
                if report is not None:
                    reports[(name, seed)] = report
    return reports


def seed_lines(reports, seeded):
    """The spread table: per weak recipe, test mAP@0.5, fit and detector val-chosen
    AUROC of the run itself (its config's seed) and of every extra seed."""
    if not seeded:
        return []
    lines = ['Spread between runs of one recipe (same pseudo boxes, seeds differ):', '',
             '| recipe | seeds | test mAP@0.5 per seed | mean | min - max | fit (train mAP@0.5) '
             'mean | detector image AUROC mean |', '|---|---|---|---|---|---|---|']
    for name, variant in SEEDED.items():
        runs = [(None, reports.get(name))] + sorted(
            (seed, r) for (n, seed), r in seeded.items() if n == name)
        runs = [(seed, r) for seed, r in runs if r is not None and r['det_map50'] is not None]
        if not runs:
            continue
        maps = [r['det_map50'] for _, r in runs]
        fits = [r['fit_map50'] for _, r in runs if r['fit_map50'] is not None]
        aurocs = [(r['detector'] or {}).get('image_auroc') for _, r in runs]
        aurocs = [a for a in aurocs if a is not None]
        names = ', '.join('run' if seed is None else str(seed) for seed, _ in runs)
        lines.append(f'| {variant.label} | {names} | {", ".join(_fmt(m) for m in maps)} | '
                     f'{_fmt(sum(maps) / len(maps))} | {_fmt(min(maps))} - {_fmt(max(maps))} | '
                     f'{_fmt(sum(fits) / len(fits) if fits else None)} | '
                     f'{_fmt(sum(aurocs) / len(aurocs) if aurocs else None)} |')
    return lines + ['']


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
             _row('(b) weak detector, no refinement (the default pipeline)', default, full),
             _row(VARIANTS['refinement'].label, reports['refinement'], full),
             _row(VARIANTS['supervised'].label, reports['supervised'], full), '',
             '| run | ' + ' | '.join(f'AP50 {c}' for c in classes) + ' |',
             '|---|' + '---|' * len(classes),
             '| (a) pseudo boxes | ' + ' | '.join(
                 _fmt((loc.get('per_class_ap50') or {}).get(c)) for c in classes) + ' |']
    for name, label in (('default', '(b)'), ('refinement', '(c)'), ('supervised', '(d)')):
        per_class = ((reports[name] or {}).get('detector') or {}).get('per_class_ap50') or {}
        lines.append(f'| {label} | ' + ' | '.join(_fmt(per_class.get(c)) for c in classes) + ' |')
    val = ', '.join(f'{k} {_fmt(v)}' for k, v in (default['verdict_val_auroc'] or {}).items())
    lines += ['', f'Pipeline verdict (b): source **{default["verdict_source"]}** (val AUROC '
              f'{val}), test miss {_fmt(default["miss_rate"])} / '
              f'over-kill {_fmt(default["overkill_rate"])} at {_fmt(default["verdict_threshold"])}'
              f' (chosen on val).', '']
    return lines


def benchmark_stage3(spec, command_line, doc_path, key, header, names=tuple(VARIANTS),
                     seeds=(), render_only=False):
    """Run :func:`run_variants` (and :func:`run_seeds` with ``seeds``) and write section
    ``stage3:<key>`` of ``doc_path``; ``render_only`` runs nothing and writes the section
    from the reports the folders hold."""
    if render_only:
        reports = finished_reports(spec)
        if reports['default'] is None:
            raise FileNotFoundError(f'{spec["output_dir"]}: no report.json to render')
        seeded = run_seeds(spec, command_line, ())
    else:
        reports = run_variants(spec, command_line, names)
        seeded = run_seeds(spec, command_line, seeds)
    classes = reports['default']['dataset']['classes']
    lines = list(header) + [''] + stage3_lines(reports, classes) + seed_lines(reports, seeded) + [
        'Reports: ' + ', '.join(f'`{r.get("folder", r["config"]["output_dir"])}/report.html` '
                                f'({r.get("commit")})' for r in reports.values() if r)
        + ' (each with its own command, commit and wall times in report.json)']
    write_section(doc_path, f'stage3:{key}', f'Stage 3 on {key}: weak vs full, same recipe',
                  lines)
    return reports
