"""``WSDVisualDLWriter``: VisualDL curves for metrics that report plain numbers."""
import numbers

from ppdet.engine.callbacks import VisualDLWriter

from ...utils.dist import is_main_process


class WSDVisualDLWriter(VisualDLWriter):
    """ppdet's writer logs ``value[0]`` of each eval result (box APs are lists);
    ppdet-wsd metrics report floats, nested dicts and ``None``. Training losses are
    logged by ppdet's code unchanged; evaluation logs every top-level number as
    ``eval/<key>`` once per evaluation."""

    def on_epoch_end(self, status):
        if status['mode'] != 'eval' or not is_main_process():
            return
        for metric in self.model._metrics:
            for key, value in metric.get_results().items():
                if isinstance(value, numbers.Number):
                    self.vdl_writer.add_scalar(f'eval/{key}', value, self.vdl_mAP_step)
        self.vdl_mAP_step += 1
