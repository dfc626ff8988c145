"""What the dataset check found per image, kept between runs and shared with the datasets.

:func:`ppdet_wsd.data.check.check_dataset` decodes every listed image once and records,
per file (relative to the image folder), its :func:`file_stamp` and the SHA-1 of its bytes,
and either its ``size`` ``[height, width]`` and pixel ``kind`` or the ``problem`` that leaves
it out. A later check skips unchanged images, and a dataset given the same file
(``ImageLabelDataSet(check_cache=...)``, set by the pipeline for its stages) takes an
unchanged image's size from it instead of decoding the image again.
"""
import json
import os

CACHE_VERSION = 3    # bump when what an image check decides, or its stamp, changes
CHECK_CACHE_FILE = 'dataset_check_cache.json'  # its name in a pipeline's output folder


def file_stamp(path):
    """``[size, mtime in ns, inode]`` of a file (a rewrite or a replacement changes it), or
    None when it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def read_check_cache(cache_file):
    """``{file: entry}`` of an earlier check's image results (empty when there is none,
    it cannot be read, or it is of another version)."""
    try:
        with open(cache_file, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, TypeError, ValueError):
        return {}
    return data.get('images', {}) if data.get('version') == CACHE_VERSION else {}


def cached_entry(cache, file, path):
    """The check's entry of ``file`` (key of ``cache``) when the file at ``path`` is
    unchanged since (same stamp), else None."""
    entry = cache.get(file)
    stamp = file_stamp(path)
    if entry is None or stamp is None or entry.get('stamp') != stamp:
        return None
    return entry


def check_cache_document(entries):
    """The JSON document of a check cache holding ``entries`` (``{file: entry}``)."""
    return {'version': CACHE_VERSION, 'images': entries}
