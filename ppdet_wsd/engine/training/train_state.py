"""What a training snapshot holds beyond ppdet's weights and optimiser: the state of the
callbacks that change training (the refinement's teacher and boxes, the best model score).

A callback takes part by having ``state_key`` (str), ``state()`` (a picklable dict of
numpy arrays and plain values) and reading its part back from the trainer's
``resume_state`` when training begins. The checkpointer writes the parts of every such
callback as ``<snapshot>.pdstate`` beside ``<snapshot>.pdparams`` / ``.pdopt``, in the same
atomic move, so a resumed run continues from one consistent moment.
"""
import os
import pickle

from ppdet.utils.logger import setup_logger

logger = setup_logger(__name__)
STATE_SUFFIX = '.pdstate'


def collect_state(callbacks):
    """``{state_key: state()}`` of the callbacks that carry state across a resume."""
    return {c.state_key: c.state() for c in callbacks if hasattr(c, 'state_key')}


def save_state(state, snapshot):
    """Write ``state`` (from :func:`collect_state`) to ``<snapshot>.pdstate``."""
    with open(snapshot + STATE_SUFFIX, 'wb') as f:
        pickle.dump(state, f, protocol=4)


def load_state(snapshot):
    """The state saved with ``snapshot`` (path without suffix); ``{}`` with a warning for a
    snapshot without one (written by ppdet, or by an older ppdet-wsd): training then resumes
    from its weights and optimiser alone, and refinement from the configured boxes."""
    path = (snapshot[:-len('.pdparams')] if snapshot.endswith('.pdparams') else snapshot) \
        + STATE_SUFFIX
    if not os.path.isfile(path):
        logger.warning(f'{path} not found: resuming from the weights and optimiser only '
                       f'(refinement restarts from the configured boxes; the result will '
                       f'differ from an uninterrupted run)')
        return {}
    with open(path, 'rb') as f:
        return pickle.load(f)
