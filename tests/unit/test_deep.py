"""mlbook_utils.deep: device choice, loaders, the fit loop and its early stopping."""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from mlbook_utils import History, evaluate, fit, get_device, make_loader, predict  # noqa: E402


def test_get_device():
    assert get_device("cpu").type == "cpu"
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="prefer must be"):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPU"):
            get_device("cuda")


def test_make_loader_dtypes_and_batches():
    X = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [0.5] * 5})
    loader = make_loader(X, pd.Series([0, 1, 0, 1, 1]), batch_size=2)
    batches = list(loader)
    assert [len(xb) for xb, _ in batches] == [2, 2, 1]
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    floats = make_loader(np.zeros((3, 2)), np.array([0.1, 0.2, 0.3]))
    assert next(iter(floats))[1].dtype == torch.float32
    features_only = make_loader(np.zeros((3, 2)))
    assert len(next(iter(features_only))) == 1
    tokens = make_loader(np.array([[1, 2], [3, 4]]), np.array([0, 1]), x_dtype=torch.int64)
    assert next(iter(tokens))[0].dtype == torch.int64
    with pytest.raises(TypeError, match="x_dtype must be a torch.dtype"):
        make_loader(np.zeros((3, 2)), x_dtype="int64")


def test_make_loader_shuffle_is_seeded():
    X = np.arange(20).reshape(-1, 1)

    def order(seed):
        return torch.cat([xb for (xb,) in make_loader(X, batch_size=5, shuffle=True, seed=seed)]).ravel()

    assert torch.equal(order(3), order(3))
    assert not torch.equal(order(3), order(4))
    assert sorted(order(3).tolist()) == list(range(20))


def test_make_loader_matches_the_plain_dataloader():
    from torch.utils.data import DataLoader, TensorDataset

    X, y = torch.randn(50, 3), torch.randint(0, 2, (50,))
    plain = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True,
                       generator=torch.Generator().manual_seed(5))
    ours = make_loader(X, y, batch_size=8, shuffle=True, seed=5)
    assert len(ours) == len(plain) == 7
    for _ in range(3):  # a new order every epoch, the same as DataLoader's
        for (xa, ya), (xb, yb) in zip(plain, ours, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_make_loader_bad_input():
    with pytest.raises(ValueError, match="same length"):
        make_loader(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="needs a seed"):
        make_loader(np.zeros((3, 2)), shuffle=True)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        make_loader(np.zeros((3, 2)), batch_size=2.5)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        make_loader(np.zeros((3, 2)), batch_size=0)
    with pytest.raises(TypeError, match="must hold numbers"):
        make_loader(np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="scalar"):
        make_loader(np.float64(3.0))


def _regression(seed=0, n=128):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(n, 1))
    return X, y


def test_fit_learns_a_linear_map_and_records_history():
    torch.manual_seed(0)
    X, y = _regression()
    model = nn.Linear(3, 1)
    train = make_loader(X[:96], y[:96], batch_size=16, shuffle=True, seed=0)
    val = make_loader(X[96:], y[96:], batch_size=64)
    history = fit(model, train, val_loader=val, loss_fn=nn.MSELoss(),
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=40,
                  device="cpu", progress=False)
    assert isinstance(history, History)
    assert history.epochs == 40 and len(history.val_loss) == 40 and len(history.lr) == 40
    assert history.best_epoch == 40 and not history.stopped_early
    assert history.val_loss[-1] < 0.05 < history.val_loss[0]
    assert history.val_loss[-1] == pytest.approx(evaluate(model, val, nn.MSELoss()))
    assert list(history.to_frame().columns) == ["train_loss", "lr", "val_loss"]
    assert predict(model, X[96:]).shape == (32, 1)


def test_fit_is_repeatable():
    X, y = _regression()

    def run():
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
        fit(model, make_loader(X, y, batch_size=16, shuffle=True, seed=1), loss_fn=nn.MSELoss(),
            optimizer=torch.optim.Adam(model.parameters(), lr=1e-2), epochs=5, device="cpu",
            progress=False)
        return predict(model, X)

    assert torch.equal(run(), run())


def test_fit_early_stopping_restores_the_best_weights():
    torch.manual_seed(0)
    X, y = _regression(n=64)
    rng = np.random.default_rng(1)
    X_val, y_val = rng.normal(size=(64, 3)), rng.normal(size=(64, 1))  # unrelated: val loss rises
    model = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 1))
    val = make_loader(X_val, y_val)
    history = fit(model, make_loader(X, y, batch_size=8, shuffle=True, seed=0), val_loader=val,
                  loss_fn=nn.MSELoss(), optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
                  epochs=200, patience=3, device="cpu", progress=False)
    assert history.stopped_early and history.epochs < 200
    assert history.epochs - history.best_epoch == 3
    best = min(history.val_loss)
    assert history.val_loss[history.best_epoch - 1] == best
    assert evaluate(model, val, nn.MSELoss()) == pytest.approx(best)


def test_fit_steps_schedulers_at_the_right_time():
    X, y = _regression(n=64)
    train = make_loader(X, y, batch_size=16)  # 4 batches per epoch
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    step = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    history = fit(model, train, loss_fn=nn.MSELoss(), optimizer=opt, scheduler=step, epochs=4,
                  device="cpu", progress=False)
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=8)
    fit(model, train, loss_fn=nn.MSELoss(), optimizer=opt, scheduler=one_cycle, epochs=2,
        device="cpu", progress=False)
    assert one_cycle.last_epoch == 8  # stepped after each of the 8 batches
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    fit(model, train, loss_fn=nn.MSELoss(), optimizer=opt, scheduler=plateau, epochs=3,
        device="cpu", progress=False)  # stepped with the training loss: no error


def test_fit_clips_gradients():
    X, y = _regression(n=16)
    y = 1e6 * y  # huge gradients: one unclipped SGD step would overshoot wildly
    model = nn.Linear(3, 1)
    nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    fit(model, make_loader(X, y, batch_size=16), loss_fn=nn.MSELoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=1.0), epochs=1, device="cpu",
        progress=False, clip_grad_norm=0.5)
    step = torch.cat([model.weight.detach().ravel(), model.bias.detach()])
    assert float(torch.linalg.vector_norm(step)) == pytest.approx(0.5, rel=1e-5)
    with pytest.raises(ValueError, match="clip_grad_norm must be a finite number > 0"):
        fit(model, make_loader(X, y), loss_fn=nn.MSELoss(), epochs=1, clip_grad_norm=0,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False)


def test_fit_progress_bar_goes_to_stdout(capsys):
    X, y = _regression(n=32)
    model = nn.Linear(3, 1)
    fit(model, make_loader(X, y), loss_fn=nn.MSELoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=3, device="cpu")
    out, err = capsys.readouterr()
    assert err == "" and "3/3" in out and "train_loss" in out


def test_fit_bad_input():
    X, y = _regression(n=16)
    model = nn.Linear(3, 1)
    kwargs = dict(loss_fn=nn.MSELoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                  device="cpu", progress=False)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        fit(model, make_loader(X, y), epochs=0, **kwargs)
    with pytest.raises(ValueError, match="needs a val_loader"):
        fit(model, make_loader(X, y), epochs=2, patience=2, **kwargs)
    with pytest.raises(ValueError, match="train_loader is empty"):
        fit(model, make_loader(X[:0], y[:0]), epochs=1, **kwargs)
    with pytest.raises(ValueError, match="loader is empty"):
        evaluate(model, make_loader(X[:0], y[:0]), nn.MSELoss())
