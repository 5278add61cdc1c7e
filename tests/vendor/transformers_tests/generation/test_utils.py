"""Stand-in for transformers' `tests/generation/test_utils.py`, which the 5.23.0 sdist does not ship.

`ModelTesterMixin` only names `GenerationTesterMixin` in `test_generation_tester_mixin_inheritance`; its `generate`
tests are not available from the sdist, so a test class that inherits this stand-in runs none of them.
"""


class GenerationTesterMixin:
    pass
