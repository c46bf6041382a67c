"""Every page of the built site in a real browser (headless Chromium), offline.

Requests to any host other than the local server are blocked and counted as failures. Each page
must load with no console error and no failed request, typeset all its math (no raw TeX left),
load every image, and, for executable pages, offer Binder and Colab links to the generated
notebook. Search must find words from the chapters.

Skipped, with a message, where Chromium is not installed (`.ci/run` installs Debian's chromium).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from urllib.parse import urlparse

import pytest

from tests.conftest import HTML, ROOT, is_notebook_page, toc_pages

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
                None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine: install Debian's `chromium` package "
    "(`.ci/run` does) to run the browser tests"
)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
PAGES = toc_pages()


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("no built site in _build/html: run `make book` first (make test does)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, server, path):
    """Open a page with other hosts blocked; return (page, problems seen while loading)."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))

    def route(r):
        host = urlparse(r.request.url).netloc
        if r.request.url.startswith("data:") or host == urlparse(server).netloc:
            r.continue_()
        else:
            problems.append(f"request to another host: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.goto(f"{server}/{path}", wait_until="networkidle")
    return page, problems


@pytest.mark.parametrize("src", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_in_browser(browser, server, src):
    rel = src.relative_to(ROOT).with_suffix(".html").as_posix()
    page, problems = open_page(browser, server, rel)
    try:
        # MathJax typesets asynchronously: wait until every math element holds its output.
        page.wait_for_function(
            "[...document.querySelectorAll('.math')].every(e => e.querySelector('mjx-container'))",
            timeout=20_000,
        )
        raw_tex = page.evaluate(
            "[...document.querySelectorAll('article p, article li')]"
            ".map(e => e.innerText).filter(t => /\\$\\$|\\\\\\(|\\\\\\[|\\\\frac|\\\\mathrm/.test(t))"
        )
        broken = page.evaluate(
            "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )
        links = page.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
    finally:
        page.close()
    assert not problems, f"{rel}:\n" + "\n".join(problems)
    assert not raw_tex, f"{rel}: raw TeX left: {raw_tex[:3]}"
    assert not broken, f"{rel}: images that did not load: {broken}"
    if is_notebook_page(src):
        ipynb = src.relative_to(ROOT).with_suffix(".ipynb").as_posix()
        assert any(h.startswith("https://mybinder.org/") and h.endswith(ipynb) for h in links), \
            f"{rel}: no Binder link to {ipynb}"
        assert any(h.startswith("https://colab.research.google.com/") and h.endswith(ipynb)
                   for h in links), f"{rel}: no Colab link to {ipynb}"


@pytest.mark.parametrize("word", ["gradient", "overfitting", "churn"])
def test_search_finds_chapter_words(browser, server, word):
    page, problems = open_page(browser, server, f"search.html?q={word}")
    try:
        page.wait_for_selector("#search-results li", timeout=20_000)
        hits = page.locator("#search-results li").count()
    finally:
        page.close()
    assert hits > 0, f"search for {word!r} found nothing"
    assert not problems, "\n".join(problems)


# A laptop's browser window; display equations must fit in it or scroll, never be cut off, and
# an equation's number must not cover its last term.
LAPTOP = {"width": 1280, "height": 800}
MATH_PAGES = [p for p in PAGES if p.suffix == ".md" and "$$" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("src", MATH_PAGES, ids=[p.stem for p in MATH_PAGES])
def test_wide_math_scrolls_and_numbers_do_not_overlap(browser, server, src):
    rel = src.relative_to(ROOT).with_suffix(".html").as_posix()
    page, _ = open_page(browser, server, rel)
    try:
        page.set_viewport_size(LAPTOP)
        page.wait_for_function(
            "[...document.querySelectorAll('div.math')].every(e => e.querySelector('mjx-container'))",
            timeout=20_000,
        )
        bad = page.evaluate("""() => {
            const out = [];
            for (const div of document.querySelectorAll('article div.math')) {
                const box = div.querySelector('mjx-container');
                const math = box.querySelector('mjx-math') || box;
                const article = div.closest('article').getBoundingClientRect();
                const cut = box.scrollWidth > box.clientWidth + 1
                    && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
                if (cut || box.getBoundingClientRect().right > article.right + 1)
                    out.push('cut off: ' + div.id);
                const eqno = div.querySelector('.eqno');
                if (eqno) {
                    const e = eqno.getBoundingClientRect(), m = math.getBoundingClientRect();
                    const shown = Math.min(m.right, box.getBoundingClientRect().right);
                    if (e.left < shown - 1 && e.right > m.left) out.push('number over formula: ' + div.id);
                }
            }
            return out;
        }""")
    finally:
        page.close()
    assert not bad, f"{rel}: {bad}"
