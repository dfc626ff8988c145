"""Localisation numbers of one run of heat maps and pseudo boxes against the truth, as the
pipeline's measuring stage and the benchmarks report them (evaluation only)."""
import numpy as np

from .box_mode import CLASS_AGNOSTIC, CLASS_AWARE
from .localization import box_acc_at, coco_box_map, corloc, max_box_acc_v2, pxap


def localization_metrics(run, truth, classes, all_contours, rule_threshold,
                         box_mode=CLASS_AWARE):
    """Localisation metrics of one collected run on the images that have box truth;
    BoxAcc at ``rule_threshold`` when the run used one relative threshold (else None).
    ``truth`` may hold more images than the run (e.g. the whole dataset): only the run's
    images are measured, so the boxes of images never boxed do not count as misses.
    ``box_mode`` (:mod:`ppdet_wsd.metrics.box_mode`): class-agnostic measures every true
    box of an image against its pseudo boxes of any class (``map50`` is then the
    class-agnostic mAP, ``per_type_ap50`` its detail per true box type)."""
    agnostic_mode = box_mode == CLASS_AGNOSTIC
    truth = {f: truth[f] for f in run['files']}
    keep = [i for i, f in enumerate(run['files'])
            if run['heat'][i] is not None and truth[f].loc_gt and len(truth[f].boxes)]
    heat = [run['heat'][i] for i in keep]
    gt = [truth[run['files'][i]].boxes for i in keep]
    masks = [truth[run['files'][i]].mask() for i in keep]
    with_mask = [j for j, m in enumerate(masks) if m is not None]
    predictions = [dict(b, file=f) for f, boxes in zip(run['files'], run['boxes']) for b in boxes]
    agnostic = coco_box_map(predictions, truth, classes, class_agnostic=True)
    mine = agnostic if agnostic_mode else coco_box_map(predictions, truth, classes)
    pred_by_class = [{c: (np.array([b['box'] for b in boxes if b['class'] == c]).reshape(-1, 4),
                          np.array([b['score'] for b in boxes if b['class'] == c]))
                      for c in run['labels'][i]} for i, boxes in enumerate(run['boxes'])]
    gt_by_class = [{c: truth[f].boxes if agnostic_mode else
                    truth[f].boxes[np.array(truth[f].labels) == c] for c in run['labels'][i]}
                   if truth[f].loc_gt else {} for i, f in enumerate(run['files'])]
    results = {
        'images': len(keep),
        'maxboxacc_v2': max_box_acc_v2(heat, gt, all_contours=all_contours),
        'box_acc_at_rule': box_acc_at(heat, gt, rule_threshold, all_contours=all_contours)
        if rule_threshold is not None else None,
        'pxap': pxap([heat[j] for j in with_mask], [masks[j] for j in with_mask])['pxap']
        if with_mask else None,
        'map50': mine['map50'], 'map50_95': mine['map50_95'], 'per_class_ap50': mine['per_class_ap50'],
        'agnostic_map50': agnostic['map50'], 'per_type_ap50': agnostic['per_type_ap50'],
        'box_mode': box_mode,
        'corloc': corloc(pred_by_class, gt_by_class)['corloc'],
        'per_class': {}}
    for c in classes:
        idx = [j for j, i in enumerate(keep) if c in run['labels'][i]]
        if idx:
            results['per_class'][c] = {
                'images': len(idx),
                'maxboxacc_v2': max_box_acc_v2([heat[j] for j in idx], [gt[j] for j in idx],
                                               all_contours=all_contours)['maxboxacc_v2'],
                'pxap': pxap([heat[j] for j in idx if masks[j] is not None],
                             [masks[j] for j in idx if masks[j] is not None])['pxap']
                if any(masks[j] is not None for j in idx) else None}
    return results
