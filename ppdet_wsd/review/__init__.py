"""A person checks the pseudo boxes: the review file (``store``), what a decision does to it
(``decisions``), the order of the checks (``order``), the local web page (``server`` +
``static/``), and how the pipeline folds the decisions back in (``apply``, ``refit``)."""
