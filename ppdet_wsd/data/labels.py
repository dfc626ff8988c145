"""Image-level labels of a dataset: which file is good, which shows which defect.

Two layouts are accepted (docs/datasets.md):

* standard: ``<root>/images/``, ``<root>/labels.csv`` (``file,label``; ``good`` or
  class names joined by ``;``) and optionally ``<root>/splits.csv`` (``file,split``);
* class folders: ``<root>/<label>/<image>`` with a folder named ``good`` for
  defect-free images.

Nothing here reads boxes or masks: image labels are the only supervision.
"""
import csv
import hashlib
import os
from dataclasses import dataclass

from ppdet_wsd_runtime.image_io import IMAGE_EXTENSIONS

from .check_cache import file_stamp


GOOD_LABEL = 'good'
LABEL_SEPARATOR = ';'
SPLITS = ('train', 'val', 'test')


MAX_LISTED = 30  # problems an error message lists; the check writes them all to a file
_PARSED = {}  # load_labeled_images of this process: key -> (images, image root)


class DatasetError(ValueError):
    """The dataset's files are inconsistent; the message names the file and row (every
    problem found, one a line, see :func:`raise_problems`)."""


def raise_problems(problems, limit=MAX_LISTED):
    """Raise one :class:`DatasetError` listing ``problems`` (strings naming file and
    line), the first ``limit`` of them in full; do nothing when there is none."""
    if not problems:
        return
    if len(problems) == 1:
        raise DatasetError(problems[0])
    listed = [f'  {p}' for p in problems[:limit]]
    if len(problems) > limit:
        listed.append(f'  ... and {len(problems) - limit} more')
    raise DatasetError(f'{len(problems)} problems:\n' + '\n'.join(listed))


@dataclass(frozen=True)
class LabeledImage:
    """One image and its defect classes.

    Attributes:
        file (str): path relative to the image folder, with ``/`` separators.
        labels (tuple[str, ...]): defect class names, sorted; empty for a good image.
        split (str | None): ``train``, ``val`` or ``test``; ``None`` until assigned.
    """
    file: str
    labels: tuple
    split: str = None


def file_key(path, image_root):
    """How the dataset's files name an image: ``path`` relative to ``image_root`` with
    ``/`` separators (the ``file`` of ``labels.csv`` / ``splits.csv`` and the
    ``file_name`` of ``annotations.json`` and ``pseudo_boxes.json``)."""
    return os.path.relpath(path, image_root).replace('\\', '/')


def _read_csv(path, columns, problems):
    """``[(line_number, row_dict)]`` of a CSV whose header has ``columns``; a malformed
    row is left out and described in ``problems`` (file and line). A UTF-8 byte-order
    mark and Windows line ends are accepted.

    Raises:
        DatasetError: the header is wrong or the file is not UTF-8 text (nothing of it
            can be trusted then).
    """
    rows = []
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or [h.strip() for h in header] != list(columns):
                raise DatasetError(f'{path}: line 1: the header must be '
                                   f'"{",".join(columns)}", got {header}')
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(columns) or not row[0].strip():
                    problems.append(f'{path}: line {reader.line_num}: expected {len(columns)} '
                                    f'columns "{",".join(columns)}", got {row}')
                    continue
                rows.append((reader.line_num, dict(zip(columns, (c.strip() for c in row)))))
    except UnicodeDecodeError as err:
        raise DatasetError(f'{path}: not UTF-8 text ({err}); save it as UTF-8') from None
    return rows


def parse_label(text):
    """``"scratch;spot"`` -> ``("scratch", "spot")``; ``"good"`` -> ``()``.

    Raises:
        DatasetError: empty label, or ``good`` combined with a defect class.
    """
    names = [n.strip() for n in text.split(LABEL_SEPARATOR)]
    if not text.strip() or any(not n for n in names):
        raise DatasetError(f'empty class name in label "{text}"')
    if GOOD_LABEL in names:
        if len(names) > 1:
            raise DatasetError(f'label "{text}" mixes "{GOOD_LABEL}" with defect classes')
        return ()
    return tuple(sorted(set(names)))


def _first_rows(path, columns, problems):
    """``(line, row, file)`` of each CSV row whose ``file`` (slashes normalised) is not
    listed on an earlier line; a repeat is added to ``problems`` naming both lines."""
    seen = {}
    for line, row in _read_csv(path, columns, problems):
        file = row['file'].replace('\\', '/')
        if file in seen:
            problems.append(f'{path}: line {line}: "{file}" is listed again '
                            f'(first on line {seen[file]})')
            continue
        seen[file] = line
        yield line, row, file


def scan_labels_csv(path):
    """Read ``labels.csv``, collecting every problem instead of stopping at the first.

    Returns:
        tuple[list[LabeledImage], list[str]]: the well-formed rows (no split yet; of a
        file listed twice, the first row) and one message per problem (a malformed row,
        an empty or inconsistent label, a file listed again), each naming the file and
        line.
    """
    problems, images = [], []
    for line, row, file in _first_rows(path, ('file', 'label'), problems):
        try:
            labels = parse_label(row['label'])
        except DatasetError as err:
            problems.append(f'{path}: line {line}: {err}')
            continue
        images.append(LabeledImage(file, labels))
    return images, problems


def read_labels_csv(path):
    """Read ``labels.csv`` into a list of :class:`LabeledImage` (no split yet).

    Raises:
        DatasetError: wrong header, rows with the wrong number of columns, empty or
            inconsistent labels, files listed twice; the message lists every problem,
            each with the CSV file and line.
    """
    images, problems = scan_labels_csv(path)
    raise_problems(problems)
    return images


def scan_splits_csv(path):
    """Read ``splits.csv`` into ``({file: split}, problems)`` (see :func:`scan_labels_csv`;
    a split not in ``SPLITS`` and a file listed twice are problems)."""
    problems, splits = [], {}
    for line, row, file in _first_rows(path, ('file', 'split'), problems):
        if row['split'] not in SPLITS:
            problems.append(f'{path}: line {line}: split must be one of '
                            f'{"/".join(SPLITS)}, got "{row["split"]}"')
            continue
        splits[file] = row['split']
    return splits, problems


def read_splits_csv(path):
    """Read ``splits.csv`` into ``{file: split}``.

    Raises:
        DatasetError: wrong header or row shape, or a split not in ``SPLITS``; every
            problem listed.
    """
    splits, problems = scan_splits_csv(path)
    raise_problems(problems)
    return splits


def scan_class_folders(root):
    """List ``<root>/<label>/<image>`` files as :class:`LabeledImage`.

    A folder named ``good`` holds defect-free images; every other folder name is a
    defect class. Images are found recursively below each class folder.
    """
    images = []
    for label in sorted(os.listdir(root)):
        folder = os.path.join(root, label)
        if not os.path.isdir(folder) or label.startswith('.'):
            continue
        labels = parse_label(label)
        for dirpath, _, files in sorted(os.walk(folder)):
            for name in sorted(files):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    rel = os.path.relpath(os.path.join(dirpath, name), root)
                    images.append(LabeledImage(rel.replace(os.sep, '/'), labels))
    return images


def discover_classes(images):
    """Sorted defect class names used by ``images`` (``good`` is never a class)."""
    return sorted({name for image in images for name in image.labels})


def _stable_fraction(key, seed):
    """A number in [0, 1) that depends only on ``key`` and ``seed``."""
    digest = hashlib.md5(f'{seed}:{key}'.encode('utf-8')).hexdigest()
    return int(digest[:8], 16) / 2**32


def seeded_split(images, fractions, seed):
    """Assign splits by a per-label stable hash so that each label is spread evenly.

    Args:
        images (list[LabeledImage]): images to split.
        fractions (dict[str, float]): share of each split name, summing to 1.
        seed (int): changes the assignment.
    Returns:
        list[LabeledImage]: the same images with ``split`` set; within each label
        group, images are ranked by their hash and cut by the cumulative fractions.
    """
    groups = {}
    for image in images:
        groups.setdefault(image.labels, []).append(image)
    out = []
    for group in groups.values():
        ranked = sorted(group, key=lambda im: _stable_fraction(im.file, seed))
        start = 0
        for i, (split, share) in enumerate(fractions.items()):
            stop = len(ranked) if i == len(fractions) - 1 else start + round(share * len(ranked))
            out.extend(LabeledImage(im.file, im.labels, split) for im in ranked[start:stop])
            start = stop
    order = {im.file: i for i, im in enumerate(images)}
    return sorted(out, key=lambda im: order[im.file])


def assign_splits(images, splits, val_fraction, test_fraction, seed):
    """Give every image a split.

    With ``splits`` (from ``splits.csv``) every image must be listed there; when it
    has no ``val`` images, ``val_fraction`` of the train images become ``val`` (the
    test split is never touched). Without ``splits`` a seeded split is made.

    Raises:
        DatasetError: images of ``labels.csv`` are missing from ``splits.csv`` (the
            message names the count and lists them).
    """
    if splits is None:
        train = 1.0 - val_fraction - test_fraction
        return seeded_split(images, {'train': train, 'val': val_fraction,
                                     'test': test_fraction}, seed)
    missing = [im.file for im in images if im.file not in splits]
    if missing:
        shown = ', '.join(f'"{f}"' for f in missing[:MAX_LISTED])
        more = f' and {len(missing) - MAX_LISTED} more' if len(missing) > MAX_LISTED else ''
        raise DatasetError(f'splits.csv has no row for {len(missing)} image(s) of '
                           f'labels.csv: {shown}{more}')
    images = [LabeledImage(im.file, im.labels, splits[im.file]) for im in images]
    if any(im.split == 'val' for im in images) or val_fraction <= 0:
        return images
    train = [im for im in images if im.split == 'train']
    moved = {im.file: im for im in seeded_split(
        train, {'train': 1.0 - val_fraction, 'val': val_fraction}, seed)}
    return [moved.get(im.file, im) for im in images]


def scan_layout(dataset_dir, image_dir='images', label_file='labels.csv',
                split_file='splits.csv'):
    """Find the layout of ``dataset_dir`` and read its labels, collecting every problem.

    Returns:
        tuple: ``(images, splits, image_root, problems)``: the labelled images (no split
        yet), ``{file: split}`` from ``splits.csv`` or None, the image folder, and one
        message per problem of ``labels.csv`` / ``splits.csv`` (see
        :func:`scan_labels_csv`).
    Raises:
        DatasetError: the folder does not exist, holds neither layout, or a CSV cannot
            be read at all (wrong header, not UTF-8).
    """
    if not os.path.isdir(dataset_dir):
        raise DatasetError(f'{dataset_dir}: dataset folder not found')
    label_path = os.path.join(dataset_dir, label_file)
    if not os.path.isfile(label_path):
        images = scan_class_folders(dataset_dir)
        if not images:
            raise DatasetError(f'{dataset_dir}: neither {label_file} nor class folders '
                               f'with images (<label>/<image>) were found')
        return images, None, dataset_dir, []
    images, problems = scan_labels_csv(label_path)
    split_path = os.path.join(dataset_dir, split_file)
    splits = None
    if os.path.isfile(split_path):
        splits, split_problems = scan_splits_csv(split_path)
        problems += split_problems
    return images, splits, os.path.join(dataset_dir, image_dir), problems


def load_labeled_images(dataset_dir, image_dir='images', label_file='labels.csv',
                        split_file='splits.csv', val_fraction=0.1,
                        test_fraction=0.2, seed=0):
    """Find the layout of ``dataset_dir`` and return its labelled images with splits.

    A ``labels.csv`` layout is parsed and checked once per process: a later call with the
    same arguments, while ``labels.csv`` and ``splits.csv`` keep their size, modification
    time and inode, returns the same images (a new list) without reading them again.

    Returns:
        tuple[list[LabeledImage], str]: the images (``file`` relative to the image
        folder) and the image folder's path.
    Raises:
        DatasetError: the folder does not exist or holds neither layout, or its CSV
            files have problems (all of them listed).
    """
    csv_files = [os.path.join(dataset_dir, name) for name in (label_file, split_file)]
    stamps = [file_stamp(path) for path in csv_files]
    key = (os.path.abspath(dataset_dir), image_dir, label_file, split_file, val_fraction,
           test_fraction, seed, repr(stamps))
    if stamps[0] is not None and key in _PARSED:  # labels.csv unchanged: parsed already
        images, image_root = _PARSED[key]
        return list(images), image_root
    images, splits, image_root, problems = scan_layout(dataset_dir, image_dir, label_file,
                                                       split_file)
    raise_problems(problems)
    images = assign_splits(images, splits, val_fraction, test_fraction, seed)
    if stamps[0] is not None:
        _PARSED[key] = (tuple(images), image_root)
    return list(images), image_root
