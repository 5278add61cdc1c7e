# The vendored files hold mixins and helpers that test files elsewhere import, not tests of their own.
collect_ignore = ["transformers_tests"]
