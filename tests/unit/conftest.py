import pytest


def pytest_collection_modifyitems(items):
    # The helper package must not trigger any warning, deprecations of the libraries it calls
    # included: a warning raised inside it would be hidden from a page's reader and from the
    # page's stderr check.
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("error"))
