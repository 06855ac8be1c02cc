"""How the quick CTSurvival trains: best epoch and internal validation loss per seeded split (issue 11).

Usage::

    python benchmarks/deep_training.py --splits 0                       # one split, the preset as it is
    python benchmarks/deep_training.py --splits 0 --set lr=3e-4         # one candidate cause at a time
    python benchmarks/deep_training.py --splits 0 1 2 3 4               # the check on 5 splits

For split ``s``: ``make_tace_cohort(301, random_state=s)`` split by the paper protocol
(:func:`sksurv_tace.paper.protocol.split_cohort`, event-stratified 8:2, seed ``s``); on the training
cohort the quick preset's ``CTSurvival`` (:func:`sksurv_tace.paper.presets.paper_models` with
``quick=True, random_state=s``: ResNet-18, 64 px ROIs with a 2 cm margin, AdamW, batch 32, up to 40
epochs, early stopping on the loss of an event-stratified 20% internal validation split, patience 10).
``--set name=value`` overrides one of its parameters (a Python literal), ``--set`` may repeat.

Printed per split: each epoch's training loss, internal validation loss and Harrell's C of the
internal validation patients; the ``null`` loss (the training patients' life-table hazards, the
same for everyone: what a net that learnt nothing but the baseline would score on the validation
patients); then the best epoch (lowest validation loss, the one early stopping restores), the
validation loss at epoch 1 and at the best epoch. The issue's check: best epoch >= 5 and
validation loss at the best epoch < at epoch 1, on each split.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import tempfile
import time

import numpy as np
import torch
from skorch.callbacks import Callback, EpochScoring

from sksurv_tace._threads import passive_openmp
from sksurv_tace.datasets.synthetic import make_tace_cohort
from sksurv_tace.models._net import EventStratifiedSplit, ValidationCIndex
from sksurv_tace.models.deep import CTSurvival
from sksurv_tace.models.nn import discrete_time_nll, encode_survival
from sksurv_tace.paper.presets import paper_models
from sksurv_tace.paper.protocol import split_cohort


class BatchNormProbe(Callback):
    """Per epoch: the validation loss with BatchNorm on the validation batch's own statistics (``valid_loss_bs``)
    and the training patients' loss in evaluation mode without augmentation (``train_loss_eval``).

    If the usual validation loss (BatchNorm's running statistics) swings while these two do not, the running
    statistics, not the weights, are off. No RNG is touched (dropout is switched off in the probe).
    """

    def __init__(self, split):
        self.split = split

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        module = net.module_
        losses = {}
        with torch.no_grad():
            for name, dataset, batch_stats in [("valid_loss_bs", dataset_valid, True),
                                               ("train_loss_eval", dataset_train, False)]:  # fmt: skip
                saved = {k: v.clone() for k, v in module.state_dict().items()}
                module.eval()
                if batch_stats:
                    for m in module.modules():
                        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                            m.train()
                total, n = 0.0, 0
                for Xi, yi in net.get_iterator(dataset, training=False):
                    y_pred = net.infer(Xi)
                    total += float(net.get_loss(y_pred, yi)) * len(yi)
                    n += len(yi)
                module.load_state_dict(saved)
                losses[name] = total / n
        module.train()
        for name, value in losses.items():
            net.history.record(name, value)


class RunningStatsProbe(Callback):
    """Records ``valid_loss_running``: the validation loss with BatchNorm's running averages as they are without
    ``recalibrate_bn`` (momentum 0.1 over the training batches, kept in shadow buffers by forward hooks).

    ``recalibrate_bn`` draws no random number and does not change the weights' trajectory (training batches
    are normalised by their own statistics), so one fit gives the validation loss before (this column) and
    after (``valid_loss``) the fix.
    """

    def on_train_begin(self, net, **kwargs):
        self.shadow_ = {}
        self.hooks_ = []
        for name, m in net.module_.named_modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                self.shadow_[name] = (m.running_mean.clone(), m.running_var.clone())
                self.hooks_.append(m.register_forward_hook(self._update(name)))

    def _update(self, name):
        def hook(module, inputs, output):
            if module.training and torch.is_grad_enabled():  # a training batch (not the recalibration pass)
                x = inputs[0].detach().float()
                dims = [0, *range(2, x.ndim)]
                mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=True)
                old_mean, old_var = self.shadow_[name]
                self.shadow_[name] = (0.9 * old_mean + 0.1 * mean, 0.9 * old_var + 0.1 * var)

        return hook

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        modules = dict(net.module_.named_modules())
        saved = {name: (modules[name].running_mean.clone(), modules[name].running_var.clone()) for name in self.shadow_}
        with torch.no_grad():
            for name, (mean, var) in self.shadow_.items():
                modules[name].running_mean.copy_(mean)
                modules[name].running_var.copy_(var)
            net.module_.eval()
            total, n = 0.0, 0
            for Xi, yi in net.get_iterator(dataset_valid, training=False):
                total += float(net.get_loss(net.infer(Xi), yi)) * len(yi)
                n += len(yi)
            for name, (mean, var) in saved.items():
                modules[name].running_mean.copy_(mean)
                modules[name].running_var.copy_(var)
        net.module_.train()
        net.history.record("valid_loss_running", total / n)

    def on_train_end(self, net, **kwargs):
        for hook in self.hooks_:
            hook.remove()
        self.hooks_ = []


class ProbedCTSurvival(CTSurvival):
    """``CTSurvival`` recording the internal validation patients' Harrell's C each epoch (no RNG is touched)."""

    probe = False

    def _make_net(self, cuts, device, module_kwargs, split):
        net = super()._make_net(cuts, device, module_kwargs, split)
        scoring = EpochScoring(ValidationCIndex(cuts, float(self.horizon)), lower_is_better=False, name="valid_c")
        extra = [("valid_c", scoring), ("running_stats", RunningStatsProbe())]
        if self.probe:
            extra.append(("bn_probe", BatchNormProbe(None)))
        net.callbacks = [*extra, *net.callbacks]
        return net


def null_valid_loss(model, time_, event) -> float:
    """Validation loss of the training patients' life-table hazards (one logit per interval for everyone)."""
    cuts = np.asarray(model.cuts_)
    kwargs = {"censoring": model.censoring} if hasattr(model, "censoring") else {}
    index, died = encode_survival(time_, event, cuts, **kwargs)
    target = np.column_stack([index, died]).astype(np.float32)
    split = EventStratifiedSplit(model.valid_fraction, model.random_state)
    train, valid = split(np.arange(len(target)), target)
    tr, va = np.asarray(train.indices), np.asarray(valid.indices)
    m = len(cuts) - 1
    at_risk = np.array([(index[tr] > j).sum() + ((index[tr] == j) & (died[tr] > 0)).sum() for j in range(m)])
    deaths = np.array([((index[tr] == j) & (died[tr] > 0)).sum() for j in range(m)])
    hazard = np.clip(deaths / np.maximum(at_risk, 1), 1e-4, 1 - 1e-4)
    logits = torch.tensor(np.log((1 - hazard) / hazard), dtype=torch.float32).repeat(len(va), 1)
    return float(discrete_time_nll(logits, torch.tensor(index[va]), torch.tensor(died[va])))


def _early_stopping_choice(losses, patience, max_epochs):
    """The epoch skorch's EarlyStopping (relative threshold 1e-4) keeps on this loss curve, and whether the curve is
    long enough to tell (False: it ends before the rule would have stopped, a later epoch could still have won)."""
    best_epoch, threshold = 0, np.inf
    for epoch, loss in enumerate(losses, start=1):
        if loss < threshold:
            best_epoch, threshold = epoch, loss * (1 - 1e-4)
        elif epoch - best_epoch >= patience:
            return best_epoch, True
    return best_epoch, len(losses) >= max_epochs


def run_split(seed: int, args, overrides: dict) -> dict:
    folder = os.path.join(args.workdir, f"cohort_{seed}")
    if os.path.isfile(os.path.join(folder, "manifest.csv")):
        from sksurv_tace.datasets import load_manifest

        X, y = load_manifest(os.path.join(folder, "manifest.csv"))
    else:
        X, y = make_tace_cohort(301, path=folder, random_state=seed, overwrite=True)
    idx_tr, _ = split_cohort(y, seed)
    preset = paper_models(quick=True, random_state=seed, memory=os.path.join(args.workdir, "cache"), progress=False)
    model = ProbedCTSurvival(**preset["CTSurvival"].get_params(deep=False))
    model.set_params(verbose=0, **overrides)
    model.probe = args.probe
    start = time.perf_counter()
    model.fit(X.iloc[idx_tr], y[idx_tr])
    seconds = time.perf_counter() - start
    history = model.history_
    train = np.array(history[:, "train_loss"], dtype=float)
    valid = np.array(history[:, "valid_loss"], dtype=float)
    valid_c = np.array(history[:, "valid_c"], dtype=float)
    null = null_valid_loss(model, y["time"][idx_tr], y["event"][idx_tr])
    print(f"\n# split {seed}: {len(idx_tr)} training patients, fit {seconds:.0f} s, null valid loss {null:.3f}")
    extra = ["valid_loss_running"] + (["valid_loss_bs", "train_loss_eval"] if args.probe else [])
    columns = [np.array(history[:, name], dtype=float) for name in extra]
    print("epoch  train_loss  valid_loss  valid_C" + "".join(f"  {name:>15s}" for name in extra))
    for k, (a, b, c) in enumerate(zip(train, valid, valid_c, strict=True), start=1):
        more = "".join(f"  {col[k - 1]:15.4f}" for col in columns)
        print(f"{k:5d}  {a:10.4f}  {b:10.4f}  {c:7.3f}{more}")
    best = int(model.best_epoch_[0]) if hasattr(model, "best_epoch_") else int(np.argmin(valid)) + 1
    running = np.array(history[:, "valid_loss_running"], dtype=float)
    best_running, complete = _early_stopping_choice(running, model.patience, model.max_epochs)
    return {
        "best_epoch_running": f"{best_running}" + ("" if complete else "+"),
        "valid_loss_running_epoch1": running[0],
        "valid_loss_running_best": running[best_running - 1],
        "split": seed,
        "epochs": len(valid),
        "best_epoch": best,
        "valid_loss_epoch1": valid[0],
        "valid_loss_best": valid[best - 1],
        "valid_loss_max": valid.max(),
        "null_loss": null,
        "valid_c_best": valid_c[best - 1],
        "seconds": seconds,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--probe", action="store_true", help="also record BatchNormProbe's two losses")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "deep_training"))
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[name] = value
    passive_openmp()
    torch.set_num_threads(1)
    print(f"overrides: {overrides or 'none'}; {platform.processor() or platform.machine()}, torch {torch.__version__}")
    rows = [run_split(seed, args, overrides) for seed in args.splits]
    print("\nBatchNorm running averages (as without recalibrate_bn) | the model's own validation loss")
    print("('+': the fit stopped before the running-average curve's early stopping would have; best so far)")
    print("| split | best epoch (running) | epoch 1 | best | epochs run | best epoch | epoch 1 | best | max | null "
          "| valid C at best |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['split']} | {r['best_epoch_running']} | {r['valid_loss_running_epoch1']:.3f} | "
            f"{r['valid_loss_running_best']:.3f} | {r['epochs']} | {r['best_epoch']} | {r['valid_loss_epoch1']:.3f} | "
            f"{r['valid_loss_best']:.3f} | {r['valid_loss_max']:.3f} | {r['null_loss']:.3f} | {r['valid_c_best']:.3f} |"
        )
    ok = all(r["best_epoch"] >= 5 and r["valid_loss_best"] < r["valid_loss_epoch1"] for r in rows)
    print(f"\nbest epoch >= 5 and best < epoch-1 loss on every split: {ok}")


if __name__ == "__main__":
    main()
