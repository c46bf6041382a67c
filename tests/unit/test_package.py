"""The package's public surface: one list of names, kept in step with what type checkers see."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import mlbook_utils

INIT = Path(mlbook_utils.__file__)


def type_checking_imports() -> dict[str, str]:
    """``{name: submodule}`` from the ``if TYPE_CHECKING:`` block of ``__init__.py``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {alias.name: node.module.rsplit(".", 1)[1]
            for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_exports_and_type_checking_imports_agree():
    # Adding a public helper means one line in _EXPORTS and one import under TYPE_CHECKING
    # (CONTRIBUTING.md, "Adding a helper"): this test fails when the two disagree.
    assert mlbook_utils._EXPORTS == type_checking_imports()


@pytest.mark.parametrize("name", sorted(mlbook_utils._EXPORTS))
def test_every_public_name_resolves_and_is_documented(name):
    obj = getattr(mlbook_utils, name)
    module = importlib.import_module(f"mlbook_utils.{mlbook_utils._EXPORTS[name]}")
    assert getattr(module, name) is obj
    if callable(obj):
        assert inspect.getdoc(obj), f"{name} has no docstring"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mlbook_utils.nope  # noqa: B018
