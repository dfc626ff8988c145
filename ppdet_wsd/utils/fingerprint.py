"""Stable digests of settings and of file contents, to tell whether saved work was made
with the same ones."""
import hashlib
import json


def plain(obj):
    """JSON form of a value ``json`` cannot write: an object as ``{class name: its
    attributes}`` (e.g. what a ppdet YAML tag such as ``!CosineDecay {...}`` builds), any
    other value as its ``str``."""
    return {type(obj).__name__: vars(obj)} if hasattr(obj, '__dict__') else str(obj)


def fingerprint(settings):
    """SHA-1 hex of ``settings`` (nested dicts / lists / scalars; key order does not matter;
    other values via :func:`plain`)."""
    text = json.dumps(settings, sort_keys=True, default=plain)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()


def file_digest(path):
    """SHA-1 hex of a file's bytes (the same for a copy with new dates).

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()
