"""Kind modules: everything one layer kind or one training setting means in each framework.

One module per family of kinds holds, for each kind, its registry entry and both
framework mappings as data and small functions (no torch or TensorFlow import).
Layers depend one way: metamodel <- kinds <- importers / validators / generators
<- pipeline and API <- CLI.
"""
