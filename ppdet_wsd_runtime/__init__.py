"""ppdet-wsd's runtime: what runs an exported model on a factory PC, without ppdet.

It imports only paddle.inference or onnxruntime, numpy, OpenCV, PyYAML and tqdm, and
never ``ppdet`` or the plugin ``ppdet_wsd`` (which imports from here, not the other way
round). Besides the deploy runner it holds the low-level helpers both share: reading
any industrial image as RGB (:mod:`.image_io`), the letterbox geometry
(:mod:`.letterbox`), detections in ppdet's layout (:mod:`.detections`), atomic file
writes (:mod:`.atomic`), drawing boxes and heat maps (:mod:`.boxes`, :mod:`.heatmap`),
keeping the host's known noise off the console (:mod:`.quiet`) and the CPU thread
defaults of every process (:mod:`.threads`).
"""
import zlib  # noqa: F401  (paddle 2.6.x corrupts zlib when zlib is loaded after it)
