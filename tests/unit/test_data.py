import numpy as np
import pandas as pd
import pytest

from mlbook_utils import Dataset, list_datasets, load_dataset


@pytest.mark.parametrize("name", list(list_datasets()["name"]))
def test_every_dataset_loads_tidy(name):
    ds = load_dataset(name)
    assert isinstance(ds, Dataset)
    assert ds.target in ds.frame.columns
    assert ds.task in {"classification", "regression", "time series"}
    assert ds.description
    assert len(ds.X) == len(ds.y) == len(ds.frame) > 10
    assert ds.target not in ds.X.columns
    assert all(isinstance(c, str) and " " not in c for c in ds.frame.columns)


def test_breast_cancer_codes_malignant_as_positive():
    ds = load_dataset("breast_cancer")
    # The data set has 212 malignant and 357 benign tumours.
    assert ds.y.sum() == 212
    assert set(ds.y.unique()) == {0, 1}


def test_iris_species_are_named_categories():
    y = load_dataset("iris").y
    assert isinstance(y.dtype, pd.CategoricalDtype)
    assert list(y.cat.categories) == ["setosa", "versicolor", "virginica"]
    assert (y.value_counts() == 50).all()


def test_diabetes_is_unscaled():
    X = load_dataset("diabetes").X
    assert X["age"].between(18, 90).all()


def test_time_series_have_time_indexes():
    assert isinstance(load_dataset("co2").frame.index, pd.DatetimeIndex)
    nile = load_dataset("nile").frame
    assert isinstance(nile.index, pd.PeriodIndex)
    assert nile.index[0].year == 1871


def test_names_are_normalised():
    assert load_dataset("Breast-Cancer").name == "breast_cancer"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown data set 'titanic'.*iris"):
        load_dataset("titanic")


def test_non_string_name_is_a_type_error():
    with pytest.raises(TypeError, match="name must be a string"):
        load_dataset(3)


def test_loads_are_independent_copies():
    a = load_dataset("wine").frame
    a.iloc[0, 0] = np.nan
    assert not load_dataset("wine").frame.iloc[:, 0].isna().any()
