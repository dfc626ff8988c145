"""The engines that run an exported graph on the CPU: Paddle Inference with oneDNN, or
onnxruntime. Each takes the graph's float32 inputs (an ``image`` batch ``[B, 3, H, W]``;
a head graph fed by a shared backbone: its maps, in the order of ``input_names``) and
returns the graph's outputs as numpy arrays, in the order of ``infer_cfg.yml``'s
``outputs``."""
from .model_dir import MODEL, model_size_mb, onnx_model_file, paddle_model_files
from .quiet import host_noise_filtered
from .threads import default_threads

BACKENDS = ('paddle', 'onnx')


class PaddleBackend:
    """``paddle.inference`` on the CPU with oneDNN (MKL-DNN) kernels, ``threads`` math
    threads, on the graph ``stem`` of the folder (``model`` or ``evidence``)."""

    name = 'paddle'

    def __init__(self, model_dir, threads=None, stem=MODEL):
        with host_noise_filtered():
            import paddle.inference as paddle_infer
        self.files = paddle_model_files(model_dir, stem)
        config = paddle_infer.Config(*self.files)
        config.disable_gpu()
        config.enable_mkldnn()
        config.set_cpu_math_library_num_threads(threads or default_threads(training=False))
        config.disable_glog_info()  # no "--- Running PIR pass ..." lines on the console
        self.predictor = paddle_infer.create_predictor(config)
        self.input_names = list(self.predictor.get_input_names())
        self.inputs = [self.predictor.get_input_handle(n) for n in self.input_names]
        self.outputs = [self.predictor.get_output_handle(n)
                        for n in self.predictor.get_output_names()]

    def run(self, *arrays):
        """The outputs for ``arrays``, one per input of ``input_names``."""
        for handle, array in zip(self.inputs, arrays, strict=True):
            handle.reshape(array.shape)
            handle.copy_from_cpu(array)
        self.predictor.run()
        return [handle.copy_to_cpu() for handle in self.outputs]

    @property
    def size_mb(self):
        return model_size_mb(self.files)


class OnnxBackend:
    """onnxruntime's CPU execution provider on ``model.onnx`` (or ``model_int8.onnx``;
    ``<stem>.onnx`` for another graph), ``threads`` intra-op threads."""

    name = 'onnx'

    def __init__(self, model_dir, threads=None, int8=False, stem=MODEL):
        try:
            import onnxruntime as ort
        except ImportError:
            raise RuntimeError('the onnx backend needs onnxruntime: pip install -r '
                               'requirements/deploy.txt') from None
        self.files = (onnx_model_file(model_dir, int8, stem),)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads(training=False)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only (paddle2onnx leaves unused constants)
        self.session = ort.InferenceSession(self.files[0], options,
                                            providers=['CPUExecutionProvider'])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, *arrays):
        """The outputs for ``arrays``, one per input of ``input_names``."""
        return self.session.run(None, dict(zip(self.input_names, arrays, strict=True)))

    @property
    def size_mb(self):
        return model_size_mb(self.files)


def create_backend(name, model_dir, threads=None, int8=False, stem=MODEL):
    """A backend by ``name`` (``paddle`` or ``onnx``) for the graph ``stem`` of the folder;
    ``int8`` picks ``model_int8.onnx``.

    Raises:
        ValueError: an unknown name, or ``int8`` with the paddle backend.
        ModelFolderError: the model files are missing.
    """
    if name == 'paddle':
        if int8:
            raise ValueError('int8 runs with the onnx backend only (--backend onnx --int8)')
        return PaddleBackend(model_dir, threads, stem)
    if name == 'onnx':
        return OnnxBackend(model_dir, threads, int8, stem)
    raise ValueError(f'unknown backend {name!r}: use one of {", ".join(BACKENDS)}')
