"""Config sections that are classes: each setting's default is an argument default of the
class's ``__init__`` (its one home), the YAML only overrides. :func:`check_keys` names a
misspelt key before any work."""
import difflib
import inspect


def setting_defaults(cls):
    """``{setting: default}`` of a config-section class, from its ``__init__`` arguments."""
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != 'self'}


def check_keys(cls, values, where, keys=None, note=''):
    """Raise a one-line ``ValueError`` when ``values`` is not a mapping, or names a key that
    is not a setting of ``cls`` (or not among ``keys``): ``<where>.<key>``, the closest
    setting and the list of them.

    Args:
        cls (type): the config-section class.
        values (dict): the section as written (YAML or ``-o`` overrides).
        where (str): how the message names the section.
        keys (Iterable[str] | None): the settings allowed here (default: all of ``cls``).
        note (str): appended to the message of a key that is not allowed.
    """
    if not isinstance(values, dict):
        raise ValueError(f'{where} must be a mapping of settings, got {values!r}')
    allowed = list(keys) if keys is not None else list(setting_defaults(cls))
    for key in values:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ''
            raise ValueError(f'{where}.{key}: not a setting here; {hint}(settings: '
                             f'{", ".join(allowed)}){note}')


def section(cls, cfg):
    """The ``cls.__name__`` section of the config ``cfg`` as a ``cls``, its defaults for
    what the section leaves out (:func:`check_keys` first)."""
    values = dict(cfg.get(cls.__name__) or {})
    check_keys(cls, values, cls.__name__)
    return cls(**values)
