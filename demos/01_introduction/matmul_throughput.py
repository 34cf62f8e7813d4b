"""This machine, now: matrix-multiply throughput with `jax.jit`, by data type and size.

Times an n×n by n×n product (2·n³ floating-point operations) on JAX's default device for
float32, bfloat16 and float16, keeping the best of a few calls after a warm-up call that
compiles, and reports GFLOP/s and the fraction of the device's peak where the peak can be
known: a table of datasheet numbers for GPUs, an estimate from /proc/cpuinfo for an x86 CPU
(cores × clock × floating-point operations per cycle from the vector flags). Small products
are dominated by the cost of launching them; large ones approach the peak.

Timings are not byte-reproducible: the numbers and the figure change from run to run and
with the load on the machine (the results record the device they ran on).
"""

import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style

DETERMINISTIC = False  # timings: a rerun gives other numbers (skip byte-for-byte rerun tests)
SEED = 0  # the matrices' values (irrelevant to the timing, fixed anyway)
SIZES = {"cpu": (128, 256, 512, 1024), "gpu": (1024, 2048, 4096, 8192)}  # n, per platform
DTYPES = ("float32", "bfloat16", "float16")  # data types timed, where the backend has them
REPEATS = 5  # timed calls per point after the warm-up; the fastest is kept
# What a speaker may change live (`make present`, docs/CONTRACTS.md): one data type at a time, or
# more repeats for a steadier best-of on a busy laptop.
KNOBS = {
    "dtypes": {"type": "choice", "label": "data types",
               "values": [["float32", "bfloat16", "float16"], ["float32"], ["bfloat16"], ["float16"]]},
    "repeats": {"type": "int", "min": 1, "max": 20, "warm": 1},
}
# Dense peaks in TFLOP/s (datasheets, no sparsity), matched in order against device_kind.
# float32 is the TF32 tensor-core peak where JAX's default precision may use it (A100 on).
GPU_PEAKS = [
    ("H200", {"float32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    ("H100 PCIe", {"float32": 378.0, "bfloat16": 756.0, "float16": 756.0}),
    ("H100", {"float32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    ("A100", {"float32": 156.0, "bfloat16": 312.0, "float16": 312.0}),
    ("V100", {"float32": 15.7, "float16": 125.0}),
]
FIGSIZE = (8.6, 3.7)  # inches: full slide width, with a line of text below


# --8<-- [start:time]
def gflops(n: int, dtype: str, repeats: int = REPEATS) -> float:
    """Best-of-`repeats` GFLOP/s of an n×n matrix product, compiled by jax.jit."""
    matmul = jax.jit(jnp.matmul)
    a = jax.random.normal(jax.random.key(SEED), (n, n), dtype=dtype)
    b = a.T
    matmul(a, b).block_until_ready()  # warm-up: compiles, then runs once
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()  # JAX is asynchronous: wait
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9  # n³ multiply-adds
# --8<-- [end:time]


def cpu_info() -> dict:
    """The first value of each `key : value` line of /proc/cpuinfo (Linux), else {}."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    try:  # the highest (boost) clock, where the kernel knows it; a VM often does not
        max_khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()
        info["max MHz"] = str(int(max_khz) / 1000)
    except (OSError, ValueError):
        pass
    return info


def cpu_peak(info: dict, cores: int) -> tuple[dict, str]:
    """Estimated peak GFLOP/s per dtype of `cores` cores, and how it was estimated."""
    flags = set(info.get("flags", "").split())
    mhz = float(info.get("max MHz") or info.get("cpu MHz") or 0)
    if not mhz or not flags & {"avx512f", "avx2", "avx"}:
        return {}, "peak unknown (no clock or no x86 vector flags in /proc/cpuinfo)"
    lanes = 16 if "avx512f" in flags else 8  # float32 values per vector operation (AVX, AVX2: 8)
    if info.get("vendor_id") == "AuthenticAMD" and int(info.get("cpu family", 0)) < 26:
        lanes = min(lanes, 8)  # AMD before Zen 5 runs 512-bit operations on 256-bit units
    per_cycle = lanes * (2 if "fma" in flags else 1) * 2  # an FMA is 2 FLOP; 2 vector pipes
    fp32 = cores * mhz / 1000 * per_cycle
    # bfloat16/float16 dot products run at twice the float32 rate only with these instructions
    peaks = {"float32": fp32,
             "bfloat16": fp32 * (2 if "avx512_bf16" in flags else 1),
             "float16": fp32 * (2 if "avx512_fp16" in flags else 1)}
    if flags & {"amx_bf16", "amx_fp16"}:
        del peaks["bfloat16"], peaks["float16"]  # matrix units: beyond this estimate
    vector = "AVX2" if "avx2" in flags else "AVX"
    if "avx512f" in flags:
        vector = "AVX-512" if lanes == 16 else "AVX-512 on 256-bit units"
    how = (f"estimate: {cores} cores × {mhz / 1000:.2f} GHz × {per_cycle} float32 FLOP/cycle"
           f" ({vector}{', FMA' if 'fma' in flags else ''}, 2 pipes)")
    return peaks, how


def device_peak(device) -> tuple[dict, str]:
    """Peak GFLOP/s per dtype for `device`: datasheet for known GPUs, estimate for a CPU."""
    if device.platform == "cpu":
        return cpu_peak(cpu_info(), len(os.sched_getaffinity(0)))
    for name, tflops in GPU_PEAKS:
        if name in device.device_kind:
            return {k: v * 1000 for k, v in tflops.items()}, f"datasheet peak of the {name} (dense)"
    return {}, f"peak unknown for {device.device_kind}"


def device_name(device) -> str:
    """"NVIDIA H100 80GB HBM3", or the CPU's model name and the cores this process may use."""
    if device.platform != "cpu":
        return device.device_kind
    return f"{cpu_info().get('model name', 'CPU')}, {len(os.sched_getaffinity(0))} cores"


def main(out_dir: Path, sizes: tuple[int, ...] | None = None, dtypes: tuple[str, ...] = DTYPES,
         repeats: int = REPEATS) -> dict:
    device = jax.devices()[0]
    sizes = tuple(sizes or SIZES["cpu" if device.platform == "cpu" else "gpu"])
    peaks, how = device_peak(device)
    measured, unsupported = {}, {}
    for dtype in dtypes:
        try:
            measured[dtype] = {n: gflops(n, dtype, repeats) for n in sizes}
        except (jax.errors.JaxRuntimeError, TypeError, NotImplementedError) as error:
            unsupported[dtype] = f"{type(error).__name__}: {error}"[:200]  # e.g. no float16 dot
    dtypes = tuple(measured)
    over = [d for d in dtypes if d in peaks and max(measured[d].values()) > peaks[d]]
    if over:  # a CPU boosting above the clock it reports: the estimate is no bound, so drop it
        peaks, how = {}, (f"peak unknown: {over[0]} ran faster than the estimate ({how}); the clock "
                          "boosts above the one the system reports")

    lines = [f"{'n':>6}" + "".join(f"{d:>18}" for d in dtypes)]
    for n in sizes:
        cells = []
        for d in dtypes:
            share = f" ({measured[d][n] / peaks[d]:.0%})" if d in peaks else ""
            cells.append(f"{measured[d][n]:.1f}{share}".rjust(18))
        lines.append(f"{n:>6}" + "".join(cells))
    known = ", ".join(f"{d} {peaks[d]:.0f}" for d in dtypes if d in peaks)
    lines.append(f"GFLOP/s (share of peak); peak {known or 'unknown'}")
    (out_dir / "throughput.txt").write_text("\n".join(lines) + "\n")

    top = max([*peaks.values(), *(max(m.values()) for m in measured.values())])
    unit, scale = ("TFLOP/s", 1e-3) if top > 5000 else ("GFLOP/s", 1.0)
    estimate = " (estimate)" if device.platform == "cpu" else ""
    colors = dict(zip(dtypes, ("#0368bb", "#c20d4f", "#0b794b")))
    with style():
        fig = Figure(figsize=FIGSIZE)
        ax = fig.add_subplot()
        for d in dtypes:
            ax.plot(sizes, [measured[d][n] * scale for n in sizes], "o-", color=colors[d], label=d)
        for value in sorted(set(peaks[d] for d in dtypes if d in peaks)):  # one line per peak
            names = ", ".join(d for d in dtypes if peaks.get(d) == value)
            ax.axhline(value * scale, color="#444444", ls="--", lw=1.5)
            ax.text(sizes[0], value * scale, f"peak {names}{estimate}", va="bottom", fontsize=14,
                    color="#444444")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_ylim(0, 1.2 * top * scale)  # room for the peak labels
        ax.set_xlabel("matrix size n (n×n times n×n)")
        ax.set_ylabel(unit)
        ax.set_title(device_name(device), fontsize=16)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=14)
        fig.tight_layout()
    save(fig, out_dir / "throughput.svg")

    best = {}
    for d in dtypes:
        n = max(sizes, key=lambda n: measured[d][n])
        best[d] = {"size": n, "gflops": measured[d][n]}
        if d in peaks:
            best[d]["fraction_of_peak"] = measured[d][n] / peaks[d]
        # In words for the slide, which must build on a machine whose peak is unknown too.
        best[d]["share_of_peak"] = (f"{measured[d][n] / peaks[d]:.0%} of the peak" if d in peaks
                                    else "peak unknown for this device")
    return {
        "platform": device.platform,
        "device_kind": device.device_kind,
        "device_name": device_name(device),
        "devices": len(jax.devices()),
        "peak_gflops": peaks,
        "peak_how": how,
        "sizes": list(sizes),
        "dtypes": list(dtypes),
        "repeats": repeats,
        "gflops": {d: {str(n): v for n, v in measured[d].items()} for d in dtypes},
        "best": best,
        "unsupported": unsupported,
    }


if __name__ == "__main__":
    standalone(main, __file__)
