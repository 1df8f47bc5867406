"""A report page as a PNG, for the README: the top of the page (or one element of it) as headless Chromium draws it.

    uv run python docs/screenshot.py var/sim/demo/gridlake/reports/daily/2026-11-25.html docs/report-daily.png
    uv run python docs/screenshot.py ... docs/report-map.png --selector 'figure[data-block="daily.rates_map"]'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from reports.render import CHROMIUM_ARGS, chromium_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--top", type=int, default=0, help="the first pixel row shown")
    parser.add_argument("--height", type=int, default=1500)
    parser.add_argument("--selector", help="only this element (a CSS selector)")
    arguments = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": arguments.width, "height": arguments.height})
        page.goto(arguments.html.resolve().as_uri(), wait_until="load")
        page.evaluate("document.fonts.ready.then(() => true)")
        if arguments.selector:
            page.locator(arguments.selector).first.screenshot(path=str(arguments.png))
        else:
            page.screenshot(path=str(arguments.png), full_page=True, clip={
                "x": 0, "y": arguments.top, "width": arguments.width, "height": arguments.height})
        browser.close()
    print(arguments.png)


if __name__ == "__main__":
    main()
