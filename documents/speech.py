"""Text to speech for what the platform reads aloud (the 唱标 of an opening): ``espeak-ng``'s
Mandarin voice (Debian's ``espeak-ng``, voice ``cmn``), WAV out. Knows no domain: the caller gives
the text. ``SpeechUnavailable`` when the program is missing or fails, so a page can say so."""

from __future__ import annotations

import subprocess

from common.tools import find_tool

VOICE = "cmn"
WORDS_PER_MINUTE = 150
MAX_CHARS = 20_000


class SpeechUnavailable(Exception):
    pass


def speak(text: str, *, voice: str = VOICE, speed: int = WORDS_PER_MINUTE) -> bytes:
    """``text`` spoken as a WAV file (RIFF, 16-bit mono, 22,050 Hz as espeak-ng writes it)."""
    if not text or len(text) > MAX_CHARS:
        raise ValueError(f"the text to speak is 1 to {MAX_CHARS} characters")
    tool = find_tool("espeak-ng")
    if tool is None:
        raise SpeechUnavailable("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    done = subprocess.run([tool, "-v", voice, "-s", str(speed), "--stdout", "--stdin"],
                          input=text.encode("utf-8"), capture_output=True, timeout=120)
    if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
        raise SpeechUnavailable(f"espeak-ng failed: {done.stderr.decode(errors='replace')[:200]}")
    return done.stdout
