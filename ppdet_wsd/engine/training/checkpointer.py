"""``WSDCheckpointer``: ppdet's snapshot/best-model saving, atomic and metric-aware."""
import os
import shutil
import tempfile

from ppdet.engine.callbacks import Callback
from ppdet.utils.checkpoint import save_model
from ppdet.utils.logger import setup_logger

from ppdet_wsd_runtime.atomic import move_files_into

from ...metrics.image_level import selection_score
from ...utils.dist import is_main_process
from .train_state import collect_state, save_state

logger = setup_logger(__name__)


class WSDCheckpointer(Callback):
    """Save ``<save_dir>/<config name>/{epoch}|model_final|best_model.pdparams``.

    Like ppdet's ``Checkpointer``, but each checkpoint is written into a temporary
    folder and moved into place file by file with ``os.replace`` (a killed run
    never leaves a truncated ``.pdparams``), and ``best_model`` follows the
    metric's :func:`~ppdet_wsd.metrics.image_level.selection_score` (val image AP, or
    the mean per-class AP when val has no good image; higher is better) instead of a
    box AP. When validation ran but no score was ever defined, ``best_model`` is the
    final epoch's model (logged), so a validated run always leaves a ``best_model``.

    An epoch snapshot (and ``model_final``) is a resume point: it also holds the training
    state of the callbacks (``.pdstate``, :mod:`~ppdet_wsd.engine.training.train_state`; the best
    score so far is this callback's part), and its ``.pdparams`` is moved into place last,
    so a ``.pdparams`` means a complete snapshot. A validated run writes the snapshot after
    the epoch's validation, so a resumed run neither repeats nor misses one.
    """
    state_key = 'checkpointer'

    def __init__(self, trainer):
        super().__init__(trainer)
        self.best = None
        self.pending = None
        self.save_dir = os.path.join(trainer.cfg.save_dir, trainer.cfg.filename)

    def state(self):
        """The best model-selection score so far (None before any)."""
        return {'best': self.best}

    def on_train_begin(self, status):
        self.best = self.model.resume_state.get(self.state_key, {}).get('best')

    def on_epoch_end(self, status):
        if not is_main_process():
            return
        epoch_id = status['epoch_id']
        if status['mode'] == 'train':
            last = epoch_id == self.model.cfg.epoch - 1
            if last or (epoch_id + 1) % self.model.cfg.snapshot_epoch == 0:
                self.pending = 'model_final' if last else str(epoch_id)
                if not self.model.validating:
                    self._save_pending(epoch_id, status)
        elif status['mode'] == 'eval' and status.get('save_best_model'):
            self._maybe_save_best(epoch_id, status)
            self._save_pending(epoch_id, status)

    def _save_pending(self, epoch_id, status):
        if self.pending is not None:
            self._save(self.pending, epoch_id, status, resume_point=True)
            self.pending = None

    def on_train_end(self, status):
        if not is_main_process() or not status.get('save_best_model') or self.best is not None:
            return
        logger.warning('no model-selection score was defined on the val split (it needs '
                       'two kinds of images for some class); best_model = the final epoch')
        with tempfile.TemporaryDirectory(prefix='.tmp-', dir=self._ensure_dir()) as tmp:
            for ext in ('.pdparams', '.pdopt', '.pdema'):
                final = os.path.join(self.save_dir, 'model_final' + ext)
                if os.path.isfile(final):
                    shutil.copyfile(final, os.path.join(tmp, 'best_model' + ext))
            move_files_into(tmp, self.save_dir)

    def _maybe_save_best(self, epoch_id, status):
        for metric in self.model._metrics:
            key, value = selection_score(metric.get_results())
            if value is None:
                continue
            if self.best is None or value >= self.best:
                self.best = value
                self._save('best_model', epoch_id, status)
            logger.info(f'best {key} so far: {self.best:.4f}')

    def _save(self, name, epoch_id, status, resume_point=False):
        weights = self.model.model.state_dict()
        with tempfile.TemporaryDirectory(prefix='.tmp-', dir=self._ensure_dir()) as tmp:
            if self.model.use_ema:  # the model holds the EMA weights at snapshot time
                save_model(status['weight'], self.model.optimizer, tmp, name,
                           epoch_id + 1, ema_model=weights)
            else:
                save_model(weights, self.model.optimizer, tmp, name, epoch_id + 1)
            if resume_point:
                save_state(collect_state(self.model._callbacks), os.path.join(tmp, name))
            move_files_into(tmp, self.save_dir, last='.pdparams')
        logger.info(f'saved {os.path.join(self.save_dir, name)}.pdparams')

    def _ensure_dir(self):
        os.makedirs(self.save_dir, exist_ok=True)
        return self.save_dir
