"""Benchmark of stages 1-2 (patch evidence) on a dataset's test split, with an ablation.

The model is fitted once, as the pipeline's ``classifier`` stage fits it (train + val
only); every variant is then measured with the pipeline's own measuring function
(:func:`ppdet_wsd.pipeline.evidence_stages.measure_test`). Ground truth is read to
measure only.
"""
import copy
import json
import os
import time

from ppdet_wsd_runtime.evidence_input import InputGeometry
from ppdet_wsd_runtime.image_io import read_image_rgb

from ..evidence.features import FeatureExtractor
from ..evidence.fit import calibrate
from ..evidence.model import ANY_CLASS
from ..evidence.normality import NormalityBank
from ..pipeline.box_truth import dataset_box_mode
from ..pipeline.evidence_stages import fit_model, load_dataset, measure_test, split_items
from ..utils.provenance import git_commit, machine_summary
from .report import provenance, write_section

VARIANTS = {
    'fused': 'default: normality map, level from good val images, class by the patch '
             'classifier, boxes tightened to contrast and grown along thin lines',
    'fused_edge_blind': 'the same without the edge rules (the map before 2026-11-29): a '
                        'uniform bank sample, no scale by distance from the image edge',
    'fused_untightened': 'the same, boxes not tightened',
    'fused_straight': 'the same, boxes not grown along thin lines (before 2026-12-01)',
    'fused_ungrouped': 'the same, fragments not grouped by the coarse map (before '
                       '2026-11-30)',
    'fused_peak_relative': 'the same without the good-image level: every labelled image '
                           'gets its strongest region only, cut relative to its own peak',
    'normality': 'normality alone (every labelled class gets the same map and boxes)',
    'mil': 'patch classifier alone (per-class probability maps, levels from val images '
           'without the class)',
}

# the variants that switch one box step off: PatchEvidence setting and its "off" value
STEP_OFF = {'fused_untightened': ('tighten_boxes', False),
            'fused_straight': ('grow_lines', False),
            'fused_ungrouped': ('group_cells', 0)}


def _edge_blind_bank(model, store, images, image_root):
    """The model's normality bank refitted as before the edge rules: a uniform sample of
    the good training images' patches, no position scale."""
    good = [model.standardise(store.get(os.path.join(image_root, im.file)).patches)
            for im in images if im.split == 'train' and not im.labels]
    return NormalityBank(model.settings['bank_patches'], model.settings['seed'],
                         edge_share=None).fit(good)


def _variant(model, name, val_items, edge_blind_bank=None):
    """A copy of the fitted model changed as variant ``name`` describes
    (``edge_blind_bank``: a callable returning the bank of ``fused_edge_blind``)."""
    variant = copy.copy(model)
    variant.settings = dict(model.settings)
    if name == 'fused_edge_blind':
        variant.bank = edge_blind_bank()
        variant.levels = calibrate(variant, val_items)
    elif name in STEP_OFF:
        key, value = STEP_OFF[name]
        variant.settings[key] = value
    elif name == 'fused_peak_relative':
        levels = copy.copy(model.levels[ANY_CLASS])
        levels.level = None
        variant.levels = {ANY_CLASS: levels}
    elif name in ('normality', 'mil'):
        variant.heat_map = name
        variant.levels = calibrate(variant, val_items)
    return variant


def extraction_seconds(image_paths, geometry):
    """Seconds per image of decoding + frozen feature extraction (the plain forward pass
    every heat map needs), on ``image_paths``."""
    extractor = FeatureExtractor(geometry)
    extractor(read_image_rgb(image_paths[0]))  # warm-up
    tic = time.perf_counter()
    for path in image_paths:
        extractor(read_image_rgb(path))
    return (time.perf_counter() - tic) / len(image_paths)


def benchmark_evidence(dataset_dir, output_dir, settings, variants, repo_dir, timing_images=30):
    """Fit, then measure each variant on the test split; one JSON per variant in
    ``output_dir/results``. Returns ``{variant: result}``."""
    if not set(variants) <= set(VARIANTS) or not variants:
        raise ValueError(f'variants must be among {list(VARIANTS)}, got {variants}')
    tic = time.time()
    model, store = fit_model(dataset_dir, output_dir, settings)
    fit_seconds = time.time() - tic
    images, image_root, classes = load_dataset(dataset_dir)
    test = [im.file for im in images if im.split == 'test']
    box_mode = dataset_box_mode(dataset_dir, classes, test)['mode']
    val_items = split_items(store, images, image_root, classes, 'val') \
        if set(variants) & {'normality', 'mil', 'fused_edge_blind'} else None
    per_image = extraction_seconds([os.path.join(image_root, f) for f in test[:timing_images]],
                                   InputGeometry(**model.geometry))
    results = {}
    for name in variants:
        if name != 'mil' and model.bank is None:
            continue  # no good training image: only the patch classifier's maps exist
        variant = _variant(model, name, val_items,
                           lambda: _edge_blind_bank(model, store, images, image_root))
        report = measure_test(variant, store, dataset_dir, box_mode)
        report.update(variant=name, description=VARIANTS[name], dataset=dataset_dir,
                      box_mode=box_mode, fit_seconds=fit_seconds,
                      short_side=model.geometry['short_side'], heat_map_fitted=model.heat_map,
                      extraction_seconds_per_image=per_image,
                      settings=model.settings, commit=git_commit(repo_dir),
                      machine=machine_summary())
        os.makedirs(os.path.join(output_dir, 'results'), exist_ok=True)
        with open(os.path.join(output_dir, 'results', f'{name}.json'), 'w') as f:
            json.dump(report, f, indent=1, default=float)
        results[name] = report
    return results


def _num(v, scale=1.0, digits=3):
    return '-' if v is None else f'{v * scale:.{digits}f}'


def render_evidence_section(results, doc_path, key, title, repo_dir, notes):
    """Write the table of :func:`benchmark_evidence` results into ``doc_path``."""
    any_result = next(iter(results.values()))
    classes = any_result['classes']
    lines = provenance(repo_dir) + [
        f'- dataset: `{any_result["dataset"]}`, test split, {any_result["num_images"]} images; '
        f'box evaluation mode {any_result["box_mode"]}; input short side '
        f'{any_result["short_side"]} px; fitted map `{any_result["heat_map_fitted"]}`; '
        f'fit (features of train + val, probe, patch classifier, bank, levels) '
        f'{any_result["fit_seconds"]:.0f} s',
        f'- feature extraction (decode + frozen backbone, one image at a time): '
        f'{1 / any_result["extraction_seconds_per_image"]:.1f} images/s', ''] + notes + [
        '',
        '| variant | image AUROC | MaxBoxAccV2 | PxAP | pseudo mAP@0.5 | class-agnostic | CorLoc '
        '| good test images boxed | maps+boxes img/s | ' +
        ' | '.join(f'AP50 {c}' for c in classes) + ' |',
        '|' + '---|' * (9 + len(classes))]
    for name, r in results.items():
        loc = r['localization'] or {}
        per_class = loc.get('per_class_ap50') or {}
        lines.append(
            f'| {name} | {_num(r["image_auroc"])} | '
            f'{_num((loc.get("maxboxacc_v2") or {}).get("maxboxacc_v2"), digits=1)} | '
            f'{_num(loc.get("pxap"))} | {_num(loc.get("map50"))} | '
            f'{_num(loc.get("agnostic_map50"))} | {_num(loc.get("corloc"))} | '
            f'{_num(r["good_images_boxed"])} | {r["heat_map_images_per_second"]:.1f} | ' +
            ' | '.join(_num(per_class.get(c), digits=2) for c in classes) + ' |')
    lines += [''] + [f'- `{name}`: {VARIANTS[name]}' for name in results]
    write_section(doc_path, key, title, lines)
