"""transformers' own common model tests (`ModelTesterMixin`), from the sdist of the installed version (5.23.0), for
`tests/models/test_modeling_livechat_common.py`. Imported as a package because the vendored file uses relative
imports."""
