"""Fold a review into pseudo boxes (COCO dict, the format ``BoxLabelDataSet`` reads).

For every image the review touched:

* accepted boxes (as drawn, redrawn or relabelled) replace its pseudo boxes at full
  weight, ``score`` 1.0 (``"review": "accepted"`` on the annotation);
* rejected boxes are gone;
* boxes still ``pending`` stay with their pseudo score (``"review": "pending"``);
* "no defect visible": no box, and the image entry gets ``"review": "no_defect"``; its
  file is listed in ``info.excluded_images``, which ``BoxLabelDataSet`` leaves out of
  training (the image leaves the training set of its classes).

Images the review did not touch keep their pseudo boxes unchanged.
"""
import copy

from .decisions import is_done

NO_DEFECT = 'no_defect'


def review_summary(review, images):
    """Counts of a review over the images it can apply to.

    Args:
        review (dict): store format.
        images (dict[str, list[str]]): file -> its labelled classes.
    Returns:
        dict: ``images_reviewed`` (touched), ``images_done`` (nothing left pending),
        ``no_defect_images``, ``boxes_reviewed`` (accepted + rejected), ``boxes_accepted``,
        ``boxes_rejected``, ``boxes_redrawn``, ``boxes_relabelled``, ``boxes_added``,
        ``actions``, ``per_class`` ``{class: {'images', 'boxes'}}`` (images by label,
        accepted boxes by class).
    """
    records = {f: r for f, r in review['images'].items() if f in images}
    boxes = [b for r in records.values() for b in r['boxes']]
    per_class = {}
    for file, record in records.items():
        for c in images[file]:
            per_class.setdefault(c, {'images': 0, 'boxes': 0})['images'] += 1
        for b in record['boxes']:
            if b['state'] == 'accepted' and not record['no_defect']:
                per_class.setdefault(b['class'], {'images': 0, 'boxes': 0})['boxes'] += 1
    return {'images_reviewed': len(records),
            'images_done': sum(is_done(r) for r in records.values()),
            'no_defect_images': sum(r['no_defect'] for r in records.values()),
            'boxes_reviewed': sum(b['state'] != 'pending' for b in boxes),
            'boxes_accepted': sum(b['state'] == 'accepted' for b in boxes),
            'boxes_rejected': sum(b['state'] == 'rejected' for b in boxes),
            'boxes_redrawn': sum('redrawn' in b['edits'] for b in boxes),
            'boxes_relabelled': sum('relabelled' in b['edits'] for b in boxes),
            'boxes_added': sum(b['origin'] == 'drawn' for b in boxes),
            'actions': sum(r['actions'] for r in records.values()),
            'per_class': dict(sorted(per_class.items()))}


def apply_review(coco, review):
    """The pseudo boxes with the review folded in (module doc); ``coco`` is not changed.

    Args:
        coco (dict): COCO pseudo boxes (``images`` with ``file_name`` and
            ``image_labels``, ``annotations`` with ``bbox`` and ``score``, ``categories``).
        review (dict): store format; entries for files not in ``coco`` are ignored.
    Returns:
        tuple[dict, dict]: the merged COCO dict (``info.review`` = the summary,
        ``info.excluded_images`` = "no defect visible" files) and
        :func:`review_summary`.
    """
    out = copy.deepcopy(coco)
    cat_id = {c['name']: c['id'] for c in out['categories']}
    files = {im['id']: im['file_name'].replace('\\', '/') for im in out['images']}
    records = review['images']
    annotations = [a for a in out['annotations'] if files[a['image_id']] not in records]
    excluded = []
    for entry in out['images']:
        record = records.get(files[entry['id']])
        if record is None:
            continue
        if record['no_defect']:
            entry['review'] = NO_DEFECT
            excluded.append(files[entry['id']])
            continue
        entry['review'] = 'done' if is_done(record) else 'partial'
        for b in record['boxes']:
            if b['state'] == 'rejected':
                continue
            x1, y1, x2, y2 = b['box']
            annotations.append({'image_id': entry['id'], 'category_id': cat_id[b['class']],
                                'bbox': [x1, y1, x2 - x1, y2 - y1], 'area': (x2 - x1) * (y2 - y1),
                                'iscrowd': 0, 'review': b['state'],
                                'score': 1.0 if b['state'] == 'accepted' else b['score']})
    annotations.sort(key=lambda a: a['image_id'])
    for k, ann in enumerate(annotations, start=1):
        ann['id'] = k
    out['annotations'] = annotations
    summary = review_summary(review, {files[im['id']]: im.get('image_labels', [])
                                      for im in out['images']})
    out['info'] = dict(out.get('info') or {}, review=summary, excluded_images=excluded)
    return out, summary
