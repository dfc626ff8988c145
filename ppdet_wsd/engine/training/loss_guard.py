"""``FiniteLossGuard``: stop training at the first NaN or infinite loss.

A non-finite loss poisons the weights at the optimiser step it reaches; every later
snapshot would carry NaN weights. The guard looks at the losses ppdet logged for each
step and stops training at the first non-finite one, before the epoch ends, so no
snapshot of the poisoned weights is written and the last good one is kept.
"""
import math

from ppdet.engine.callbacks import Callback


class NonFiniteLossError(FloatingPointError):
    """A training loss was NaN or infinite; the message names the epoch and step."""


class FiniteLossGuard(Callback):
    """Raise :class:`NonFiniteLossError` at the end of a training step whose logged losses
    (``status['training_staus']``, ppdet's spelling) hold a NaN or infinity.

    The message names the epoch and step (counted from 0, as ppdet logs them), the
    losses and the folder whose epoch snapshots are kept (``<save_dir>/<config name>``).
    """

    def on_step_end(self, status):
        if status.get('mode') != 'train':
            return
        meters = getattr(status.get('training_staus'), 'meters', None) or {}
        losses = {name: meter.value for name, meter in meters.items() if 'loss' in name}
        bad = {name: value for name, value in losses.items() if not math.isfinite(value)}
        if bad:
            cfg = self.model.cfg
            raise NonFiniteLossError(
                f'non-finite loss at epoch {status["epoch_id"]}, step {status["step_id"]}: '
                + ', '.join(f'{name} = {value}' for name, value in sorted(bad.items()))
                + f'; training stopped, the last good snapshot in '
                f'{cfg.save_dir}/{cfg.filename} is kept (resume from it with a lower '
                f'learning rate)')
