"""Audio recognition for recordings: pure functions over a file's first bytes.

Vendors often label recordings application/octet-stream, and a URL's extension proves
nothing, so the type is decided by magic bytes. No Django, no I/O: the download code
in callbacks/recordings.py reads the head of the file and asks here.
"""

from __future__ import annotations

import mimetypes

_SNIFF: tuple[tuple[bytes, int, str], ...] = (
    (b"RIFF", 0, "audio/wav"),  # checked with WAVE at offset 8 below
    (b"ID3", 0, "audio/mpeg"),
    (b"#!AMR", 0, "audio/amr"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
)


def sniff(head: bytes) -> str:
    """Recognize audio by its magic bytes (vendors often say octet-stream)."""
    for magic, offset, ctype in _SNIFF:
        if head[offset : offset + len(magic)] == magic:
            if ctype == "audio/wav" and head[8:12] != b"WAVE":
                continue
            return ctype
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # MPEG audio frame sync without an ID3 tag
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    return ""


# The stdlib's table knows none of audio/wav, audio/amr, audio/wave: a recording saved
# as ".bin" would not play from a download or in most file managers.
_AUDIO_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/wave": ".wav",
    "audio/x-wav": ".wav",
    "audio/vnd.wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/amr": ".amr",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
}


def file_extension(ctype: str, head: bytes) -> str:
    """The file name's extension: from the stored type, else from the bytes."""
    for candidate in (ctype, sniff(head)):
        ext = _AUDIO_EXTENSIONS.get(candidate) or mimetypes.guess_extension(candidate or "x/x")
        if ext:
            return ext
    return ".audio"


def content_type(declared: str, head: bytes) -> str:
    """The content type to store, or "" to refuse the file.

    audio/* is trusted as declared.  application/octet-stream (or nothing) is
    accepted only when the bytes are recognizably audio: file extensions in a
    vendor's URL prove nothing, magic bytes do.
    """
    if declared.startswith("audio/"):
        return declared
    if declared in ("", "application/octet-stream", "binary/octet-stream"):
        return sniff(head)
    return ""
