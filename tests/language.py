"""What "every message a person reads is Chinese" means, as a check the tests share."""

from __future__ import annotations

import re

# An English word: an ASCII identifier-like run with a lower-case letter in it. Upper-case
# acronyms (API, JSON, URL, MB, ISO) and file extensions (.docx) are how Chinese offices write
# them too; the header names a client must send are named as they are.
_TOKEN = re.compile(r"(?<![.A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*")
_NAMED_AS_IS = ("Idempotency-Key", "If-Match")


def english_words(text: str) -> list[str]:
    for name in _NAMED_AS_IS:
        text = text.replace(name, "")
    return [w for w in _TOKEN.findall(text) if len(w) >= 2 and any(c.islower() for c in w)]
