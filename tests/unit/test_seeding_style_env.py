import random
import sys

import matplotlib as mpl
import numpy as np
import pytest

from mlbook_utils import PALETTE, environment_report, library_versions, seed_everything, use_book_style
from mlbook_utils.envreport import BOOK_PACKAGES


def test_seed_everything_seeds_python_and_numpy():
    seed_everything(7)
    a = (random.random(), np.random.rand())
    assert seed_everything(7) == 7
    assert (random.random(), np.random.rand()) == a


def test_seed_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("MLBOOK_SEED", raising=False)
    assert seed_everything() == 0
    monkeypatch.setenv("MLBOOK_SEED", "5")
    assert seed_everything() == 5
    assert seed_everything(3) == 3  # an explicit seed wins


@pytest.mark.parametrize("raw", ["x", "1.5", "-1", str(2**32)])
def test_bad_seed_in_the_environment_is_refused(monkeypatch, raw):
    monkeypatch.setenv("MLBOOK_SEED", raw)
    with pytest.raises(ValueError, match="MLBOOK_SEED|seed must be"):
        seed_everything()


def test_seed_everything_seeds_torch_on_request():
    torch = pytest.importorskip("torch")
    seed_everything(3, torch=True)
    a = torch.rand(3)
    seed_everything(3, torch=True)
    assert torch.equal(a, torch.rand(3))
    if not torch.cuda.is_available():  # a CPU run repeats exactly
        assert torch.are_deterministic_algorithms_enabled()


def test_seed_everything_leaves_torch_alone_when_told(monkeypatch):
    torch = pytest.importorskip("torch")
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    seed_everything(0, torch=False)
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize(
    ("seed", "error"), [(-1, ValueError), (2**32, ValueError), (1.0, TypeError), ("1", TypeError),
                        (True, TypeError)]
)
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        seed_everything(seed)


def test_seed_everything_rejects_bad_torch_flag():
    with pytest.raises(TypeError, match="torch must be"):
        seed_everything(0, torch="yes")


def test_book_style_sets_opaque_colourblind_safe_defaults():
    mpl.rcdefaults()
    use_book_style()
    assert mpl.rcParams["figure.facecolor"] == "white"
    assert mpl.rcParams["savefig.transparent"] is False
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"][:3] == list(PALETTE[:3])
    use_book_style(font_scale=2)
    assert mpl.rcParams["font.size"] == 20
    mpl.rcdefaults()


@pytest.mark.parametrize(("scale", "error"), [(0, ValueError), (-1.0, ValueError), ("big", TypeError)])
def test_book_style_rejects_bad_scale(scale, error):
    with pytest.raises(error, match="font_scale"):
        use_book_style(font_scale=scale)


def test_environment_report_lists_versions():
    report = environment_report(["numpy", "surely-not-installed-pkg"])
    assert list(report.columns) == ["component", "version"]
    versions = dict(zip(report["component"], report["version"]))
    assert versions["numpy"] == np.__version__
    assert versions["surely-not-installed-pkg"] == "not installed"
    assert versions["python"] == sys.version.split()[0]


def test_environment_report_default_covers_the_book():
    names = set(environment_report()["component"])
    assert {"scikit-learn", "torch", "jupyter-book", "mlbook-utils"} <= names


@pytest.mark.parametrize("bad", ["numpy", ["numpy", ""], [3], 3])
def test_environment_report_rejects_bad_input(bad):
    with pytest.raises(TypeError, match="packages must"):
        environment_report(bad)


def test_library_versions_is_what_the_report_tables():
    versions = library_versions(["numpy", "python", "surely-not-installed-pkg"])
    assert list(versions) == ["python", "numpy", "surely-not-installed-pkg"]
    assert versions["python"] == sys.version.split()[0]  # not overwritten by the "python" asked for
    assert versions["numpy"] == np.__version__
    report = environment_report(["numpy", "surely-not-installed-pkg"])
    tabled = dict(zip(report["component"], report["version"]))
    assert {k: tabled[k] for k in versions} == versions
    assert list(library_versions()) == ["python", *BOOK_PACKAGES]


@pytest.mark.parametrize("bad", ["numpy", [None], 3])
def test_library_versions_rejects_bad_input(bad):
    with pytest.raises(TypeError, match="packages must"):
        library_versions(bad)


def test_package_exports_resolve_lazily():
    import subprocess
    import sys

    import mlbook_utils

    for name in mlbook_utils.__all__:
        assert getattr(mlbook_utils, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mlbook_utils.nope  # noqa: B018
    code = "import sys, mlbook_utils; mlbook_utils.make_churn; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "make_churn must not import matplotlib"
