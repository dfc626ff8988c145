"""Benchmark of the whole pipeline: run it into a fresh folder and put every report number,
the wall time per stage, the command, the commit and the machine into docs/benchmarks.md."""
import os

from ..pipeline.runner import run_pipeline
from .report import write_section

KEYS = ('verdict_source', 'image_auroc', 'image_ap', 'miss_rate', 'overkill_rate',
        'verdict_threshold', 'cam_maxboxacc_v2', 'cam_pxap', 'pseudo_map50', 'det_map50',
        'det_map50_95', 'det_map50_agnostic', 'fit_map50', 'good_images_boxed',
        'few_boxes_used', 'images_per_second_infer', 'model_size_mb')


def _fmt(value):
    if value is None:
        return 'n/a'
    return f'{value:.3f}' if isinstance(value, float) else str(value)


def pipeline_section(report, name):
    """Markdown lines of one pipeline report."""
    seconds = report['seconds_per_stage']
    total = sum(s for s in seconds.values() if s is not None)
    data = report['dataset']
    lines = [f'- command: `{report["command"]}`', f'- commit: `{report["commit"]}`',
             f'- machine: {report["machine"]}', f'- date: {report["date"]}',
             f'- data: `{data["dataset_dir"]}`: {data["images"]["train"]} train / '
             f'{data["images"]["val"]} val / {data["images"]["test"]} test images, classes '
             f'{data["classes"]}; detector input {data["input_canvas"][1]}x{data["input_canvas"][0]} '
             f'px, aspect kept (short side {data["input_size_source"]})',
             f'- wall time: **{total / 60:.1f} min** for the six stages ('
             + ', '.join(f'{k} {v:.0f} s' for k, v in seconds.items() if v is not None) + ')'
             + (f'; resumed stages (time of the finishing attempt only): '
                f'{report["resumed_stages"]}' if report['resumed_stages'] else ''),
             f'- image verdict from the {report["verdict_source"]} (val AUROC '
             f'{report["verdict_val_auroc"]}), threshold {_fmt(report["verdict_threshold"])} '
             f'chosen on: {report["threshold_source"]}; the detector\'s own operating threshold '
             f'{_fmt(report["operating_threshold"])}; every number below is on the test split '
             f'(fit_map50: train split against the pseudo boxes), measured '
             f'once; no ground-truth box was read for training or for any threshold '
             f'(few_boxes_used = {report["few_boxes_used"]})',
             '', '| ' + ' | '.join(KEYS) + ' |', '|' + '---|' * len(KEYS),
             '| ' + ' | '.join(_fmt(report[k]) for k in KEYS) + ' |', '']
    per_class = report['detector']['per_class_ap50'] or {}
    fit = report['detector']['fit_to_targets'].get('per_class_ap50') or {}
    loc = (report['localization'] or {}).get('per_class_ap50') or {}
    lines += ['| class | pseudo-box AP50 | detector AP50 | detector AUROC | detector fit AP50 '
              '(train, its own boxes) |', '|---|---|---|---|---|']
    for c in data['classes']:
        auroc = (report['detector']['per_class'].get(c) or {}).get('auroc')
        lines.append(f'| {c} | {_fmt(loc.get(c))} | {_fmt(per_class.get(c))} | {_fmt(auroc)} | '
                     f'{_fmt(fit.get(c))} |')
    lines += ['', f'Report: `{os.path.join(report["config"]["output_dir"], "report.html")}` '
              f'({name}).']
    return lines


def benchmark_pipeline(spec, command_line, doc_path, key):
    """Run the pipeline of ``spec`` and write its section ``key`` of ``doc_path``."""
    report = run_pipeline(spec, command_line)
    write_section(doc_path, f'pipeline:{key}', f'Whole pipeline on {key}',
                  pipeline_section(report, key))
    return report
