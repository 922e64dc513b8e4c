"""callbacks/audio.py: recognizing a recording by its first bytes, pure functions."""

import pytest

from callbacks import audio

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "


@pytest.mark.parametrize(
    "head, ctype",
    [
        (WAV, "audio/wav"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", ""),  # RIFF, but not audio
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x00", "audio/mpeg"),  # MPEG frame sync, no ID3 tag
        (b"#!AMR\n", "audio/amr"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00\x00", "audio/flac"),
        (b"\x00\x00\x00\x20ftypM4A ", "audio/mp4"),
        (b"<html>", ""),
        (b"", ""),
    ],
)
def test_sniff_knows_audio_by_its_magic_bytes(head, ctype):
    assert audio.sniff(head) == ctype


def test_declared_audio_is_trusted_octet_stream_is_sniffed_anything_else_refused():
    assert audio.content_type("audio/amr", b"") == "audio/amr"
    assert audio.content_type("application/octet-stream", WAV) == "audio/wav"
    assert audio.content_type("", b"<html>") == ""
    assert audio.content_type("text/html", WAV) == ""


@pytest.mark.parametrize(
    "ctype, head, ext",
    [
        ("audio/wav", b"", ".wav"),
        ("audio/x-wav", b"", ".wav"),
        ("audio/amr", b"", ".amr"),
        ("", WAV, ".wav"),  # no stored type: the bytes decide
        ("", b"nothing known", ".audio"),
    ],
)
def test_file_extension_from_the_type_else_the_bytes(ctype, head, ext):
    assert audio.file_extension(ctype, head) == ext
