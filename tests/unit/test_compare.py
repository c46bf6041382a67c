import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_blobs, make_regression
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeClassifier

from mlbook_utils import PALETTE, compare_models, plot_decision_regions


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_compare_models_table():
    X, y = load_iris(return_X_y=True)
    table = compare_models(
        {"dummy": DummyClassifier(), "tree": DecisionTreeClassifier(random_state=0)}, X, y, cv=3
    )
    assert list(table.index) == ["dummy", "tree"]
    assert table.loc["dummy", "score_mean"] == pytest.approx(1 / 3, abs=0.02)
    assert table.loc["tree", "score_mean"] > 0.9
    assert (table[["fit_s", "predict_s"]] >= 0).all().all()


def test_compare_models_scoring_and_splitter():
    X, y = make_regression(60, 3, noise=1.0, random_state=0)
    table = compare_models({"ols": LinearRegression()}, X, y,
                           cv=KFold(4, shuffle=True, random_state=0), scoring="neg_mean_absolute_error")
    assert table.loc["ols", "score_mean"] < 0


@pytest.mark.parametrize(
    ("models", "kwargs", "error", "match"),
    [
        ({}, {}, TypeError, "non-empty mapping"),
        ([LinearRegression()], {}, TypeError, "non-empty mapping"),
        ({1: LinearRegression()}, {}, TypeError, "names must be strings"),
        ({"x": "not a model"}, {}, TypeError, "no fit method"),
        ({"ols": LinearRegression()}, {"cv": 1}, ValueError, "at least 2 folds"),
    ],
)
def test_compare_models_rejects_bad_input(models, kwargs, error, match):
    X, y = make_regression(20, 2, random_state=0)
    with pytest.raises(error, match=match):
        compare_models(models, X, y, **kwargs)


def test_plot_decision_regions_draws_regions_and_points():
    X, y = make_blobs(90, centers=3, random_state=0)
    model = LogisticRegression().fit(X, y)
    ax = plot_decision_regions(model, X, y, title="three blobs")
    assert ax.get_title() == "three blobs"
    assert len(ax.collections) >= 4  # the filled regions plus one scatter per class
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    face = ax.collections[-1].get_facecolor()[0]
    assert matplotlib.colors.to_hex(face) == PALETTE[2].lower()


def test_plot_decision_regions_labels_axes_from_a_frame():
    X, y = make_blobs(40, centers=2, random_state=1)
    frame = pd.DataFrame(X, columns=["width", "height"])
    model = LogisticRegression().fit(frame, y)
    ax = plot_decision_regions(model, frame, y, response_method="predict_proba")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("width", "height")


def test_plot_decision_regions_traces_score_contours():
    from sklearn.svm import SVC

    X, y = make_blobs(n_samples=60, centers=2, random_state=6)
    model = SVC(kernel="linear").fit(X, y)
    ax = plot_decision_regions(model, X, y, response_method="decision_function", contours=[1, 0, -1])
    (lines,) = [c for c in ax.collections if hasattr(c, "levels") and list(c.levels) == [-1.0, 0.0, 1.0]]
    assert lines.get_linestyles()[1] == (0, None)  # the boundary is solid
    with pytest.raises(ValueError, match="contours need a score"):
        plot_decision_regions(model, X, y, contours=[0])
    with pytest.raises(ValueError, match="at least one level"):
        plot_decision_regions(model, X, y, response_method="decision_function", contours=[])


def test_plot_decision_regions_rejects_bad_input():
    X, y = make_blobs(40, centers=2, random_state=1)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="exactly two columns"):
        plot_decision_regions(model, np.c_[X, X[:, :1]], y)
    with pytest.raises(ValueError, match="one label per row"):
        plot_decision_regions(model, X, y[:-1])
    with pytest.raises(ValueError, match="response_method"):
        plot_decision_regions(model, X, y, response_method="guess")
    with pytest.raises(TypeError, match="must be a classifier"):
        plot_decision_regions(LinearRegression().fit(X, y), X, y)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plot_decision_regions(LogisticRegression(), X, y)
    X3, y3 = make_blobs(60, centers=3, random_state=0)
    with pytest.raises(ValueError, match="binary"):
        plot_decision_regions(LogisticRegression().fit(X3, y3), X3, y3, response_method="predict_proba")
