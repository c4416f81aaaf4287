"""The ``ov-vlm`` command line."""
