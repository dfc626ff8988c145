"""What one decision does to a review (see :mod:`ppdet_wsd.review.store` for the format).

A decision is a JSON object ``{"file": <file_name>, "action": <one of ACTIONS>, ...}``:

=============  ==========================  ===============================================
action         also needs                  effect on the image's review record
=============  ==========================  ===============================================
``accept``     ``box`` (id)                the box is right: ``accepted``
``reject``     ``box``                     the box is wrong: ``rejected``
``redraw``     ``box``, ``xyxy``           new corners, ``accepted`` (edit ``redrawn``)
``relabel``    ``box``, ``class``          new class, ``accepted`` (edit ``relabelled``)
``accept_all`` --                          every ``pending`` box ``accepted``
``add``        ``xyxy``, ``class``         a drawn box, ``accepted``
``no_defect``  ``value`` (bool)            "no defect visible" on / off
``reset``      --                          the image's record removed (back to unreviewed)
=============  ==========================  ===============================================
"""
import math

ACTIONS = ('accept', 'reject', 'redraw', 'relabel', 'accept_all', 'add', 'no_defect', 'reset')
BOX_ACTIONS = ('accept', 'reject', 'redraw', 'relabel')
MIN_SIDE = 1.0  # pixels: a drawn box must be at least this wide and high inside the image


class DecisionError(ValueError):
    """The decision is malformed (HTTP 400)."""


class UnknownItemError(LookupError):
    """The decision names an image or box that does not exist (HTTP 404)."""


def pseudo_snapshot(boxes):
    """Review boxes (all ``pending``) from an image's pseudo boxes.

    Args:
        boxes (list[dict]): ``{'class', 'box' [x1, y1, x2, y2], 'score'}`` in the
            pseudo-box file's order; box ``k`` gets id ``p<k>``.
    """
    return [{'id': f'p{k}', 'class': b['class'], 'box': [float(v) for v in b['box']],
             'score': float(b['score']), 'state': 'pending', 'origin': 'pseudo', 'edits': []}
            for k, b in enumerate(boxes)]


def _field(decision, key, kind, what):
    value = decision.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise DecisionError(f'"{decision["action"]}" needs "{key}": {what}')
    return value


def _corners(decision, width, height):
    """``xyxy`` of a decision clipped to the image: float ``[x1, y1, x2, y2]``."""
    xyxy = _field(decision, 'xyxy', list, 'four numbers x1, y1, x2, y2 in image pixels')
    if len(xyxy) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                 and math.isfinite(v) for v in xyxy):
        raise DecisionError('"xyxy" must be four finite numbers x1, y1, x2, y2')
    x1, x2 = sorted((min(max(float(xyxy[0]), 0.0), width), min(max(float(xyxy[2]), 0.0), width)))
    y1, y2 = sorted((min(max(float(xyxy[1]), 0.0), height),
                     min(max(float(xyxy[3]), 0.0), height)))
    if x2 - x1 < MIN_SIDE or y2 - y1 < MIN_SIDE:
        raise DecisionError(f'box {xyxy} is empty inside the {width}x{height} image')
    return [x1, y1, x2, y2]


def _class(decision, classes):
    name = _field(decision, 'class', str, f'one of {classes}')
    if name not in classes:
        raise DecisionError(f'unknown class "{name}" (classes: {classes})')
    return name


def apply_decision(review, image, decision, classes):
    """Apply one decision to ``review`` in place.

    Args:
        review (dict): the review (store format).
        image (dict): the image decided on: ``{'file', 'width', 'height', 'boxes'}``
            (its pseudo boxes, see :func:`pseudo_snapshot`).
        decision (dict): see the module table; ``decision['file'] == image['file']``.
        classes (list[str]): the classes a box may have.
    Returns:
        dict | None: the image's review record after the decision (None after ``reset``).
    Raises:
        DecisionError: unknown action, missing or malformed field, empty box, unknown class.
        UnknownItemError: the box id is not one of the image's boxes.
    """
    action = decision.get('action')
    if action not in ACTIONS:
        raise DecisionError(f'"action" must be one of {list(ACTIONS)}, got {action!r}')
    file = image['file']
    if action == 'reset':
        review['images'].pop(file, None)
        review['actions'] += 1
        return None
    record = review['images'].get(file) or {'no_defect': False, 'actions': 0,
                                            'boxes': pseudo_snapshot(image['boxes'])}
    boxes = record['boxes']
    if action in BOX_ACTIONS:
        box_id = _field(decision, 'box', str, 'the id of one of the image\'s boxes')
        box = next((b for b in boxes if b['id'] == box_id), None)
        if box is None:
            raise UnknownItemError(f'{file}: no box "{box_id}"')
        if action == 'redraw':
            box['box'] = _corners(decision, image['width'], image['height'])
        elif action == 'relabel':
            box['class'] = _class(decision, classes)
        if action in ('redraw', 'relabel'):
            edit = 'redrawn' if action == 'redraw' else 'relabelled'
            box['edits'] = sorted(set(box['edits']) | {edit})
        box['state'] = 'rejected' if action == 'reject' else 'accepted'
    elif action == 'accept_all':
        for box in boxes:
            if box['state'] == 'pending':
                box['state'] = 'accepted'
    elif action == 'add':
        xyxy = _corners(decision, image['width'], image['height'])
        number = sum(b['origin'] == 'drawn' for b in boxes)
        boxes.append({'id': f'd{number}', 'class': _class(decision, classes), 'box': xyxy,
                      'score': 1.0, 'state': 'accepted', 'origin': 'drawn', 'edits': []})
    else:  # no_defect
        record['no_defect'] = _field(decision, 'value', bool, 'true or false')
    record['actions'] += 1
    review['actions'] += 1
    review['images'][file] = record
    return record


def is_done(record):
    """True when a review record leaves nothing to decide ("no defect visible", or no
    box ``pending``); False for None (not reviewed)."""
    return bool(record) and (record['no_defect'] or
                             all(b['state'] != 'pending' for b in record['boxes']))
