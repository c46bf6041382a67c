"""What the deep learning pages share once the training loop has been taught.

Chapter 4's training page writes the loop out in full; the pages after it call :func:`fit`,
which is that loop with a history, early stopping and a progress bar. The rest is plumbing
that would distract from a lesson: picking the device, turning arrays into ``DataLoader``s,
predicting a whole loader in evaluation mode.

PyTorch is imported when this module is, so pages that never train a network do not pay for it.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from mlbook_utils._validate import check_bool, check_int, check_positive, check_seed

_DEVICES = ("cuda", "cpu")


def get_device(prefer: str | None = None) -> torch.device:
    """The device to train on: CUDA when a GPU is present, else the CPU.

    Parameters
    ----------
    prefer:
        ``None`` (default) picks ``"cuda"`` when ``torch.cuda.is_available()``, else ``"cpu"``.
        ``"cpu"`` forces the CPU; ``"cuda"`` insists on a GPU and raises if there is none.

    Examples
    --------
    >>> get_device("cpu")
    device(type='cpu')
    >>> get_device().type in {"cpu", "cuda"}
    True
    """
    if prefer is not None and prefer not in _DEVICES:
        raise ValueError(f"prefer must be None, 'cuda' or 'cpu', got {prefer!r}")
    if prefer == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if prefer == "cuda":
        raise RuntimeError("prefer='cuda' but torch.cuda.is_available() is False: no GPU is visible")
    return torch.device("cpu")


def _as_tensor(name: str, values: Any, *, target: bool,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        tensor = values.detach()
    else:
        if hasattr(values, "to_numpy"):  # pandas DataFrame or Series
            values = values.to_numpy()
        array = np.asarray(values)
        if array.dtype == object or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == bool
        ):
            raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}")
        tensor = torch.tensor(array)  # a copy: pandas 3 hands out read-only arrays
    if tensor.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if target and not tensor.is_floating_point() and tensor.dtype != torch.bool:
        return tensor.to(torch.int64)  # class labels: what CrossEntropyLoss expects
    return tensor.to(torch.float32 if target else dtype)


def make_loader(
    X: Any,
    y: Any = None,
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int | None = None,
    x_dtype: torch.dtype = torch.float32,
) -> DataLoader:
    """A ``DataLoader`` over arrays, frames or tensors, with a seeded shuffle.

    It yields the same batches, in the same order, as
    ``DataLoader(TensorDataset(X, y), batch_size, shuffle=shuffle, generator=...)``, several times
    faster: each batch is one slice of the tensors. Features become ``float32``; integer targets become ``int64`` class labels (what
    ``nn.CrossEntropyLoss`` expects) and float targets ``float32``. Memory is pinned only when a
    GPU is present (on the CPU pinning does nothing but warn).

    Parameters
    ----------
    X:
        Features, shape ``(n, ...)``: a NumPy array, a pandas frame or a tensor.
    y:
        Targets of length ``n``, or ``None`` for a loader of features only.
    batch_size:
        Examples per batch (the last batch may be smaller).
    shuffle:
        Reshuffle the examples every epoch; then ``seed`` is required, so the order of the
        batches derives from the page's seed.
    seed:
        Seed of the shuffling generator (``SEED`` or ``SEED + k`` on a page).
    x_dtype:
        The features' dtype: ``torch.float32`` (default), or ``torch.int64`` for token ids that
        feed an ``nn.Embedding``.

    Examples
    --------
    >>> loader = make_loader(np.zeros((10, 3)), np.arange(10), batch_size=4)
    >>> [tuple(xb.shape) for xb, _ in loader]
    [(4, 3), (4, 3), (2, 3)]
    >>> next(iter(loader))[1].dtype
    torch.int64
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    check_bool("shuffle", shuffle)
    if not isinstance(x_dtype, torch.dtype):
        raise TypeError(f"x_dtype must be a torch.dtype, got {type(x_dtype).__name__} {x_dtype!r}")
    features = _as_tensor("X", X, target=False, dtype=x_dtype)
    tensors = [features]
    if y is not None:
        targets = _as_tensor("y", y, target=True)
        if len(targets) != len(features):
            raise ValueError(
                f"X and y must have the same length, got {len(features)} and {len(targets)}"
            )
        tensors.append(targets)
    generator = None
    if shuffle:
        if seed is None:
            raise ValueError("shuffle=True needs a seed, so the batch order derives from the page's seed")
        generator = torch.Generator().manual_seed(check_seed(seed))
    elif seed is not None:
        check_seed(seed)
    # The batches of DataLoader(dataset, batch_size, shuffle, generator): the same examples in the
    # same order, drawn from the same generator. But each batch is sliced out of the tensors with
    # one index operation instead of being collated from single examples, which made loading
    # cost more than training for the small networks of these pages.
    dataset = TensorDataset(*tensors)
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(
        dataset,
        batch_size=None,
        sampler=BatchSampler(order, batch_size=batch_size, drop_last=False),
        generator=generator,
        pin_memory=torch.cuda.is_available(),
    )


@dataclass
class History:
    """What :func:`fit` records, one entry per epoch run.

    ``best_epoch`` is the (1-based) epoch whose weights the model holds at the end: with early
    stopping, the epoch of the lowest validation loss (its weights are restored); without, the
    last epoch (``val_loss`` still tells where the minimum was).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_loss)

    def to_frame(self) -> Any:
        """The history as a pandas DataFrame indexed by epoch (1, 2, ...)."""
        import pandas as pd

        data: dict[str, list[float]] = {"train_loss": self.train_loss, "lr": self.lr}
        if self.val_loss:
            data["val_loss"] = self.val_loss
        return pd.DataFrame(data, index=pd.RangeIndex(1, self.epochs + 1, name="epoch"))


def _to(batch: Iterable[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    non_blocking = device.type == "cuda"
    return [t.to(device, non_blocking=non_blocking) for t in batch]


def evaluate(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    device: torch.device | str | None = None,
) -> float:
    """Mean loss of ``model`` over ``loader`` in evaluation mode, without gradients.

    The mean is over examples (each batch's loss weighted by its size), so a short last batch
    counts for what it holds. The model is left in evaluation mode.

    Examples
    --------
    >>> model = nn.Linear(2, 1)
    >>> _ = nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    >>> loader = make_loader(np.ones((5, 2)), np.full((5, 1), 2.0))
    >>> evaluate(model, loader, nn.MSELoss(), device="cpu")
    4.0
    """
    device = torch.device(device) if device is not None else _model_device(model)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            xb, yb = _to(batch, device)
            total += float(loss_fn(model(xb), yb)) * len(xb)
            count += len(xb)
    if count == 0:
        raise ValueError("loader is empty")
    return total / count


def predict(model: nn.Module, data: DataLoader | Any, *, device: torch.device | str | None = None,
            batch_size: int = 1024) -> torch.Tensor:
    """The model's outputs for every example, in order, on the CPU.

    ``data`` is a ``DataLoader`` (its first tensor is the input; targets, if any, are ignored) or
    anything :func:`make_loader` accepts as ``X``. The model runs in evaluation mode without
    gradients and is left in evaluation mode.

    Examples
    --------
    >>> model = nn.Linear(3, 2)
    >>> predict(model, np.zeros((5, 3))).shape
    torch.Size([5, 2])
    """
    loader = data if isinstance(data, DataLoader) else make_loader(data, batch_size=batch_size)
    device = torch.device(device) if device is not None else _model_device(model)
    model.eval()
    outputs = []
    with torch.no_grad():
        for batch in loader:
            xb = batch[0].to(device)
            outputs.append(model(xb).cpu())
    if not outputs:
        raise ValueError("data is empty")
    return torch.cat(outputs)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# Schedulers that move the learning rate every batch, not every epoch.
_PER_BATCH = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    val_loader: DataLoader | None = None,
    scheduler: Any = None,
    patience: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    clip_grad_norm: float | None = None,
) -> History:
    """Train ``model`` with the loop chapter 4 writes out; return its :class:`History`.

    Each epoch runs the model in training mode over ``train_loader`` (``zero_grad``, forward,
    loss, ``backward``, ``step``), then, if ``val_loader`` is given, measures the validation loss
    in evaluation mode. The recorded training loss is the mean over the epoch's examples.

    Parameters
    ----------
    model, optimizer, loss_fn:
        The network (moved to ``device``), its optimizer and the loss ``loss_fn(output, target)``.
    train_loader, val_loader:
        Loaders of ``(input, target)`` batches.
    epochs:
        The most epochs to run.
    scheduler:
        A learning-rate scheduler. ``ReduceLROnPlateau`` is stepped with the validation loss
        (or the training loss when there is no validation loader), ``OneCycleLR`` and
        ``CyclicLR`` after every batch, any other after every epoch.
    patience:
        Early stopping: stop after ``patience`` epochs without a lower validation loss and
        restore the weights of the best epoch. Needs ``val_loader``. ``None`` never stops early
        (the weights of the last epoch are kept).
    device:
        Where to train; ``None`` uses :func:`get_device`.
    clip_grad_norm:
        If given, rescale the gradients before each step so that their joint L2 norm is at most
        this (``torch.nn.utils.clip_grad_norm_``), the usual guard for recurrent networks.
    progress:
        Show a tqdm bar over epochs with the latest losses. It writes to standard output, so a
        page's build (which fails on anything written to standard error) shows its last state.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> X = np.linspace(-1, 1, 64).reshape(-1, 1); y = 3 * X
    >>> model = nn.Linear(1, 1)
    >>> history = fit(model, make_loader(X, y, batch_size=16, shuffle=True, seed=0),
    ...               loss_fn=nn.MSELoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
    ...               epochs=30, device="cpu", progress=False)
    >>> history.epochs, history.train_loss[-1] < 1e-3
    (30, True)
    """
    epochs = check_int("epochs", epochs, minimum=1)
    check_bool("progress", progress)
    if clip_grad_norm is not None:
        clip_grad_norm = check_positive("clip_grad_norm", clip_grad_norm)
    if patience is not None:
        patience = check_int("patience", patience, minimum=1)
        if val_loader is None:
            raise ValueError("patience needs a val_loader: early stopping watches the validation loss")
    device = get_device() if device is None else torch.device(device)
    model.to(device)
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    per_batch = isinstance(scheduler, _PER_BATCH)

    history = History()
    best_loss, best_state, since_best = math.inf, None, 0
    bar = None
    if progress:
        from tqdm.std import tqdm

        bar = tqdm(total=epochs, unit="epoch", file=sys.stdout, ascii=True, mininterval=1.0)
    start = time.perf_counter()
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            total, count = 0.0, 0
            for batch in train_loader:
                xb, yb = _to(batch, device)
                optimizer.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                if clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                optimizer.step()
                if per_batch:
                    scheduler.step()
                total += float(loss.detach()) * len(xb)
                count += len(xb)
            if count == 0:
                raise ValueError("train_loader is empty")
            history.train_loss.append(total / count)
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
            watched = history.train_loss[-1]
            if val_loader is not None:
                watched = evaluate(model, val_loader, loss_fn, device=device)
                history.val_loss.append(watched)
            if scheduler is not None and not per_batch:
                scheduler.step(watched) if plateau else scheduler.step()
            if bar is not None:
                shown = {"train_loss": f"{history.train_loss[-1]:.4g}"}
                if history.val_loss:
                    shown["val_loss"] = f"{history.val_loss[-1]:.4g}"
                bar.set_postfix(shown, refresh=False)
                bar.update()
            if val_loader is not None and watched < best_loss:
                best_loss, since_best, history.best_epoch = watched, 0, epoch
                if patience is not None:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
            if patience is not None and since_best >= patience:
                history.stopped_early = epoch < epochs
                break
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    if patience is None:  # no early stopping: the model keeps the last epoch's weights
        history.best_epoch = history.epochs
    history.seconds = time.perf_counter() - start
    return history
