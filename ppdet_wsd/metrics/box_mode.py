"""How boxes can be measured on a dataset: do the true boxes' categories match the image
label classes? Decided once, before training (the pipeline's dataset stage), and honoured by
every measuring step.

* ``class-aware``: every box category is a label class; a detection counts for its class.
* ``class-agnostic``: the boxes name other categories than the labels (labels coarser than
  the boxes, e.g. ``good`` / ``defect`` images with boxes of six types, or finer): every true
  box and every detection counts as one class ``defect``; per-type AP50 is extra detail.
* ``none``: no box to measure against (no ``annotations.json``, no box in it, or it does
  not list every test image); box numbers are ``null`` with this reason.
"""
CLASS_AWARE = 'class-aware'
CLASS_AGNOSTIC = 'class-agnostic'
NO_BOXES = 'none'
BOX_MODES = (CLASS_AWARE, CLASS_AGNOSTIC, NO_BOXES)


def box_classes(ground_truth):
    """Sorted category names of the boxes on images with ``loc_gt``."""
    return sorted({label for record in ground_truth.values() if record.loc_gt
                   for label in record.labels})


def box_evaluation_mode(label_classes, ground_truth, missing_reason='no annotations.json'):
    """Choose the box evaluation mode of a dataset.

    Args:
        label_classes (list[str]): the image-label classes (model outputs).
        ground_truth (dict[str, GroundTruthImage] | None): the dataset's boxes
            (:func:`ppdet_wsd.data.ground_truth.load_ground_truth`), None without them.
        missing_reason (str): the reason stated when ``ground_truth`` is None.
    Returns:
        dict: ``mode`` (one of :data:`BOX_MODES`), ``reason`` (str, one sentence),
        ``box_classes`` (sorted box category names).
    """
    if ground_truth is None:
        return {'mode': NO_BOXES, 'reason': missing_reason, 'box_classes': []}
    names = box_classes(ground_truth)
    if not names:
        return {'mode': NO_BOXES, 'reason': 'annotations.json has no box on an image with '
                                            'localisation ground truth', 'box_classes': []}
    extra = [n for n in names if n not in label_classes]
    if not extra:
        return {'mode': CLASS_AWARE, 'box_classes': names,
                'reason': 'every box category is an image-label class'}
    return {'mode': CLASS_AGNOSTIC, 'box_classes': names,
            'reason': f'box categories {extra} are not image-label classes {list(label_classes)}: '
                      f'every true box and every detection counts as one class "defect" '
                      f'(per-type AP50 as detail)'}
