"""``python -m ppdet_wsd.deploy MODEL_DIR IMAGES --out DIR ...`` (see :mod:`.cli`)."""
from .cli import main

main()
