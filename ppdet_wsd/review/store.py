"""The review file: every decision a person made on the pseudo boxes, kept beside them
(``pseudo_boxes/review.json``) and rewritten atomically after each decision.

Format (``version`` 1)::

    {"format": "ppdet-wsd review", "version": 1, "actions": int,
     "images": {<file_name as in pseudo_boxes.json>: {
         "no_defect": bool,        # "no defect visible": the image leaves the training set
         "actions": int,           # decisions made on this image
         "boxes": [{"id": "p0" (pseudo box k of the image) | "d0" (drawn),
                    "class": str, "box": [x1, y1, x2, y2] (float, original pixels),
                    "score": float (the pseudo box's score; 1.0 for a drawn box),
                    "state": "pending" | "accepted" | "rejected",
                    "origin": "pseudo" | "drawn",
                    "edits": ["redrawn", "relabelled"] (any of them)}]}}}

An image appears once a decision touched it; its ``boxes`` are then the snapshot of its
pseudo boxes taken at that moment, with the decisions applied, so the file alone says
what the person saw and decided (a re-run that renumbers or refits the pseudo boxes
changes nothing here).
"""
import contextlib
import fcntl
import json
import os
import threading

from ppdet_wsd_runtime.atomic import write_json_atomic

from ..utils.fingerprint import fingerprint

REVIEW_FILE = 'review.json'
FORMAT = 'ppdet-wsd review'
VERSION = 1


class ReviewFileError(ValueError):
    """The review file exists but is not a review file this code can read (names it)."""


def empty_review():
    """A review with no decision."""
    return {'format': FORMAT, 'version': VERSION, 'actions': 0, 'images': {}}


def read_review(path):
    """The review in ``path``, or :func:`empty_review` when the file does not exist.

    Raises:
        ReviewFileError: the file is not JSON or not a version-1 review file.
    """
    if not os.path.isfile(path):
        return empty_review()
    try:
        with open(path, encoding='utf-8') as f:
            review = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReviewFileError(f'{path}: not a readable review file ({err})') from None
    if not isinstance(review, dict) or review.get('format') != FORMAT or \
            review.get('version') != VERSION or not isinstance(review.get('images'), dict):
        raise ReviewFileError(f'{path}: not a "{FORMAT}" file of version {VERSION}')
    return review


def review_fingerprint(path):
    """SHA-1 over the decisions in ``path`` (boxes and "no defect" flags, not the action
    counters), or None when there is no review file: what the pseudo-box stage's
    fingerprint includes, so a new decision redoes that stage and those downstream."""
    if not os.path.isfile(path):
        return None
    images = read_review(path)['images']
    return fingerprint({f: {'no_defect': r['no_defect'], 'boxes': r['boxes']}
                        for f, r in images.items()})


class ReviewStore:
    """Serialised read-modify-write of one review file.

    Threads of one server take a lock; processes (a second server on the same folder)
    take ``flock`` on the file's folder, so no decision overwrites another. The file is
    re-read under the lock before every change and written with a temporary file and a
    rename: a reader never sees half a file, a crash never leaves one.
    """

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        with self._lock:
            fd = os.open(folder, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def load(self):
        """The current review (see :func:`read_review`)."""
        with self._locked():
            return read_review(self.path)

    def update(self, change):
        """Apply ``change(review) -> value`` to the current review and save it.

        ``change`` mutates the review dict in place; when it raises, nothing is written.
        Returns ``(value, review)``.
        """
        with self._locked():
            review = read_review(self.path)
            value = change(review)
            write_json_atomic(self.path, review)
            return value, review
