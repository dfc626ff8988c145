"""``python -m ppdet_wsd_runtime MODEL_DIR IMAGES --out DIR ...`` (see :mod:`.cli`)."""
from .cli import main

main()
