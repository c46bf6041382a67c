"""Print the single-page build of the book to one PDF with headless Chromium.

``python -m tools.pdf _build/singlehtml _build/pdf/ml-crash-course.pdf`` opens the single
page (every chapter, outputs and figures included, since the build reads them from the
execution cache), waits until MathJax has typeset every formula, and prints it: A4, with a PDF
outline (bookmarks) from the headings and working internal links. Chromium is Debian's package,
the one the browser tests use; nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

# Print without the site's navigation: sidebars, header buttons and the "previous/next" footer
# mean nothing on paper. Wide code, tables and math wrap or shrink instead of being cut off.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-article, .headerlink, .toggle-hidden, .dropdown-toggle { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
pre, .highlight pre { white-space: pre-wrap !important; word-break: break-word; }
mjx-container[display="true"] { overflow: visible !important; }
img { max-width: 100% !important; break-inside: avoid; }
h1 { break-before: page; }
details.dropdown, .toggle-details { display: block !important; }
"""


def chromium() -> str:
    path = next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if path is None:
        raise SystemExit("tools.pdf needs Chromium: install Debian's `chromium` package")
    return path


def print_pdf(html: Path, out: Path) -> int:
    """Print ``html`` to ``out``; return the number of formulas MathJax typeset."""
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
        page = browser.new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                   else r.abort())  # offline: nothing from another host
        page.goto(html.resolve().as_uri(), wait_until="load")
        page.emulate_media(media="print")
        page.add_style_tag(content=PRINT_CSS)
        # Open every dropdown (exercise solutions, folded code) so that paper shows them.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=60_000)
        typeset = page.evaluate(
            "MathJax.startup.promise.then(() => document.querySelectorAll('mjx-container').length)")
        untypeset = page.evaluate(
            "[...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length")
        out.with_suffix(".json").write_text(
            json.dumps({"formulas_typeset": typeset, "math_left_as_tex": untypeset}) + "\n")
        page.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True,
                 prefer_css_page_size=True)
        browser.close()
    return int(typeset)


def single_page(folder: Path) -> Path:
    """The single page of a singlehtml build, placed where its links expect to be.

    The root document is ``book/intro``, so Sphinx writes the page to ``book/intro.html`` (with
    a redirect in ``index.html``) but computes its links to ``_static/`` and ``_images/`` from
    the build folder's top. A copy at the top has every link right.
    """
    import re

    redirect = (folder / "index.html").read_text(encoding="utf-8")
    target = re.search(r'url=([^"]+)"', redirect)
    page = folder / (target.group(1) if target else "index.html")
    printable = folder / "print.html"
    shutil.copyfile(page, printable)
    return printable


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit("usage: python -m tools.pdf SINGLEHTML_FOLDER OUT.pdf")
    html, out = single_page(Path(argv[1])), Path(argv[2])
    n = print_pdf(html, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {n} formulas typeset)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
