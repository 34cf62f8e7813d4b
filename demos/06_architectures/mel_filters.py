"""Speech features: a mel filterbank and the log-mel spectrogram of a synthesised vowel.

No speech data ships with the course, so the demo synthesises one second of a vowel-like sound
at 16 kHz: harmonics of a pitch that glides from 120 to 220 Hz, shaped by formants that move
from an /a/ (700 and 1,200 Hz) to an /i/ (300 and 2,300 Hz). 25 ms Hann frames every 10 ms,
a 512-point FFT, then 40 triangular filters equally spaced on the mel scale: the lowest one
spans 92 Hz (three FFT bins), the highest 1,006 Hz, as the ear resolves low pitches more finely.
The log of the filter energies is the classic input of speech networks; a DCT of it gives MFCCs.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # seed of the breath noise added to the vowel
SAMPLE_RATE = 16_000  # samples per second
DURATION = 1.0  # seconds of sound
PITCH = (120.0, 220.0)  # Hz: the pitch glides between these
FORMANTS_A = (700.0, 1200.0, 2600.0)  # Hz: resonances of an /a/ at the start
FORMANTS_I = (300.0, 2300.0, 3000.0)  # Hz: and of an /i/ at the end
FRAME = 400  # samples per analysis frame (25 ms)
HOP = 160  # samples between frames (10 ms)
N_FFT = 512  # FFT size (frames are zero-padded to it)
N_MELS = 40  # triangular filters
N_MFCC = 13  # cepstral coefficients kept


def vowel(key: jax.Array) -> np.ndarray:
    """Harmonics of a gliding pitch, each weighted by a formant envelope that moves in time."""
    t = np.arange(int(SAMPLE_RATE * DURATION)) / SAMPLE_RATE
    share = t / DURATION  # 0 at the start, 1 at the end
    pitch = PITCH[0] + (PITCH[1] - PITCH[0]) * share
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    formants = [a + (i - a) * share for a, i in zip(FORMANTS_A, FORMANTS_I)]
    signal = np.zeros_like(t)
    for k in range(1, int(SAMPLE_RATE / 2 / PITCH[0])):
        f = k * pitch
        gain = sum(1 / (1 + ((f - fm) / 120) ** 2) for fm in formants)  # resonance peaks
        signal += np.where(f < SAMPLE_RATE / 2, gain * np.sin(k * phase), 0)
    noise = 0.01 * np.asarray(jax.random.normal(key, t.shape))
    return (signal / np.abs(signal).max() + noise).astype(np.float32)


# --8<-- [start:mel]
def hz_to_mel(f):
    return 2595 * np.log10(1 + f / 700)


def mel_to_hz(m):
    return 700 * (10 ** (m / 2595) - 1)


def mel_filterbank(n_mels: int, n_fft: int, rate: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1): triangles centred on points equally spaced in mel."""
    edges = mel_to_hz(np.linspace(0, hz_to_mel(rate / 2), n_mels + 2))  # Hz
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)  # the FFT bins
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)
    return np.maximum(0, np.minimum(rising, falling)).astype(np.float32)
# --8<-- [end:mel]


# --8<-- [start:features]
@jax.jit
def log_mel(signal, filters):  # (samples,), (N_MELS, bins)
    starts = jnp.arange(0, len(signal) - FRAME + 1, HOP)
    index = starts[:, None] + jnp.arange(FRAME)  # (T, 400): each frame's samples
    frames = signal[index] * jnp.hanning(FRAME)
    power = jnp.abs(jnp.fft.rfft(frames, N_FFT)) ** 2  # (T, 257)
    return jnp.log(power @ filters.T + 1e-6), power  # (T, 40): log energies
# --8<-- [end:features]


@jax.jit
def mfcc(log_energies):
    return jax.scipy.fft.dct(log_energies, norm="ortho")[:, :N_MFCC]  # decorrelated summary


def plot_filters(filters: np.ndarray) -> Figure:
    fig = Figure(figsize=(5.0, 3.6))
    ax = fig.add_subplot()
    freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    for i, row in enumerate(filters):
        ax.plot(freqs, row, lw=1.6, color=f"C{i % 2}")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("filter weight")
    ax.set_title(f"{N_MELS} mel filters")
    return fig


def plot_spectrograms(power, energies, filters) -> Figure:
    fig = Figure(figsize=(11, 3.3))
    lin_ax, mel_ax = fig.subplots(1, 2)
    seconds = len(power) * HOP / SAMPLE_RATE
    lin_ax.imshow(np.log(np.asarray(power).T + 1e-6), origin="lower", aspect="auto", cmap="magma",
                  extent=(0, seconds, 0, SAMPLE_RATE / 2000))
    lin_ax.set_ylim(0, 4)
    lin_ax.set_title(f"log power, {N_FFT // 2 + 1} FFT bins")
    lin_ax.set_xlabel("time (s)")
    lin_ax.set_ylabel("kHz (up to 4)")
    mel_ax.imshow(np.asarray(energies).T, origin="lower", aspect="auto", cmap="magma",
                  extent=(0, seconds, 0, len(filters)))
    mel_ax.set_title(f"log mel energies, {len(filters)} filters")
    mel_ax.set_xlabel("time (s)")
    mel_ax.set_ylabel("mel filter")
    for ax in (lin_ax, mel_ax):
        ax.grid(False)
    return fig


def main(out_dir: Path) -> dict:
    filters = mel_filterbank(N_MELS, N_FFT, SAMPLE_RATE)
    signal = vowel(jax.random.key(SEED))
    energies, power = log_mel(jnp.asarray(signal), jnp.asarray(filters))
    cepstra = mfcc(energies)
    with style():
        save(plot_filters(filters), out_dir / "mel_filters.svg")
        save(plot_spectrograms(power, energies, filters), out_dir / "log_mel.svg")

    edges = mel_to_hz(np.linspace(0, hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))  # as in mel_filterbank
    return {
        "sample_rate": SAMPLE_RATE, "frame_ms": 1000 * FRAME / SAMPLE_RATE,
        "hop_ms": 1000 * HOP / SAMPLE_RATE, "n_fft": N_FFT, "n_bins": N_FFT // 2 + 1,
        "n_mels": N_MELS, "n_mfcc": int(cepstra.shape[1]), "n_frames": int(energies.shape[0]),
        "pitch": list(PITCH), "formants_a": list(FORMANTS_A), "formants_i": list(FORMANTS_I),
        "bin_hz": SAMPLE_RATE / N_FFT,
        "lowest_width_hz": float(edges[2] - edges[0]),
        "highest_width_hz": float(edges[-1] - edges[-3]),
        "edges_hz": [float(f) for f in edges],
    }


if __name__ == "__main__":
    standalone(main, __file__)
