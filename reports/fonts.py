"""The reports' Chinese font, embedded: a subset of Noto Sans CJK SC (regular and bold) holding just the characters a
page uses, as WOFF in ``@font-face`` rules, so a report draws its Chinese the same on any machine, one without a CJK
font included. The font comes from the system (``make setup`` installs Debian's fonts-noto-cjk), found through
fontconfig; without it the page falls back to the reader's own CJK fonts, and a warning says so.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
import shutil
import subprocess
from functools import lru_cache

__all__ = ["EMBEDDED_FAMILY", "font_faces"]

log = logging.getLogger(__name__)

EMBEDDED_FAMILY = "gridlake CJK"
_SOURCE = "Noto Sans CJK SC"
_WEIGHTS = {400: "Regular", 700: "Bold"}


@lru_cache(maxsize=None)
def _locate(style: str) -> tuple[str, int] | None:
    """The file and face index of the source font's style, by fontconfig; None when it is not installed."""
    if shutil.which("fc-match") is None:
        return None
    found = subprocess.run(["fc-match", "-f", "%{family}|%{file}|%{index}", f"{_SOURCE}:style={style}"],
                           capture_output=True, text=True, check=False)
    families, _, rest = found.stdout.partition("|")
    path, _, index = rest.partition("|")
    if found.returncode != 0 or _SOURCE not in families.split(",") or not path:
        return None
    return path, int(index or 0)


def _subset(path: str, index: int, characters: set[str]) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=index, lazy=True)
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(char) for char in characters))
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def font_faces(page: str) -> str:
    """``@font-face`` rules embedding the subset of the CJK font that ``page`` (an HTML text) needs; "" when the
    font is not installed."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", " ", page, flags=re.S)))
    characters = {char for char in text if not char.isspace()} | {chr(point) for point in range(0x20, 0x7F)}
    rules = []
    for weight, style in _WEIGHTS.items():
        located = _locate(style)
        if located is None:
            log.warning("no %s %s font found by fontconfig: the report relies on the reader's CJK fonts", _SOURCE,
                        style)
            continue
        data = base64.b64encode(_subset(*located, characters)).decode("ascii")
        rules.append(f'@font-face {{ font-family: "{EMBEDDED_FAMILY}"; font-weight: {weight}; font-style: normal; '
                     f'src: url(data:font/woff;base64,{data}) format("woff"); }}')
    return "\n".join(rules)
