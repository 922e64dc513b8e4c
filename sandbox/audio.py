"""The recording every simulated call "made": a valid WAV (8 kHz mono 16-bit PCM, the
telephony norm) of a sine tone exactly as long as the call's talk time, so the
console's download and playback paths handle a real audio file of a real length.

A two-hour call is 115 MB, so the file is produced in chunks for a streaming response
instead of in memory; the steady part repeats one precomputed second.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from functools import cache

RATE = 8000
SAMPLE_BYTES = 2
FADE = RATE // 50  # 20 ms fades in and out: no clicks
HEADER_BYTES = 44


def _sample(i: int, frames: int, frequency: float, envelope: float | None = None) -> bytes:
    if envelope is None:
        envelope = min(1.0, i / FADE, (frames - i) / FADE)
    return struct.pack("<h", int(12000 * envelope * math.sin(2 * math.pi * frequency * i / RATE)))


@cache
def _steady_second(frequency: float) -> bytes:
    """One second at full volume; a whole number of hertz makes seconds join seamlessly."""
    return b"".join(_sample(i, RATE, frequency, envelope=1.0) for i in range(RATE))


def wav_size(seconds: float) -> int:
    return HEADER_BYTES + int(RATE * max(seconds, 0)) * SAMPLE_BYTES


def _header(frames: int) -> bytes:
    data = frames * SAMPLE_BYTES
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", 36 + data),
            b"WAVE",
            b"fmt ",
            # PCM, mono, rate, bytes per second, block align, bits per sample
            struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * SAMPLE_BYTES, SAMPLE_BYTES, 16),
            b"data",
            struct.pack("<I", data),
        ]
    )


def tone_wav_chunks(seconds: float = 1.5, frequency: float = 440.0) -> Iterator[bytes]:
    """The WAV file in chunks of at most one second of audio, header first."""
    frames = int(RATE * max(seconds, 0))
    yield _header(frames)
    if frames <= 2 * FADE:
        yield b"".join(_sample(i, frames, frequency) for i in range(frames))
        return
    yield b"".join(_sample(i, frames, frequency) for i in range(FADE))
    steady = _steady_second(frequency)
    i = FADE
    while i < frames - FADE:
        n = min(RATE - i % RATE, frames - FADE - i)
        start = (i % RATE) * SAMPLE_BYTES
        yield steady[start : start + n * SAMPLE_BYTES]
        i += n
    yield b"".join(_sample(i, frames, frequency) for i in range(frames - FADE, frames))


def tone_wav(seconds: float = 1.5, frequency: float = 440.0) -> bytes:
    """The whole file at once (tests, small files)."""
    return b"".join(tone_wav_chunks(seconds, frequency))
