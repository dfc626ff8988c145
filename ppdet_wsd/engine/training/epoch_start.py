"""Each training epoch's data and random draws depend on the seed and the epoch number only,
so a run resumed at epoch ``e`` trains epoch ``e`` exactly as an uninterrupted run does.

ppdet's training reader starts loading the next epoch's batches in a background thread
(or worker processes) the moment the previous epoch ends, before the trainer calls
``dataset.set_epoch`` and before the epoch-end callbacks (e.g. a refinement that changes the
training boxes) have run; its shuffle counts the epochs the process has seen, not the
training epoch. :class:`EpochLoader` starts each epoch's loading only when the epoch's loop
begins, with the sampler told the training epoch; :class:`EpochStart` re-seeds
``random``, numpy and paddle from ``(seed, epoch)`` when the epoch begins, which also fixes
the seeds paddle gives its loader workers.
"""
import numpy as np
from ppdet.engine import set_random_seed
from ppdet.engine.callbacks import Callback


def epoch_seed(seed, epoch):
    """The seed of epoch ``epoch`` of a run seeded with ``seed``.

    Args:
        seed (int): the run's seed (``cfg.seed``, >= 0).
        epoch (int): training epoch, counted from 0.
    Returns:
        int: in ``[0, 2**32)``, a different stream for every ``(seed, epoch)``.
    """
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class EpochLoader:
    """ppdet's training reader, restarted at the start of every epoch.

    Iterating it (ppdet's training loop does, right after ``dataset.set_epoch``) starts a
    new pass of the reader's ``DataLoader`` with the batch sampler's shuffle set to the
    epoch given to :meth:`start_epoch`: the shuffle of epoch ``e`` is
    ``np.random.RandomState(e)`` in every run. The pass ppdet starts when it builds the
    reader (already loading the first epoch's batches, before a resumed run knows its
    epoch) is stopped here; paddle waits up to a second for its loading thread to end.

    Args:
        reader (ppdet.data.reader.TrainReader): the built training reader.
    """

    def __init__(self, reader):
        self.reader = reader
        self.dataset = reader.dataset
        self.epoch = 0
        reader.loader._try_shutdown_all()
        reader.loader = None

    def start_epoch(self, epoch):
        """Make the next pass epoch ``epoch`` (counted from 0)."""
        self.epoch = epoch

    def __len__(self):
        return len(self.reader)

    def __iter__(self):
        self.reader._batch_sampler.set_epoch(self.epoch)
        return iter(self.reader.dataloader)


class EpochStart(Callback):
    """At the start of each training epoch: re-seed ``random``, numpy and paddle with
    :func:`epoch_seed` (when ``cfg.seed`` is set) and point the :class:`EpochLoader` at the
    epoch. (ppdet also calls ``on_epoch_begin`` before a validation pass, still in
    ``train`` mode: that call changes nothing.)"""

    def __init__(self, trainer):
        super().__init__(trainer)
        self.epoch = None

    def on_epoch_begin(self, status):
        if status.get('mode') != 'train' or status['epoch_id'] == self.epoch:
            return
        self.epoch = status['epoch_id']
        seed = self.model.cfg.get('seed')
        if seed is not None:
            set_random_seed(epoch_seed(seed, status['epoch_id']))
        self.model.loader.start_epoch(status['epoch_id'])
