"""The untrusted-text walk in Debian Chromium (never `playwright install`): one `streamlit run app.py` for
the module against a stand-in API server whose free-text fields carry the corpus (tests/app/untrusted.py).
On the Overview, Health, a pod's detail (a waiting pod, an evicted one), its logs (table and text), the
logs of a pod whose log is not there, and Security, none of the corpus becomes an element (no link,
image, script, KaTeX, bold, heading, coloured text or icon), and its literal text is on the page.
Saves artifacts/untrusted-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.untrusted import (
    ALL,
    CORPUS,
    NAMESPACE,
    NO_LOG_POD,
    ONE_FLAVOUR,
    REASON_POD,
    WAITING_POD,
    corpus_api_server,
    corpus_environment,
    flat,
)
from tests.plugins.app import AppServer, serving_app
from tests.plugins.browser import NewPage, open_app_page, open_overview, save_screenshot, settle

pytestmark = pytest.mark.browser

#: The words inside the corpus's markup: an element whose whole text is one of them is the markup drawn
#: (**boldcorpus** as <strong>, :red[boom] as a coloured span, :material/bug_report: as an icon, ...).
DRAWN_WORDS = ["boldcorpus", "headingcorpus", "linkcorpus", "imagecorpus", "htmlbold", "boom", "bug_report",
               "longcorpus", "ansired", "x", "y"]
#: The corpus as a reader sees it in a Markdown element (one line; the escape character is not drawn).
LITERAL = [":red[boom]", "**boldcorpus**", "[linkcorpus](http://evil.example/link)", "$x^2$",
           "<img src=x onerror=alert(1)>", "<b>htmlbold</b>", "# headingcorpus", ":material/bug_report:"]


#: Where Streamlit draws Markdown: st.markdown, captions, metric values, alerts (never a table's cells).
MARKDOWN_CONTAINERS = ('[data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"], '
                       '[data-testid="stMetricValue"], [data-testid="stAlertContainer"]')


@pytest.fixture(scope="module")
def corpus_app(prometheus_flavour: Any, request: pytest.FixtureRequest, s3: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    prometheus: Any = request.getfixturevalue("prometheus")
    folder = tmp_path_factory.mktemp("corpus-app")
    with corpus_api_server(folder) as kubeconfig, serving_app(
            corpus_environment(kubeconfig, prometheus, s3.env(), folder), folder) as server:
        yield server


def assert_nothing_drawn(page: Any, where: str) -> None:
    """No element the corpus could have made exists, and no injected script ran."""
    assert page.locator('a[href*="evil"]').count() == 0, where
    assert page.locator('img[src*="evil"], img[onerror], img[src="x"], [onerror]').count() == 0, where
    assert page.locator(".katex, .katex-display, math").count() == 0, where
    assert page.title() != "pwned", where
    drawn = page.evaluate(
        """(words) => {
            const found = [];
            for (const node of document.querySelectorAll('body *')) {
                const text = (node.textContent || '').trim();
                if (words.includes(text)) found.push(node.tagName + ': ' + text);
                if (/^(B|STRONG|EM|H[1-6])$/.test(node.tagName)
                        && /(bold|heading|link|image|long)corpus|htmlbold/.test(text))
                    found.push(node.tagName + ': ' + text.slice(0, 80));
                if (node.tagName === 'SCRIPT' && /pwned/.test(text)) found.push('SCRIPT');
            }
            return found;
        }""", DRAWN_WORDS)
    assert drawn == [], (where, drawn)


def shown_text(page: Any) -> str:
    """The text of the page's Markdown elements, as read (without the invisible word joiners that
    escape_markdown puts before URLs). Their text content: innerText leaves out what is scrolled away."""
    texts = page.locator(MARKDOWN_CONTAINERS).evaluate_all("nodes => nodes.map(n => n.textContent)")
    return "\n".join(texts).replace("\u2060", "")


def assert_literal(page: Any, where: str, texts: list[str]) -> None:
    shown = shown_text(page)
    missing = [text for text in texts if text not in shown]
    assert missing == [], (where, missing, shown[:2000])


@ONE_FLAVOUR
def test_no_page_draws_the_corpus(corpus_app: AppServer, new_page: NewPage) -> None:
    from playwright.sync_api import expect

    started = time.monotonic()
    page = new_page(height=2400)
    url = corpus_app.url
    open_overview(page, url)
    # The corpus application's card: its first reason quotes the pods' waiting reason.
    reason = page.get_by_text("None of its 3 pods is ready", exact=False).first
    expect(reason).to_be_visible()
    settle(page)
    assert_nothing_drawn(page, "overview")
    assert_literal(page, "overview", LITERAL)  # an application card's reason, escaped

    open_app_page(page, f"{url}/health", "Health")
    expect(reason).to_be_visible()
    assert_nothing_drawn(page, "health")
    assert_literal(page, "health", LITERAL)

    for pod in (WAITING_POD, REASON_POD):
        open_app_page(page, f"{url}/pods?pod={NAMESPACE}/{pod}", "Pods")
        expect(page.get_by_role("heading", name=f"Pod {NAMESPACE}/{pod}")).to_be_visible()
        settle(page)
        assert_nothing_drawn(page, pod)
        # The Status box: kubectl's STATUS (the waiting reason, the pod's status.reason), as text.
        status = page.locator('[data-testid="stMetric"]').filter(has_text="Status").first
        value = status.locator('[data-testid="stMetricValue"]').text_content() or ""
        assert flat(value.replace("\u2060", "")) == flat(ALL), value[:300]
        save_screenshot(page, f"untrusted-{pod}.png", min_bytes=20_000, server=corpus_app)

    open_app_page(page, f"{url}/logs?pod={NAMESPACE}/{WAITING_POD}", "Logs")
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    assert_nothing_drawn(page, "logs table")
    page.get_by_role("radio", name="Text", exact=True).click()
    code = page.locator('[data-testid="stCode"]')
    expect(code).to_be_visible()
    settle(page)
    shown = code.inner_text().replace("\x1b", "")
    assert [item for item in CORPUS if item.replace("\x1b", "") not in shown] == []
    assert_nothing_drawn(page, "logs text")
    save_screenshot(page, "untrusted-logs.png", server=corpus_app)

    open_app_page(page, f"{url}/logs?pod={NAMESPACE}/{NO_LOG_POD}", "Logs")
    expect(page.locator('[data-testid="stAlertContainer"]', has_text="is waiting to start").first
           ).to_be_visible()
    settle(page)
    assert_nothing_drawn(page, "logs of a waiting pod")
    assert_literal(page, "logs of a waiting pod", LITERAL)  # the kubelet's sentence quotes the reason

    open_app_page(page, f"{url}/security", "Security")
    assert_nothing_drawn(page, "security")
    save_screenshot(page, "untrusted-security.png", server=corpus_app)
    assert time.monotonic() - started < 120, "the walk must stay short"


def test_the_drawn_check_sees_markup(new_page: NewPage) -> None:
    """The check itself: the corpus's markup, drawn, is caught."""
    page = new_page(height=800)
    page.set_content("<p><strong>boldcorpus</strong> <span style='color:red'>boom</span>"
                     "<a href='http://evil.example/link'>linkcorpus</a></p>")
    with pytest.raises(AssertionError):
        assert_nothing_drawn(page, "a page with the markup drawn")
