"""Training speed of our `handson.training.fit` beside Keras 3 (JAX backend) and PyTorch, on the CPU.

Run: `.venv/bin/python benchmarks/train_speed.py [--quick] [--models mlp,cnn,lstm,attention] [--reps 3]`.
The peers are an optional extra: `.venv/bin/pip install -e '.[bench]'` (a missing one is skipped).

Same data (scikit-learn's digits, the seeded 70/30 split of handson/data.py that every
demo uses: 1,258 training images, pixels in [0, 1]), batch 32, adam 1e-3, softmax
cross-entropy, the same epochs, and each framework's idiomatic loop:
  ours   `fit(model, optax.adam(1e-3), loss_fn, train=(x, y), epochs=E, key=...)`
  keras  `model.compile(optimizer="adam", loss=...)`, `model.fit(x, y, batch_size, epochs, shuffle=True)`
  torch  a plain loop over `torch.randperm` slices of pre-made tensors, `torch.optim.Adam`
Two models: the digits MLP 64 -> 64 -> 10 and the exercise CNN (CONTENT.md S6, 47,645
parameters; ours is demos/03_convolutional_networks/exercise_cnn.py's `cnn`) on the digits
upsampled to 32x32 (`jax.image.resize`; NHWC, NCHW for torch).
Deck 6 adds two sequence models, defined with their data in benchmarks/sequence_speed.py and
measured in tokens/s: the character LSTM (`keras.layers.LSTM`, `nn.LSTM`) and the Transformer
block (`keras.layers.MultiHeadAttention`, `nn.MultiheadAttention`), adam 3e-3.

Three measurements, medians of interleaved repetitions (ours, keras, torch, ours, ...):
  images/s      steady state: images trained in epochs 2..E over the time between the end of
                epoch 1 (which compiles) and the end of epoch E, in this process
  whole run     a fresh model trained E epochs in this process: build + compile + train
  whole process a separate python process: imports + data from .npz + build + train E epochs;
                ours with JAX's persistent compilation cache warm (`enable_compile_cache`,
                filled by one untimed process first), the peers as they come
Where an epoch ends: ours: fit's `on_epoch` callback (called once the epoch's losses reach
the host); keras: a callback's `on_epoch_end`; torch: the loop itself.
Each framework counts the images it trains on (ours drops the last incomplete batch).

It is a measurement, not a test: it prints PASS/FAIL per goal and exits 0 either way.
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported anywhere in this process
# One XLA host device per core, before jax starts (the whole-process workers inherit it): ours
# trains the character LSTM data-parallel over them (sequence_speed.DATA_PARALLEL), as PyTorch
# runs nn.LSTM's products on every core. Everything else (Keras included) runs on the first.
HOST_DEVICES = f"--xla_force_host_platform_device_count={os.cpu_count()}"
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {HOST_DEVICES}".strip()

import numpy as np

import sequence_speed  # deck 6's models: the character LSTM and the Transformer block

ROOT = Path(__file__).resolve().parent.parent
SEED = 0  # one seed for the split, the models and the shuffles
BATCH = 32  # the demos' batch size
LEARNING_RATE = 1e-3  # adam, as in the demos (keras' "adam" default is 1e-3 too)
REPS = 3  # interleaved repetitions (medians)
EPOCHS = {"mlp": 1 + 50, "cnn": 1 + 3}  # one warm-up epoch (compiles) + timed epochs
QUICK_EPOCHS = {"mlp": 1 + 5, "cnn": 1 + 1}  # --quick: a smoke run, one repetition
EPOCHS.update(lstm=1 + 5, attention=1 + 5)  # deck 6 (benchmarks/sequence_speed.py)
QUICK_EPOCHS.update(lstm=1 + 1, attention=1 + 1)
FRAMEWORKS = ("ours", "keras", "torch")
PROTOTYPES = {"cnn": {  # info rows: ours before (lax convolutions) and with a pooling prototype
    "lax_conv": ("ours, XLA convolutions (fit conv=\"lax\")", {"conv": "lax"}),
    "reshape_pool": ("ours + reshape_max_pool (prototype)", {"reshape_pool": True}),
}, "lstm": {  # ... and the LSTM without data parallelism
    "one_device": ("ours on one device (fit's default)", {"one_device": True}),
}}
PEERS = {"keras": "keras", "torch": "torch"}  # framework -> module that must be importable
TITLES = {"mlp": "digits MLP 64 -> 64 -> 10 (4,810 params), 8x8 inputs",
          "cnn": "exercise CNN S6 (47,645 params), 32x32x1 inputs", **sequence_speed.TITLES}
UNITS = {"lstm": "tokens/s", "attention": "tokens/s"}  # what a rate counts (else images/s)
GOALS = {  # model -> (peer, minimum images/s ratio ours / peer)
    "mlp": [("keras", 1.0), ("torch", 1.0), ("keras", 4.0)],
    "cnn": [("keras", 1.0), ("torch", 1.0)],
    "lstm": [("keras", 1.0), ("torch", 1.0)],
    "attention": [("keras", 1.0), ("torch", 1.0)],
}


# ---------------------------------------------------------------------------- data
def make_data(path: Path) -> None:
    """The training digits as .npz: x_mlp (n, 64), x_nhwc (n, 32, 32, 1), x_nchw, y (n,)."""
    import jax

    from handson.data import digits

    (x, y), _ = digits(SEED)
    x32 = np.asarray(jax.image.resize(x.reshape(-1, 8, 8, 1), (len(x), 32, 32, 1), "bilinear"))
    np.savez(path, x_mlp=x, x_nhwc=x32, x_nchw=np.ascontiguousarray(x32.transpose(0, 3, 1, 2)), y=y,
             **sequence_speed.make_data())


def load_data(path: Path, framework: str, model: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        if model in sequence_speed.MODELS:
            return sequence_speed.load(data, model)
        key = "x_mlp" if model == "mlp" else "x_nchw" if framework == "torch" else "x_nhwc"
        return data[key], data["y"]


# ---------------------------------------------------------------------------- ours
def exercise_cnn():
    """demos/03_convolutional_networks/exercise_cnn.py: (cnn(rngs), its pool), defined there once."""
    sys.path.insert(0, str(ROOT / "demos" / "03_convolutional_networks"))
    try:
        import exercise_cnn
    finally:
        sys.path.pop(0)
    return exercise_cnn.cnn, exercise_cnn.pool


def reshape_max_pool(x):
    """PROTOTYPE: 2x2 max pool, stride 2, as reshape + max: its gradient avoids XLA CPU's slow
    select_and_scatter_add (nnx.max_pool's). Forward values are identical; on ties the gradient
    is shared instead of going to the first maximum (after a ReLU, tied zeros get none anyway)."""
    b, h, w, c = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def train_ours(model: str, x, y, epochs: int, conv: str = "auto", reshape_pool: bool = False) -> dict:
    """The keywords are for information rows on the CNN: `conv="lax"` trains with XLA's
    convolutions (fit before handson/matmul_conv.py), `reshape_pool` uses reshape_max_pool."""
    import jax
    import optax
    from flax import nnx

    from handson.training import fit

    start = time.perf_counter()
    rngs = nnx.Rngs(SEED)
    if model == "mlp":
        net = nnx.Sequential(nnx.Linear(64, 64, rngs=rngs), nnx.relu, nnx.Linear(64, 10, rngs=rngs))
    else:  # the exercise CNN that demos/03_convolutional_networks/train_cnn.py trains
        cnn, pool = exercise_cnn()
        net = cnn(rngs)
        if reshape_pool:
            for i, layer in enumerate(net.layers):
                if layer is pool:
                    net.layers[i] = reshape_max_pool

    def loss_fn(net, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(net(x), y).mean()

    ends = []
    history = fit(net, optax.adam(LEARNING_RATE), loss_fn, train=(x, y), epochs=epochs,
                  batch_size=BATCH, key=jax.random.key(SEED), conv=conv,
                  on_epoch=lambda epoch, logs: ends.append(time.perf_counter()))
    return {"start": start, "ends": ends, "images": len(x) // BATCH * BATCH,
            "loss": history.train_loss[-1]}


# ---------------------------------------------------------------------------- keras
def train_keras(model: str, x, y, epochs: int) -> dict:
    import keras
    from keras import layers

    ends = []
    start = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    if model == "mlp":
        net = keras.Sequential([keras.Input((64,)), layers.Dense(64, activation="relu"), layers.Dense(10)])
    else:
        net = keras.Sequential([
            keras.Input((32, 32, 1)),
            layers.Conv2D(10, (5, 5), activation="relu"), layers.MaxPooling2D((2, 2)),
            layers.Conv2D(25, (5, 5), activation="relu"), layers.MaxPooling2D((2, 2)),
            layers.Conv2D(100, (4, 4), activation="relu"), layers.MaxPooling2D((2, 2)),
            layers.Flatten(), layers.Dense(10)])
    net.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = net.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0,
                      callbacks=[sequence_speed.keras_epoch_clock(ends)])
    return {"start": start, "ends": ends, "images": len(x), "loss": history.history["loss"][-1]}


# ---------------------------------------------------------------------------- torch
def train_torch(model: str, x, y, epochs: int) -> dict:
    import torch
    from torch import nn

    start = time.perf_counter()
    torch.manual_seed(SEED)
    if model == "mlp":
        net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    else:
        net = nn.Sequential(
            nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(10, 25, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(25, 100, 4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(100, 10))
    x, y = torch.from_numpy(x), torch.from_numpy(y).long()
    ends, loss = sequence_speed.torch_epochs(net, x, y, BATCH, epochs, LEARNING_RATE, nn.CrossEntropyLoss())
    return {"start": start, "ends": ends, "images": len(x), "loss": loss}


def train_torch_one_thread(model: str, x, y, epochs: int) -> dict:
    """train_torch with torch.set_num_threads(1): a busy 2-core machine stalls torch's 2 threads."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return TRAIN["torch"](model, x, y, epochs)
    finally:
        torch.set_num_threads(threads)


def by_model(general, sequences):
    """Deck 6's models train with benchmarks/sequence_speed.py's functions, the others here."""
    return lambda model, *args, **kwargs: (sequences if model in sequence_speed.MODELS else general)(
        model, *args, **kwargs)


TRAIN = {"ours": by_model(train_ours, sequence_speed.train_ours),
         "keras": by_model(train_keras, sequence_speed.train_keras),
         "torch": by_model(train_torch, sequence_speed.train_torch)}


def summarize(run: dict) -> dict:
    """-> images/s over epochs 2..E, whole-run seconds, last-epoch loss."""
    ends, epochs = run["ends"], len(run["ends"])
    rate = run["images"] * (epochs - 1) / (ends[-1] - ends[0]) if epochs > 1 else float("nan")
    return {"rate": rate, "run": ends[-1] - run["start"], "loss": float(run["loss"])}


# ---------------------------------------------------------------------------- whole process
def worker(framework: str, model: str, epochs: int, data: Path) -> None:
    """The body of a whole-process run: prints one JSON line."""
    if framework == "ours":
        from handson.demo import enable_compile_cache
        enable_compile_cache()  # JAX_COMPILATION_CACHE_DIR from the parent
    x, y = load_data(data, framework, model)
    print(json.dumps(summarize(TRAIN[framework](model, x, y, epochs))))


def whole_process(framework: str, model: str, epochs: int, data: Path, cache: Path) -> float:
    env = dict(os.environ, KERAS_BACKEND="jax")
    if framework == "ours":  # jax reads this variable on its own: the peers must not see it
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--worker", framework, "--models", model,
                           "--epochs", str(epochs), "--data", str(data)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{framework} {model} process failed:\n{done.stderr[-3000:]}")
    return seconds


# ---------------------------------------------------------------------------- report
def versions(frameworks) -> dict:
    import flax
    import jax
    names = {"ours": f"ours (fit; jax {jax.__version__}, flax {flax.__version__})"}
    if "keras" in frameworks:
        import keras
        names["keras"] = f"keras {keras.__version__} (jax backend)"
    if "torch" in frameworks:
        import torch
        names["torch"] = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    return names


def median(values):
    return statistics.median(values) if values else float("nan")


def table(model: str, epochs: int, reps: int, frameworks, names, results) -> list[str]:
    """One model's table; results[framework] = {"rate": [...], "run": [...], "process": [...]}."""
    med = {fw: {k: median(v) for k, v in results[fw].items()} for fw in frameworks}
    ours = med["ours"]
    batch = sequence_speed.SIZES[model]["batch"] if model in sequence_speed.MODELS else BATCH
    lines = [f"\n{TITLES[model]}: batch {batch}, {epochs} epochs (1 warm-up + {epochs - 1} timed), "
             f"medians of {reps}",
             f"  {'framework':44s} {UNITS.get(model, 'images/s'):>9s} {'ours x':>7s} {'whole run s':>12s} {'ours x':>7s} "
             f"{'whole process s':>16s} {'ours x':>7s} {'loss':>7s}"]
    for fw in frameworks:
        m = med[fw]
        lines.append(f"  {names[fw]:44s} {m['rate']:9.0f} {ours['rate'] / m['rate']:7.2f} {m['run']:12.2f} "
                     f"{m['run'] / ours['run']:7.2f} {m['process']:16.2f} {m['process'] / ours['process']:7.2f} "
                     f"{m['loss']:7.3f}")
    for label, (name, _) in PROTOTYPES.get(model, {}).items():
        rate, run = ours[f"{label} rate"], ours[f"{label} run"]
        lines.append(f"  {name:44s} {rate:9.0f} {ours['rate'] / rate:7.2f} {run:12.2f} "
                     f"{run / ours['run']:7.2f} {'':16s} {'':7s} {ours[f'{label} loss']:7.3f}")
    if "torch" in frameworks:
        one = med["torch"]
        lines.append(f"  {'torch, 1 thread (info)':44s} {one['1 thread rate']:9.0f} "
                     f"{ours['rate'] / one['1 thread rate']:7.2f} {one['1 thread run']:12.2f} "
                     f"{one['1 thread run'] / ours['run']:7.2f} {'':16s} {'':7s} {one['1 thread loss']:7.3f}")
    if "cold" in results["ours"]:
        cold = med["ours"]["cold"]
        lines.append(f"  {'ours, empty compile cache (info)':44s} {'':9s} {'':7s} {'':12s} {'':7s} "
                     f"{cold:16.2f} {cold / ours['process']:7.2f}")
    if sequence_speed.DATA_PARALLEL.get(model):
        import jax
        lines.append(f"  ours: fit(devices=jax.devices()), each batch split over {jax.device_count()} XLA host devices")
    lines.append("  ours x: how many times faster ours is (images/s ours/peer, times peer/ours); "
                 "loss: mean train loss of the last epoch")
    lines.append("  every repetition (images/s, run = whole run s, process = whole process s):")
    for fw in frameworks:
        raw = "; ".join(f"{key} " + " ".join(f"{v:.4g}" for v in values)
                        for key, values in results[fw].items() if not key.endswith("loss"))
        lines.append(f"    {fw}: {raw}")
    return lines


def verdicts(model: str, frameworks, results) -> list[tuple[str, str, str]]:
    med = {fw: {k: median(v) for k, v in results[fw].items()} for fw in results}
    rows = []
    for peer, minimum in GOALS[model]:
        goal = f"{model}: ours {UNITS.get(model, 'images/s')} >= {minimum:.1f}x {peer}"
        if peer not in frameworks:
            rows.append((goal, "-", f"SKIP ({peer} not installed)"))
            continue
        ratio = med["ours"]["rate"] / med[peer]["rate"]
        rows.append((goal, f"{ratio:.2f}x", "PASS" if ratio >= minimum else "FAIL"))
    for peer in ("keras", "torch"):
        goal = f"{model}: ours whole process (warm cache) < {peer}"
        if peer not in frameworks:
            rows.append((goal, "-", f"SKIP ({peer} not installed)"))
            continue
        ours, theirs = med["ours"]["process"], med[peer]["process"]
        rows.append((goal, f"{ours:.2f} s vs {theirs:.2f} s", "PASS" if ours < theirs else "FAIL"))
    return rows


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repetition, few epochs")
    parser.add_argument("--models", default="mlp,cnn,lstm,attention",
                        help="comma-separated: mlp, cnn, lstm, attention")
    parser.add_argument("--reps", type=int, default=None, help=f"repetitions (default {REPS}, 1 with --quick)")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.models, args.epochs, args.data)

    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)  # compile for real in this process
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if unknown := set(models) - set(EPOCHS):
        parser.error(f"unknown model(s) {sorted(unknown)}; choose from {sorted(EPOCHS)}")
    reps = args.reps or (1 if args.quick else REPS)
    epochs = QUICK_EPOCHS if args.quick else EPOCHS
    frameworks = ["ours"]
    for fw, module in PEERS.items():
        if importlib.util.find_spec(module) is None:
            print(f"{fw}: `{module}` is not installed, skipping it. Install the peers with "
                  f"`.venv/bin/pip install -e '.[bench]'` (torch==2.13.0 is the CPU wheel).")
        else:
            frameworks.append(fw)

    began = time.perf_counter()
    names = versions(frameworks)
    print(f"train_speed: {platform.machine()} {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} at start; python {platform.python_version()}; "
          f"{reps} repetition(s), interleaved {' '.join(frameworks)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="train_speed_") as tmp:
        tmp = Path(tmp)
        data = tmp / "digits.npz"
        make_data(data)
        warm_cache = tmp / "jax_cache"
        arrays = {(fw, m): load_data(data, fw, m) for fw in frameworks for m in models}
        results = {m: {fw: {"rate": [], "run": [], "process": [], "loss": []} for fw in frameworks}
                   for m in models}
        for m in models:  # untimed: loads each library's lazy parts, fills ours' compile cache
            for fw in frameworks:
                TRAIN[fw](m, *arrays[fw, m], 2)
            results[m]["ours"]["cold"] = []
            whole_process("ours", m, epochs[m], data, warm_cache)
            print(f"warmed up {m} ({time.perf_counter() - began:.0f} s)", flush=True)
        for rep in range(reps):
            for m in models:
                for fw in frameworks:  # in this process: images/s and whole run
                    summary = summarize(TRAIN[fw](m, *arrays[fw, m], epochs[m]))
                    for key in ("rate", "run", "loss"):
                        results[m][fw][key].append(summary[key])
                for label, (_, kwargs) in PROTOTYPES.get(m, {}).items():  # for information: options for fit
                    for key, value in summarize(TRAIN["ours"](m, *arrays["ours", m], epochs[m], **kwargs)).items():
                        results[m]["ours"].setdefault(f"{label} {key}", []).append(value)
                if "torch" in frameworks:  # for information: torch without its second thread
                    for key, value in summarize(train_torch_one_thread(m, *arrays["torch", m], epochs[m])).items():
                        results[m]["torch"].setdefault(f"1 thread {key}", []).append(value)
                for fw in frameworks:  # whole process, ours with its warm cache
                    results[m][fw]["process"].append(whole_process(fw, m, epochs[m], data, warm_cache))
                cold = tmp / f"cold_{m}_{rep}"  # ours with an empty cache, for information
                results[m]["ours"]["cold"].append(whole_process("ours", m, epochs[m], data, cold))
            print(f"repetition {rep + 1}/{reps} done ({time.perf_counter() - began:.0f} s)", flush=True)

    for m in models:
        print("\n".join(table(m, epochs[m], reps, frameworks, names, results[m])))
    rows = [row for m in models for row in verdicts(m, frameworks, results[m])]
    print("\nGoals" + (" (--quick: a smoke run, its few epochs too short to judge them; run without "
                        "--quick for the verdicts)" if args.quick else ""))
    for goal, measured, verdict in rows:
        print(f"  {goal:48s} {measured:>22s}  {verdict}")
    print(f"\ntotal {time.perf_counter() - began:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
