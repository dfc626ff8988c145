"""The order of the checks: those that teach the most come first.

1. For each class in turn, the image holding that class's most confident pseudo box (a
   wrong one there is the costliest mistake: it is the box the detector trusts most).
2. Then the most uncertain images: ascending ``min |score - 0.5|`` over their boxes (a
   labelled image with no box counts as 0, the most uncertain), the classes taking turns
   (an image counts for its first labelled class) so every class advances together.

Good images (no label) get no pseudo box and are not in the queue.
"""


def _uncertainty(image):
    return min((abs(b['score'] - 0.5) for b in image['boxes']), default=0.0)


def review_order(images, classes):
    """Indices of ``images`` in review order.

    Args:
        images (list[dict]): ``{'file', 'labels' [class names], 'boxes' [{'class',
            'score' in [0, 1]}]}``.
        classes (list[str]): the class order.
    Returns:
        list[int]: every image with a label, each once; ties go by file name.
    """
    queue = [i for i, im in enumerate(images) if im['labels']]
    taken = []
    for c in classes:
        scored = [(max(b['score'] for b in images[i]['boxes'] if b['class'] == c), i)
                  for i in queue if i not in taken and
                  any(b['class'] == c for b in images[i]['boxes'])]
        if scored:
            taken.append(min(scored, key=lambda s: (-s[0], images[s[1]]['file']))[1])
    groups = {c: [] for c in classes}
    for i in queue:
        if i not in taken:
            groups[images[i]['labels'][0]].append(i)
    for members in groups.values():
        members.sort(key=lambda i: (_uncertainty(images[i]), images[i]['file']))
    turn = 0
    while any(turn < len(m) for m in groups.values()):
        taken += [m[turn] for m in groups.values() if turn < len(m)]
        turn += 1
    return taken
