"""The 唱标 read aloud (docs/opening.md, "The announcement read aloud"): the announcement's text in
Chinese — each bidder in the announced order with its announced fields, money in 元/角/分 — spoken
by ``documents.speech`` (espeak-ng) and served to the hall as a WAV file. The text is built only from
the published announcement, so it says nothing that the hall's screen does not already show."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings

from documents.speech import speak


def money_words(fen: int) -> str:
    """An amount in fen as it is read out: 元, then 角 and 分 when not zero (整 for whole 元)."""
    yuan, rest = divmod(int(fen), 100)
    jiao, fen_ = divmod(rest, 10)
    if not rest:
        return f"{yuan}元整"
    return f"{yuan}元" + (f"{jiao}角" if jiao else "零") + (f"{fen_}分" if fen_ else "")


STATUS_WORDS = {"revoked": "投标文件未解密，视为撤销", "withdrawn": "投标文件未解密，视为撤回"}


def announcement_text(entries: list[dict], lot_title: str, money_keys: set[str]) -> str:
    lines = [f"{lot_title}，现在唱标。共{len(entries)}家投标人。"]
    for n, entry in enumerate(entries, 1):
        parts = [f"第{n}家，{entry['name']}"]
        if entry.get("status") != "decrypted":
            parts.append(STATUS_WORDS.get(entry.get("status"), "投标文件未解密"))
        for field in entry.get("fields") or []:
            value = field["value"]
            if field["key"] in money_keys and isinstance(value, int) and not isinstance(value, bool):
                spoken = money_words(value)
            else:
                spoken = f"{field['shown']}{field.get('unit', '')}"
            parts.append(f"{field['label']}{spoken}")
        lines.append("，".join(parts) + "。")
    lines.append("唱标完毕。")
    return "".join(lines)


def announcement_audio(entries: list[dict], lot) -> tuple[bytes, str]:
    """(WAV bytes, SHA-256 of the text) for the announcement of ``lot``, cached by the text's hash."""
    money = {d["key"] for d in lot.announced_fields or [] if d.get("type") == "money_fen"}
    text = announcement_text(entries, f"{lot.project.title}{lot.title}", money)
    digest = hashlib.sha256(text.encode()).hexdigest()
    folder = Path(settings.VAR_DIR) / "speech"
    path = folder / f"{digest}.wav"
    if path.exists():
        return path.read_bytes(), digest
    audio = speak(text)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(audio)
    tmp.replace(path)
    return audio, digest
