"""The reports as people open them: each HTML file rendered in headless Chromium (Debian's, as setup installs it)
draws its charts and its Chinese in a font that has the characters (no tofu), fetches nothing from a network, and
its PDF holds the same pages: every section starting a page of its own in order, every figure's caption and
dataset version, the charts' labels as text.

Tofu is checked the way the browser decides it: DevTools' ``CSS.getPlatformFontsForNode`` names the fonts
Chromium drew a node's text with, and each font's character map (the page's embedded font, read by fontTools; a
system font's charset, by fontconfig) says whether it has every character of the node; a character no drawn font
has was drawn as a blank box. Every text is drawn with the page's embedded font, so it looks the same on a machine
without CJK fonts. A page with a character no installed font has shows that the check catches it.
"""

from __future__ import annotations

import base64
import html as html_lib
import io
import re
import subprocess
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from gridlake.settings import Settings
from reports import write_report
from reports.fonts import EMBEDDED_FAMILY
from reports.render import CHROMIUM_ARGS, chromium_path
from tests.reports.conftest import DAILY, MONTHLY, WEEKLY

_TEXT_NODES = ("h1, h2, figcaption, th, td, .card .label, p.note, p.source, div.notice, p.empty, "
               "figure.chart svg text")


@pytest.fixture(scope="module")
def rendered(published: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The three reports with their PDFs, written in a home of their own reading the published shared zone."""
    home = tmp_path_factory.mktemp("rendered")
    (home / "shared").symlink_to(published.home / "shared")
    settings = Settings(home=home)
    return {kind: write_report(kind, issued_on, settings) for kind, issued_on in
            (("daily", DAILY), ("weekly", WEEKLY), ("monthly", MONTHLY))}


@pytest.fixture(scope="module")
def browser(rendered) -> Iterator[Any]:
    """Chromium for the tests to drive (after the reports are written: their PDFs are printed by a Playwright of
    their own, which cannot start inside this one's event loop)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@lru_cache(maxsize=None)
def _charset(family: str) -> tuple[tuple[int, int], ...]:
    """The code point ranges fontconfig says a font family has (all its faces together)."""
    listed = subprocess.run(["fc-list", "-f", "%{charset}\n", family], capture_output=True, text=True, check=True)
    ranges = []
    for token in listed.stdout.split():
        first, _, last = token.partition("-")
        ranges.append((int(first, 16), int(last or first, 16)))
    return tuple(ranges)


def _has(family: str, char: str) -> bool:
    point = ord(char)
    return any(first <= point <= last for first, last in _charset(family))


def _embedded(page: Any) -> set[int]:
    """The code points the fonts a page embeds have (its ``@font-face`` data URIs, read by fontTools)."""
    from fontTools.ttLib import TTFont

    found: set[int] = set()
    for family, data in re.findall(r'font-family: "([^"]+)";[^}]*?url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)',
                                   page.content()):
        assert family == EMBEDDED_FAMILY
        found.update(TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap())
    return found


def _tofu(page: Any) -> tuple[list[str], set[tuple[str, bool]]]:
    """The text nodes with a character none of the fonts Chromium drew them with has; and the fonts used (family,
    whether the page's own). DevTools names a web font by the family in its file, so the page's own fonts are told
    by ``isCustomFont``: all of them come from the page's ``@font-face`` rules."""
    embedded = _embedded(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    found, used = [], set()
    checked = 0
    for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": _TEXT_NODES})["nodeIds"]:
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", cdp.send("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]))
        wanted = {char for char in text if ord(char) > 0x7F and not char.isspace()}
        if not wanted:
            continue
        fonts = [(font["familyName"], font["isCustomFont"])
                 for font in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"] if font["glyphCount"]]
        used.update(fonts)
        checked += 1

        def has(family: str, custom: bool, char: str) -> bool:
            return ord(char) in embedded if custom else _has(family, char)

        missing = sorted(char for char in wanted if not any(has(family, custom, char) for family, custom in fonts))
        if missing:
            found.append(f"{text[:40]!r} drawn with {fonts}: no glyph for {''.join(missing)}")
    assert checked, "no text with Chinese characters was checked"
    return found, used


def test_the_check_finds_tofu(browser) -> None:
    page = browser.new_page()
    page.set_content('<html><body><h1>东城区 𗀀</h1><p class="note">东城区</p></body></html>')  # U+17000, Tangut
    problems, _ = _tofu(page)
    assert len(problems) == 1 and "𗀀" in problems[0], problems


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_the_html_draws_its_charts_and_its_chinese_offline(rendered, browser, kind: str) -> None:
    output = rendered[kind]
    page = browser.new_page()
    fetched: list[str] = []

    def only_the_file(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.goto(output.html.resolve().as_uri(), wait_until="load")
    assert page.evaluate("document.fonts.ready.then(() => [...document.fonts].every(f => f.status === 'loaded'))")
    assert fetched == []  # self-contained: nothing asked of a network
    charts = page.eval_on_selector_all("figure.chart", """figures => figures.map(figure => {
        const svg = figure.querySelector('svg');
        const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
        const marks = svg ? [...svg.querySelectorAll('g.role-mark:not(.mark-text) > *')] : [];
        const inked = marks.filter(mark => { const b = mark.getBBox(); return b.width > 0 || b.height > 0; });
        const labels = svg ? [...svg.querySelectorAll('text')].map(text => text.textContent) : [];
        return {id: figure.dataset.block, width: box.width, height: box.height, marks: inked.length, labels};
    })""")
    assert charts, f"{kind}: no chart"
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 40, chart
        assert chart["marks"] > 0, f"{chart['id']}: nothing drawn"
        assert any(re.search(r"[\u4e00-\u9fff]", label) for label in chart["labels"]), chart
    problems, used = _tofu(page)
    assert problems == []
    assert {custom for _, custom in used} == {True}  # all drawn in the page's own font: the same on any machine
    page.close()


def _pdf_pages(path: Path) -> list[str]:
    """Each page's text, spaces and line breaks left out (they fall anywhere in a PDF's text); NFKC maps the Kangxi
    radicals some ideographs come back as (⽉ for 月: the font draws both with one glyph) to the ideographs."""
    return [re.sub(r"\s+", "", unicodedata.normalize("NFKC", page.extract_text() or ""))
            for page in PdfReader(path).pages]


def _pattern(text: str) -> str:
    """A regular expression for ``text`` as a PDF gives it back: an ideograph may also come back as the CJK radical
    supplement character sharing its glyph (⺠ for 民, ⻓ for 长), which NFKC leaves alone."""
    parts = []
    for char in re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)):
        if "\u4e00" <= char <= "\u9fff":
            parts.append(f"[{char}\u2e80-\u2eff]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_the_pdf_holds_the_same_pages(rendered, browser, kind: str) -> None:
    output = rendered[kind]
    page = browser.new_page()
    page.goto(output.html.resolve().as_uri(), wait_until="load")
    sections = page.eval_on_selector_all("section.page", "sections => sections.map(s => s.querySelector('h2')"
                                                        ".textContent)")
    captions = page.eval_on_selector_all("figure figcaption", "captions => captions.map(c => c.textContent)")
    sources = page.eval_on_selector_all("figure p.source", "lines => lines.map(l => l.textContent)")
    title = page.text_content("h1")
    page.close()
    pages = _pdf_pages(output.pdf)
    text = "".join(pages)
    assert re.search(_pattern(title), pages[0])
    # each section begins a page of its own (the first one follows the cover on the first page), in order
    starts = [next((number for number, content in enumerate(pages)
                    if re.match(_pattern(heading), content) or (number == 0 and re.search(_pattern(heading), content))),
                   None) for heading in sections]
    assert None not in starts, dict(zip(sections, starts, strict=True))
    assert starts == sorted(starts) and len(set(starts)) == len(starts), starts
    assert len(pages) >= len(sections)
    for caption in captions:
        assert re.search(_pattern(caption), text), caption
    versions = {match for line in sources for match in re.findall(r"\d{8}T\d{6}Z-[0-9a-f]{8}", line)}
    assert versions
    for version in versions:
        assert version in text, version
