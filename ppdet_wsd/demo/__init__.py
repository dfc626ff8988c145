"""The built-in demo's data: a synthetic defect dataset in the standard layout
(``tools/make_demo_data.py``, ``scripts/demo.sh``, the tests). Not part of the product: no
other package imports it."""
