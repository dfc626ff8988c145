"""Check a dataset before any training: every problem at once, each with a decision.

Each problem found gets one of three decisions (``docs/datasets.md``, "Bad input"):

* **error** -- the run stops before any training; the message lists every offending
  file and line at once (malformed or duplicate CSV rows, images without a split row,
  labels that differ only in case or separators, a split left empty, labels that carry
  nothing to learn);
* **skip** -- the image is left out, counted, listed (``skipped_images.txt`` of a
  pipeline run) and shown in the report: a listed file that is missing, empty, corrupt
  or of an unsupported pixel type. With ``strict`` every skip, and every image file that
  ``labels.csv`` does not list, is an error instead;
* **note** -- shown in the summary and the report, never stops a run: image files that no
  row lists, tiny or huge images, a class with one image, no good image, a label that
  looks like a misspelling of a much commoner one, boxes of ``annotations.json`` outside
  their image (evaluation only).

The pipeline's dataset stage runs this same check (:func:`check_dataset`); the images it
skips are left out by every stage.
"""
import difflib
import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.image_io import IMAGE_EXTENSIONS, ImageReadError, decode_image, to_rgb, to_uint8

from ..utils.fingerprint import file_digest
from .check_cache import cached_entry, check_cache_document, file_stamp, read_check_cache
from .ground_truth import load_ground_truth
from .labels import (GOOD_LABEL, SPLITS, DatasetError, assign_splits, discover_classes,
                     raise_problems, scan_layout)

TINY_SIDE = 32      # px: a shorter side is enlarged many times to the model input
HUGE_SIDE = 4096    # px: a longer side is decoded at full size (slow, memory hungry)
SIMILAR_NAMES = 0.8  # difflib ratio from which two class names look like one misspelt
RARE_SHARE = 0.2     # ... when the rarer one has at most this share of the other's images
EXAMPLES = 5         # files named in a note


@dataclass
class DatasetCheck:
    """What :func:`check_dataset` found.

    Attributes:
        root (str): the dataset folder.
        image_root (str): the folder the ``file`` names are relative to.
        layout (str): ``labels.csv`` or ``class folders``.
        images (list[LabeledImage]): the usable images, with their splits.
        sizes (dict[str, tuple[int, int]]): ``file -> (height, width)`` of each usable image.
        digests (dict[str, str]): ``file -> SHA-1 of its bytes`` of each usable image.
        kinds (Counter): usable images per pixel kind (``grey 8-bit``, ``RGBA 16-bit``, ...).
        listed (int): images the labels list (with a split row when there is a split file).
        skipped (list[tuple[str, str]]): ``(file, reason)`` of each listed image left out.
        unlisted (list[str]): image files under ``image_root`` that no row lists.
        errors (list[str]): problems that stop a run, each naming its file (and line).
        notes (list[str]): problems shown but never stopping a run.
        strict (bool): skips and unlisted files were made errors.
    """
    root: str
    image_root: str = None
    layout: str = None
    images: list = field(default_factory=list)
    sizes: dict = field(default_factory=dict)
    digests: dict = field(default_factory=dict)
    kinds: Counter = field(default_factory=Counter)
    listed: int = 0
    skipped: list = field(default_factory=list)
    unlisted: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    strict: bool = False

    @property
    def classes(self):
        """Sorted defect class names of the usable images."""
        return discover_classes(self.images)

    def raise_errors(self):
        """Raise one :class:`DatasetError` listing every error (nothing when there is none)."""
        raise_problems(self.errors)

    def counts(self):
        """``{row: {split: images}}`` of the usable images; rows ``good``, each class
        (a multi-label image counts in each of its classes) and ``all``."""
        rows = {name: dict.fromkeys(SPLITS, 0) for name in [GOOD_LABEL] + self.classes + ['all']}
        for im in self.images:
            for name in (im.labels or (GOOD_LABEL,)) + ('all',):
                rows[name][im.split] += 1
        return rows

    def skipped_lines(self):
        """One ``file<TAB>reason`` line per image left out or not listed."""
        return [f'{file}\t{why}' for file, why in self.skipped] + \
            [f'{file}\tnot listed in labels.csv: not used' for file in self.unlisted]

    def summary(self):
        """The check as text: images per split and class, sizes, pixel kinds, problems."""
        lines = [f'dataset {self.root} ({self.layout or "unreadable"} layout; images in '
                 f'{self.image_root})']
        if self.images:
            lines.append(f'{"":<20}' + ''.join(f'{s:>8}' for s in SPLITS + ('total',)))
            for name, per_split in self.counts().items():
                lines.append(f'{name[:20]:<20}' + ''.join(f'{n:>8}' for n in per_split.values())
                             + f'{sum(per_split.values()):>8}')
            heights, widths = np.array(list(self.sizes.values())).T
            lines.append(f'sizes: height {heights.min()}..{heights.max()} (median '
                         f'{int(np.median(heights))}), width {widths.min()}..{widths.max()} '
                         f'(median {int(np.median(widths))}) px')
            lines.append('pixel kinds (all read as 8-bit RGB): ' + ', '.join(
                f'{kind} {n}' for kind, n in sorted(self.kinds.items())))
        lines.append(f'usable images: {len(self.images)} of {self.listed} listed; skipped '
                     f'{len(self.skipped)}; unlisted files {len(self.unlisted)}')
        problems = [f'error: {e}' for e in self.errors] + \
            ([] if self.strict else [f'skipped: {f}: {why}' for f, why in self.skipped]) + \
            [f'note: {n}' for n in self.notes]
        lines.append(f'problems: {len(problems)}' + ('' if problems else ' (none)'))
        lines += [f'  {p}' for p in problems]
        return '\n'.join(lines)

    def content_signature(self):
        """SHA-1 (hex) over what training reads of the dataset: each usable image's file
        name, labels, split and content. Copying the dataset (new file dates) keeps it;
        a changed image, label, split or skip changes it."""
        digest = hashlib.sha1()
        for im in sorted(self.images, key=lambda im: im.file):
            digest.update(f'{im.file}\0{"|".join(im.labels)}\0{im.split}\0'
                          f'{self.digests[im.file]}\n'.encode('utf-8'))
        return digest.hexdigest()

    def to_dict(self):
        """The check's counts and problems as plain JSON data (for ``dataset_profile.json``
        and the report)."""
        return {'listed_images': self.listed, 'usable_images': len(self.images),
                'skipped_images': len(self.skipped), 'skipped': [list(s) for s in self.skipped],
                'unlisted_images': len(self.unlisted), 'pixel_kinds': dict(self.kinds),
                'notes': list(self.notes), 'strict': self.strict}


def pixel_kind(image):
    """``"grey 8-bit"``, ``"RGB 16-bit"``, ``"RGBA 8-bit"``, ... of a decoded image."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    name = {1: 'grey', 3: 'RGB', 4: 'RGBA'}.get(channels, f'{channels}-channel')
    return f'{name} {8 * image.dtype.itemsize}-bit'


def inspect_image(path):
    """``((height, width), pixel kind)`` of a readable image file.

    Raises:
        ImageReadError: missing, empty, corrupt, or of a pixel type the models cannot
            take (decided by the same functions that read images for training).
    """
    image = decode_image(path)
    try:
        to_rgb(to_uint8(image))
    except ImageReadError as err:
        raise ImageReadError(f'{path}: {err}') from None
    return image.shape[:2], pixel_kind(image)


def _listing(files, limit=EXAMPLES):
    shown = ', '.join(f'"{f}"' for f in files[:limit])
    return shown + (f' and {len(files) - limit} more' if len(files) > limit else '')


def _label_problems(images, label_path):
    """(errors, notes) about the class names: names equal but for case and separators
    are an error; a rare name close to a much commoner one is a note."""
    counts = Counter(name for im in images for name in im.labels)
    errors, notes = [], []
    names = sorted(counts, key=lambda n: (-counts[n], n))
    for i, common in enumerate(names):
        for rare in names[i + 1:]:
            files = [im.file for im in images if rare in im.labels]
            where = f'{label_path}: label "{rare}" ({counts[rare]} images: {_listing(files)})'
            if re.sub(r'[\s_-]', '', rare.lower()) == re.sub(r'[\s_-]', '', common.lower()):
                errors.append(f'{where} and "{common}" ({counts[common]} images) differ only '
                              f'in case or separators: use one spelling')
            elif difflib.SequenceMatcher(None, rare.lower(), common.lower()).ratio() >= \
                    SIMILAR_NAMES and counts[rare] <= RARE_SHARE * counts[common]:
                notes.append(f'{where} looks like a misspelling of "{common}" '
                             f'({counts[common]} images); it is trained as a class of its own')
    return errors, notes


def _unlisted_files(image_root, listed):
    """Image files below ``image_root`` that ``listed`` (file names) does not hold."""
    found = []
    for dirpath, dirs, files in os.walk(image_root):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                rel = os.path.relpath(os.path.join(dirpath, name), image_root).replace(os.sep, '/')
                if rel not in listed:
                    found.append(rel)
    return found


def _split_problems(root, images, listed_per_split):
    """(errors, notes) about what the usable images can teach and measure."""
    errors, notes = [], []
    usable = Counter(im.split for im in images)
    for split in SPLITS:
        if not usable[split]:
            errors.append(f'{root}: the {split} split has no usable image '
                          f'({listed_per_split[split]} listed); check splits.csv, or add images')
    classes = discover_classes(images)
    good = sum(not im.labels for im in images)
    if images and not classes:
        errors.append(f'{root}: every image is labelled good: at least one defect class is '
                      f'needed')
    elif usable['train'] and all(not im.labels for im in images if im.split == 'train'):
        errors.append(f'{root}: no defective image in the train split: nothing to learn '
                      f'boxes from')
    if len(classes) == 1 and not good:
        errors.append(f'{root}: every image is labelled "{classes[0]}" and none is good: the '
                      f'labels carry nothing to learn from; add good images (or images of '
                      f'other classes)')
    elif classes and not good:
        notes.append('no good image: heat maps from the patch classifier alone, and no image '
                     'AUROC or over-kill rate (docs/datasets.md)')
    for name in classes:
        members = [im for im in images if name in im.labels]
        if 'train' not in {im.split for im in members}:
            notes.append(f'class "{name}" has no image in the train split ({len(members)} in '
                         f'all): nothing to learn it from')
        elif len(members) == 1:
            notes.append(f'class "{name}" has one image ("{members[0].file}"): it is learnt '
                         f'from one example and cannot be measured')
    return errors, notes


def _size_notes(sizes):
    notes = []
    tiny = [f for f, (h, w) in sizes.items() if min(h, w) < TINY_SIDE]
    huge = [f for f, (h, w) in sizes.items() if max(h, w) > HUGE_SIDE]
    if tiny:
        notes.append(f'{len(tiny)} image(s) with a side under {TINY_SIDE} px, enlarged to the '
                     f'model input (little detail to find): {_listing(tiny)}')
    if huge:
        notes.append(f'{len(huge)} image(s) with a side over {HUGE_SIDE} px, decoded at full '
                     f'size (slow, memory hungry) then shrunk: {_listing(huge)}')
    return notes


def _truth_notes(root, sizes):
    """Notes about ``annotations.json`` (evaluation only; never stops a run)."""
    try:
        truth = load_ground_truth(root)
    except DatasetError as err:
        return [f'annotations.json cannot be used, box metrics will be null: {err}']
    if truth is None:
        return []
    outside, resized = [], []
    for file, t in truth.items():
        if len(t.boxes) and ((t.boxes[:, :2] < -0.5).any() or (t.boxes[:, 2] > t.width + 0.5)
                             .any() or (t.boxes[:, 3] > t.height + 0.5).any()):
            outside.append(file)
        if file in sizes and sizes[file] != (t.height, t.width):
            resized.append(file)
    notes = []
    if outside:
        notes.append(f'annotations.json: {len(outside)} image(s) with boxes reaching outside '
                     f'the image (evaluation only, measured as given): {_listing(outside)}')
    if resized:
        notes.append(f'annotations.json: {len(resized)} image entr(y/ies) whose width/height '
                     f'differ from the image file (evaluation only): {_listing(resized)}')
    return notes


def check_dataset(root, strict=False, image_dir='images', label_file='labels.csv',
                  split_file='splits.csv', val_fraction=0.1, test_fraction=0.2, seed=0,
                  progress=False, cache_file=None):
    """Check the dataset at ``root`` without training (see the module docstring).

    Every listed image is decoded once, by the same functions that read images for
    training; with ``cache_file`` (JSON) an image whose size, modification time and inode are
    those of the last check is not decoded again (a re-run of 100 000 images costs a
    ``stat`` each). Splits are assigned as for training (:func:`~ppdet_wsd.data.labels.
    assign_splits`), before images are skipped, so a skipped file moves no other image.

    Args:
        strict (bool): every skip and every unlisted image file is an error.
        progress (bool): show a progress bar while decoding.
        cache_file (str | None): where the image results are kept between checks.
    Returns:
        DatasetCheck: never raises for the data's problems; call
        :meth:`DatasetCheck.raise_errors` to stop on them.
    """
    check = DatasetCheck(root=root, strict=strict)
    try:
        images, splits, check.image_root, check.errors = scan_layout(root, image_dir,
                                                                     label_file, split_file)
    except DatasetError as err:
        check.errors.append(str(err))
        return check
    check.layout = 'class folders' if check.image_root == root else label_file
    label_path = os.path.join(root, label_file)
    if splits is not None:
        split_path = os.path.join(root, split_file)
        missing = [im.file for im in images if im.file not in splits]
        check.errors += [f'{split_path}: no row for "{f}" (listed in {label_file})'
                         for f in missing]
        extra = sorted(set(splits) - {im.file for im in images})
        if extra:
            check.notes.append(f'{split_path}: {len(extra)} row(s) name files {label_file} '
                               f'does not list (ignored): {_listing(extra)}')
        images = [im for im in images if im.file in splits]
    errors, notes = _label_problems(images, label_path)
    check.errors += errors
    check.notes += notes
    images = assign_splits(images, splits, val_fraction, test_fraction, seed)
    check.listed = len(images)
    if check.layout == label_file and not os.path.isdir(check.image_root):
        check.errors.append(f'{check.image_root}: image folder not found')
        return check
    seen = read_check_cache(cache_file)
    inspected = {}
    for im in tqdm(images, desc='checking images', disable=not progress, leave=False):
        path = os.path.join(check.image_root, im.file)
        entry = cached_entry(seen, im.file, path)
        if entry is None:
            stamp = file_stamp(path)
            try:
                size, kind = inspect_image(path)
                entry = {'stamp': stamp, 'digest': file_digest(path), 'size': list(size),
                         'kind': kind}
            except (ImageReadError, OSError) as err:
                entry = {'stamp': stamp, 'problem': str(err).split(': ', 1)[-1]}
        inspected[im.file] = entry
        if 'problem' in entry:
            check.skipped.append((im.file, entry['problem']))
            continue
        check.sizes[im.file] = tuple(entry['size'])
        check.digests[im.file] = entry['digest']
        check.kinds[entry['kind']] += 1
        check.images.append(im)
    if cache_file:
        write_json_atomic(cache_file, check_cache_document(inspected))
    if check.layout == label_file:
        check.unlisted = _unlisted_files(check.image_root, {im.file for im in images})
    if strict:
        check.errors += [f'{f}: {why} (strict: skips are errors)' for f, why in check.skipped]
        check.errors += [f'{f}: not listed in {label_file} (strict: every image file must be '
                         f'listed)' for f in check.unlisted]
    elif check.unlisted:
        check.notes.append(f'{len(check.unlisted)} image file(s) in {check.image_root} that '
                           f'{label_file} does not list (not used): {_listing(check.unlisted)}')
    errors, notes = _split_problems(root, check.images, Counter(im.split for im in images))
    check.errors += errors
    check.notes += notes + _size_notes(check.sizes) + _truth_notes(root, check.sizes)
    return check

