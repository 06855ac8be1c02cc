"""Throughput of the deep survival models: training images/s, skorch's overhead, ROI preprocessing cold vs cached.

Measures, on the chosen device:

1. images/s of one training epoch of :class:`sksurv_tace.models.CTSurvival`'s skorch loop (no
   augmentation, no scheduler or clipping, so it is the same work as the plain loop) for
   ResNet-18 at 112 px and ResNet-101 at 224 px (a few batches only for ResNet-101 on CPU);
2. the same epoch as a plain PyTorch loop on the same net (same initial weights, data, batch
   order and loss): skorch's overhead = skorch time / plain time (target <= 1.10);
3. images/s of the estimator's real training step (augmentation, gradient clipping, cosine LR);
4. :class:`sksurv_tace.preprocessing.CTPreprocessor` on a synthetic cohort: cold (reads and crops every
   volume) vs cached (``memory=`` folder already filled);
5. on CUDA: fp32 vs bfloat16 autocast + channels-last.

Usage::

    python benchmarks/perf_fusion.py                      # CPU, default sizes
    python benchmarks/perf_fusion.py --device cuda        # GPU: adds fp32 vs AMP + channels_last
    python benchmarks/perf_fusion.py --quick              # smoke run (tiny)

Prints a table and writes JSON with ``--json PATH``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time

import numpy as np
import torch
from skorch.helper import SliceDict

from sksurv_tace.datasets.synthetic import make_tace_cohort
from sksurv_tace.models._net import SurvivalNet, training_callbacks
from sksurv_tace.models.nn import DEFAULT_CUTS, ImageOnlyNet, discrete_time_nll, encode_survival
from sksurv_tace.preprocessing.imaging import CTPreprocessor


def _data(n, size, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((n, 3, size, size), dtype=np.float32)
    time_ = rng.exponential(800.0, n)
    event = rng.random(n) < 0.7
    index, died = encode_survival(time_, event)
    target = np.column_stack([index, died, time_, event]).astype(np.float32)
    return images, target


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _skorch_net(backbone, batch_size, device, *, amp, realistic):
    """The skorch net CTSurvival owns (``net_``), built as ``CTSurvival.fit`` builds it."""
    callbacks = []
    if realistic:
        callbacks = training_callbacks(
            cuts=np.asarray(DEFAULT_CUTS, dtype=float), horizon=1095.0, early_stopping=None, patience=10,
            gradient_clip=1.0, lr_schedule="cosine", max_epochs=1, progress=False,
        )  # fmt: skip
    net = SurvivalNet(
        ImageOnlyNet,
        module__backbone=backbone,
        augment=realistic,
        amp=amp,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=1e-4,
        batch_size=batch_size,
        max_epochs=1,
        train_split=None,
        callbacks=callbacks,
        verbose=0,
        device=device,
        iterator_train__shuffle=False,
        iterator_train__drop_last=False,
    )
    return net.initialize()


def _time_skorch(net, images, target, repeats):
    X = SliceDict(image=images)
    times = []
    for _ in range(repeats):
        _sync(net.device)
        start = time.perf_counter()
        net.partial_fit(X, target)
        _sync(net.device)
        times.append(time.perf_counter() - start)
    return times


def _time_plain(module, images, target, batch_size, device, repeats, *, amp, lr=1e-3, weight_decay=1e-4):
    """The loop skorch runs, written by hand: same optimizer, loss, batch order, device moves."""
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    channels_last = amp and str(device).startswith("cuda")
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        module.train()
        for i in range(0, len(images), batch_size):
            image = torch.as_tensor(images[i : i + batch_size]).to(device)
            if channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            y = torch.as_tensor(target[i : i + batch_size]).to(device)
            optimizer.zero_grad()
            context = torch.autocast("cuda", dtype=torch.bfloat16) if channels_last else _null()
            with context:
                logits = module(image=image)
            loss = discrete_time_nll(logits.float(), y[:, 0].long(), y[:, 1])
            loss.backward()
            optimizer.step()
            loss.item()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def bench_training(backbone, size, n_images, batch_size, device, repeats, *, amp=False):
    images, target = _data(n_images, size)
    torch.manual_seed(0)
    net = _skorch_net(backbone, batch_size, device, amp=amp, realistic=False)
    plain = type(net.module_)(backbone=backbone).to(device)
    plain.load_state_dict(net.module_.state_dict())
    if amp and str(device).startswith("cuda"):
        plain = plain.to(memory_format=torch.channels_last)
    # warm-up (allocator, oneDNN/cuDNN kernel selection) on one batch each
    _time_skorch(net, images[:batch_size], target[:batch_size], 1)
    _time_plain(plain, images[:batch_size], target[:batch_size], batch_size, device, 1, amp=amp)
    skorch_times, plain_times = [], []
    for _ in range(repeats):  # interleave to share the machine's noise
        skorch_times += _time_skorch(net, images, target, 1)
        plain_times += _time_plain(plain, images, target, batch_size, device, 1, amp=amp)
    real = _skorch_net(backbone, batch_size, device, amp=amp, realistic=True)
    _time_skorch(real, images[:batch_size], target[:batch_size], 1)
    real_times = _time_skorch(real, images, target, repeats)
    t_skorch, t_plain, t_real = (statistics.median(t) for t in (skorch_times, plain_times, real_times))
    return {
        "backbone": backbone,
        "image_size": size,
        "n_images": n_images,
        "batch_size": batch_size,
        "device": str(device),
        "amp_channels_last": bool(amp),
        "skorch_images_per_s": n_images / t_skorch,
        "plain_images_per_s": n_images / t_plain,
        "skorch_overhead": t_skorch / t_plain,
        "estimator_step_images_per_s": n_images / t_real,
        "skorch_s": skorch_times,
        "plain_s": plain_times,
    }


def bench_preprocessing(n_patients, image_size, n_jobs):
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        X, _ = make_tace_cohort(n_patients, path=folder, random_state=0)
        kwargs = dict(image_size=image_size, n_jobs=n_jobs)
        start = time.perf_counter()
        CTPreprocessor(**kwargs).fit_transform(X)
        no_cache = time.perf_counter() - start
        start = time.perf_counter()
        cold = CTPreprocessor(memory=cache, **kwargs).fit_transform(X)
        t_cold = time.perf_counter() - start
        start = time.perf_counter()
        cached = CTPreprocessor(memory=cache, **kwargs).fit_transform(X)
        t_cached = time.perf_counter() - start
        assert np.array_equal(cold, cached)
    return {
        "n_patients": n_patients,
        "image_size": image_size,
        "volume_shape": [32, 128, 128],
        "no_cache_s": no_cache,
        "cold_s": t_cold,
        "cached_s": t_cached,
        "speedup": t_cold / t_cached,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--skip-101", action="store_true")
    parser.add_argument("--skip-preprocessing", action="store_true", help="e.g. on a machine without SimpleITK")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    if args.quick:
        configs = [("resnet18", 64, 32, 16)]
        prep = (6, 64)
    elif cuda:
        configs = [("resnet18", 112, 512, 64), ("resnet101", 224, 256, 32)]
        prep = (60, 224)
    else:
        configs = [("resnet18", 112, 128, 16), ("resnet101", 224, 16, 8)]
        prep = (60, 224)
    if args.skip_101:
        configs = [c for c in configs if c[0] != "resnet101"]
    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name() if cuda else "cpu",
        },
        "training": [],
    }
    for backbone, size, n, batch in configs:
        for amp in [False, True] if cuda else [False]:
            row = bench_training(backbone, size, n, batch, args.device, args.repeats, amp=amp)
            results["training"].append(row)
            print(
                f"{backbone}@{size} {'AMP+CL' if amp else 'fp32':6s} n={n} batch={batch}: "
                f"skorch {row['skorch_images_per_s']:.1f} img/s, plain {row['plain_images_per_s']:.1f} img/s, "
                f"overhead {row['skorch_overhead']:.3f}x, estimator step (augment+clip+sched) "
                f"{row['estimator_step_images_per_s']:.1f} img/s",
                flush=True,
            )
    if args.skip_preprocessing:
        prep = None
    if prep is not None:
        results["preprocessing"] = p = bench_preprocessing(prep[0], prep[1], n_jobs=None)
        print(
            f"CTPreprocessor {p['n_patients']} patients (32x128x128 -> {p['image_size']} px): "
            f"no cache {p['no_cache_s']:.2f} s, "
            f"cold {p['cold_s']:.2f} s, cached {p['cached_s']:.3f} s ({p['speedup']:.0f}x)"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
