"""Reference log-mel spectrogram for the Go front end's test, written from
Whisper's description with numpy's own tools (rfft, reflect padding, array
broadcasting) rather than by following the Go code.

usage: logmel_ref.py IN.s16 N_MELS OUT.f32
IN is raw little-endian int16 at 16 kHz; OUT is float32 [N_MELS, 3000].
"""
import sys

import numpy as np

src, n_mels, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SR, N_FFT, HOP, N = 16000, 400, 160, 480000

x = np.fromfile(src, dtype="<i2").astype(np.float64) / 32768.0
x = np.pad(x[:N], (0, max(0, N - len(x))))
x = np.pad(x, N_FFT // 2, mode="reflect")
idx = np.arange(N_FFT)[None, :] + HOP * np.arange(1 + (len(x) - N_FFT) // HOP)[:, None]
win = np.hanning(N_FFT + 1)[:-1]  # periodic Hann
power = np.abs(np.fft.rfft(x[idx] * win, axis=1)) ** 2
power = power[:-1]  # Whisper drops the STFT's last frame


def mel(f):  # Slaney
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    return np.where(f >= 1000, 15 + np.log(np.maximum(f, 1e-9) / 1000) / (np.log(6.4) / 27), lin)


def hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15, 1000 * np.exp((np.log(6.4) / 27) * (m - 15)), m * (200.0 / 3))


edges = hz(np.linspace(mel(0.0), mel(SR / 2), n_mels + 2))
bins = np.fft.rfftfreq(N_FFT, 1 / SR)
rise = (bins[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
fall = (edges[2:, None] - bins[None, :]) / (edges[2:] - edges[1:-1])[:, None]
fb = np.clip(np.minimum(rise, fall), 0, None) * (2.0 / (edges[2:] - edges[:-2]))[:, None]

spec = np.log10(np.clip(fb @ power.T, 1e-10, None))
spec = np.maximum(spec, spec.max() - 8.0)
((spec + 4.0) / 4.0).astype("<f4").tofile(dst)
