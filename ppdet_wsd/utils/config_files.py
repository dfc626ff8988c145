"""YAML configs that start from other files, as in ppdet: ``_BASE_`` lists files whose keys
the file itself overrides. The one ``_BASE_`` resolver of the plugin: the ppdet-style stage
configs (:func:`ppdet_wsd.engine.config.read_config`) and the pipeline configs
(:func:`ppdet_wsd.pipeline.spec.load_pipeline_config`) both use it."""
import copy
import os

BASE_KEY = '_BASE_'


def merge(base, override):
    """``override`` merged into a deep copy of ``base`` (nested dicts merged key by key)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_with_bases(path, read):
    """The config at ``path`` with its ``_BASE_`` files merged in.

    Each base path is read relative to the file naming it (``~`` expanded); a base may have
    bases of its own. Later bases win over earlier ones, the file over all of them.

    Args:
        path (str): the YAML file.
        read (callable): ``path -> dict``, one file's keys as written (``_BASE_`` included);
            it decides the YAML loader and raises for a missing or malformed file.
    Returns:
        dict: the merged keys, without ``_BASE_``.
    """
    data = read(path)
    merged = {}
    for base in data.pop(BASE_KEY, []):
        merged = merge(merged, read_with_bases(
            os.path.join(os.path.dirname(path), os.path.expanduser(base)), read))
    return merge(merged, data)
