"""The recording every simulated call "made": a short, valid WAV generated with
the stdlib `wave` module (8 kHz mono 16-bit PCM, the telephony norm), so the
console's download and playback paths handle a real audio file."""

from __future__ import annotations

import io
import math
import struct
import wave
from functools import cache

RATE = 8000


@cache
def tone_wav(seconds: float = 1.5, frequency: float = 440.0) -> bytes:
    """A sine tone with short fades (no clicks); cached, it never changes."""
    frames = int(RATE * seconds)
    fade = RATE // 50
    samples = bytearray()
    for i in range(frames):
        envelope = min(1.0, i / fade, (frames - i) / fade)
        value = int(12000 * envelope * math.sin(2 * math.pi * frequency * i / RATE))
        samples += struct.pack("<h", value)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(samples))
    return buffer.getvalue()
