"""The sample author's sites, served on loopback the way the real platforms shape them.

One ``ThreadingHTTPServer`` per platform (Medium, Substack, the personal blog, GitHub), each on its
own 127.0.0.1 port, so each has its own origin and its own root (``/feed``, ``/``, ``/index.xml``)
exactly like the real site. Pages are rendered at request time with the servers' real origins, so
every absolute link in a page or feed points back at the local site.

    with SampleSite() as site:
        site.entry_links()      # what a user pastes: Medium profile, Substack home, blog home, repo
        site.document_urls()    # every individual document
        site.resolve("/medium/@nellharrowgate/chunking-is-a-product-decision-7c1e9a4b2d3f")

Run ``python -m llm_twin.sample.server`` to browse it by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from llm_twin.sample.corpus import SERVED_PLATFORMS, Corpus, Links, Piece, load_corpus
from llm_twin.sample.linkedin import linkedin_posts, write_linkedin_export
from llm_twin.sample.pages import Pages, build_tarball

HOST = "127.0.0.1"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
MEDIUM_RSS = "text/xml; charset=utf-8"
GZIP = "application/x-gzip"
LINKEDIN_ORIGIN = "https://www.linkedin.com"

_SERVER_HEADER = {"medium": "cloudflare", "substack": "cloudflare", "blog": "Netlify", "github": "GitHub.com"}
_ROBOTS = {
    "medium": "User-agent: *\nDisallow: /m/\nDisallow: /me/\nDisallow: /@me/\nDisallow: /_/\n",
    "substack": (
        "User-agent: *\nDisallow: /action/\nDisallow: /publish\nDisallow: /sign-in\n\n"
        "Sitemap: {origin}/sitemap.xml\n"
    ),
    "blog": "User-agent: *\n\nSitemap: {origin}/sitemap.xml\n",
    "github": "User-agent: *\nDisallow: /*/pulse\nDisallow: /search\nDisallow: /login\n",
}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = HTML
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RequestRecord:
    """One request the site answered."""

    platform: str
    method: str
    path: str
    query: str
    status: int
    user_agent: str | None


@dataclass(frozen=True)
class _Override:
    status: int
    body: bytes | None
    content_type: str | None
    headers: tuple[tuple[str, str], ...]
    delay: float


def _html(body: str, status: int = 200) -> Response:
    return Response(status, body.encode("utf-8"), HTML)


def _redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", HTML, (("Location", location),))


class _PlatformServer(ThreadingHTTPServer):
    daemon_threads = True
    # server_close() would otherwise join every handler thread, one of which may sit on a client's idle
    # keep-alive connection: stopping the site must not wait for clients.
    block_on_close = False

    def __init__(self, port: int, site: SampleSite, platform: str) -> None:
        self.site = site
        self.platform = platform
        super().__init__((HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):  # clients hanging up
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _PlatformServer
    protocol_version = "HTTP/1.1"
    timeout = 15  # an idle keep-alive connection frees its thread after this long

    def version_string(self) -> str:
        return _SERVER_HEADER.get(self.server.platform, "sample-site")

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the site keeps its own log
        return

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        response = self.server.site._dispatch(self.server.platform, self.command, self.path, self.headers)
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if send_body and response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class SampleSite:
    """The sample author's Medium, Substack, blog and GitHub, each on its own loopback origin.

    ``ports`` maps a platform to a fixed port; the others get a free one (port 0). Use it as a context
    manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, ports: Mapping[str, int] | None = None) -> None:
        unknown = set(ports or {}) - set(SERVED_PLATFORMS)
        if unknown:
            raise ValueError(f"unknown platforms: {sorted(unknown)}; served: {SERVED_PLATFORMS}")
        self.corpus: Corpus = load_corpus()
        self._ports = dict(ports or {})
        self._servers: dict[str, _PlatformServer] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._overrides: dict[tuple[str, str], _Override] = {}
        self._updates: dict[tuple[str, str], Piece] = {}
        self._removed: set[tuple[str, str]] = set()
        self._log: list[RequestRecord] = []
        self._tarballs: dict[tuple[str, str], bytes] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SampleSite:
        if self._servers:
            return self
        try:
            for platform in SERVED_PLATFORMS:
                server = _PlatformServer(self._ports.get(platform, 0), self, platform)
                self._servers[platform] = server
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.1},
                    name=f"sample-site-{platform}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        servers, self._servers = self._servers, {}
        threads, self._threads = self._threads, []
        for server in servers.values():
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> SampleSite:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    # -- addresses -----------------------------------------------------------------------------

    @property
    def author_name(self) -> str:
        return self.corpus.author.full_name

    @property
    def origins(self) -> dict[str, str]:
        """``{platform: "http://127.0.0.1:PORT"}`` for the four served platforms."""
        if not self._servers:
            raise RuntimeError("the sample site is not running: use it as a context manager or call start()")
        return {p: f"http://{HOST}:{s.server_address[1]}" for p, s in self._servers.items()}

    def base_url(self, platform: str) -> str:
        """The platform's origin, without a trailing slash (e.g. ``http://127.0.0.1:41234``)."""
        try:
            return self.origins[platform]
        except KeyError:
            raise ValueError(f"{platform!r} is not served; served: {SERVED_PLATFORMS}") from None

    @property
    def links(self) -> Links:
        return Links(self.corpus, {**self.origins, "linkedin": LINKEDIN_ORIGIN})

    def host_map(self) -> dict[str, str]:
        """``{"127.0.0.1:PORT": platform}``: on loopback every platform shares a host, so a crawler
        dispatcher that routes by domain needs this (or the pages' own markers: ``og:site_name``
        Medium/GitHub, ``generator`` Substack/Hugo)."""
        return {origin.removeprefix("http://"): platform for platform, origin in self.origins.items()}

    def entry_links(self) -> list[str]:
        """What a user would paste: the Medium profile, the Substack home, the blog home, the repo."""
        o = self.origins
        return [
            f"{o['medium']}/@{self.corpus.author.handles['medium']}",
            f"{o['substack']}/",
            f"{o['blog']}/",
            f"{o['github']}{self.corpus.repository_path}",
        ]

    def pieces(self, platform: str | None = None) -> list[Piece]:
        """The pieces currently published (after :meth:`update_piece` / :meth:`remove_piece`)."""
        with self._lock:
            current = [self._updates.get(p.key, p) for p in self.corpus.pieces if p.key not in self._removed]
        return [p for p in current if platform is None or p.platform == platform]

    def piece_url(self, platform: str, slug: str) -> str:
        return self.links.piece(self.corpus.piece(platform, slug))

    def document_urls(self) -> list[str]:
        """Every individual document: each article and post (canonical URL, newest first per platform)
        and the repository."""
        links = self.links
        urls = [
            links.piece(p)
            for platform in ("medium", "substack", "blog")
            for p in sorted(self.pieces(platform), key=lambda p: p.published_at, reverse=True)
        ]
        return [*urls, links.repository()]

    def resolve(self, relative: str) -> str:
        """``/<platform>/<path on that platform>`` (the form questions.jsonl uses) to an absolute URL.
        ``/linkedin/...`` resolves to https://www.linkedin.com/... (the export's share links)."""
        platform, sep, rest = relative.lstrip("/").partition("/")
        if platform == "linkedin":
            return f"{LINKEDIN_ORIGIN}/{rest}"
        if platform not in SERVED_PLATFORMS:
            raise ValueError(f"unknown platform in {relative!r}")
        return f"{self.base_url(platform)}/{rest}" if sep else f"{self.base_url(platform)}/"

    def relative(self, url: str) -> str | None:
        """The inverse of :meth:`resolve` (query and fragment dropped); None for a foreign URL."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin == LINKEDIN_ORIGIN:
            return "/linkedin" + parts.path
        for platform, known in self.origins.items():
            if known == origin:
                return f"/{platform}{parts.path or '/'}"
        return None

    def document_for(self, url: str) -> str | None:
        """The relative path of the document a URL belongs to, in questions.jsonl form: any page of
        the repository (``/blob/...``, ``/tree/...``, ``/raw/...``) belongs to the repository; a
        Medium link's ``?source=`` query is dropped. None when the URL is not a known document."""
        relative = self.relative(url)
        if relative is None:
            return None
        repo = "/github" + self.corpus.repository_path
        if relative == repo or relative.startswith(repo + "/"):
            return repo
        known = {self.relative(u) for u in self.document_urls()}
        known |= {"/linkedin" + urlsplit(p["ShareLink"]).path for p in self.linkedin_posts()}
        if relative in known:
            return relative
        if relative + "/" in known:
            return relative + "/"
        return None

    # -- LinkedIn ------------------------------------------------------------------------------

    def linkedin_posts(self) -> list[dict[str, str]]:
        """The rows of the export's Shares.csv, with shared URLs pointing at this site."""
        return linkedin_posts(self.links)

    def write_linkedin_export(self, path: str | Path) -> Path:
        """Write the LinkedIn export zip with its shared URLs pointing at this running site."""
        return write_linkedin_export(path, self.links)

    # -- test and demo controls ----------------------------------------------------------------

    def set_override(
        self,
        platform: str,
        path: str,
        body: str | bytes | None = None,
        *,
        status: int = 200,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer ``path`` (no query string) on ``platform`` with ``body`` and/or ``status`` instead of
        the real page: replace a page or feed, make it 404/500, redirect it (``headers={"Location":
        ...}``) or slow it down (``delay`` seconds). Without ``content_type`` a replacement body keeps
        the content type the real route would have had."""
        if platform not in SERVED_PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        if body is None and status == 200 and not delay:
            raise ValueError("give a body, a non-200 status or a delay")
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self._overrides[(platform, path)] = _Override(
                status, data, content_type, tuple((headers or {}).items()), delay
            )

    def clear_override(self, platform: str, path: str) -> None:
        with self._lock:
            self._overrides.pop((platform, path), None)

    def clear_overrides(self) -> None:
        with self._lock:
            self._overrides.clear()

    def update_piece(
        self,
        platform: str,
        slug: str,
        *,
        markdown: str | None = None,
        append: str | None = None,
        title: str | None = None,
        subtitle: str | None = None,
    ) -> Piece:
        """Change a piece everywhere it appears (its page, feeds, lists), as an author's edit would.
        ``append`` adds a paragraph at the end of the body."""
        original = self.corpus.piece(platform, slug)
        with self._lock:
            current = self._updates.get(original.key, original)
            text = markdown if markdown is not None else current.markdown
            if append:
                text = text.rstrip("\n") + "\n\n" + append.strip() + "\n"
            updated = replace(
                current,
                markdown=text,
                title=title if title is not None else current.title,
                subtitle=subtitle if subtitle is not None else current.subtitle,
            )
            self._updates[original.key] = updated
        return updated

    def remove_piece(self, platform: str, slug: str) -> None:
        """Unpublish a piece: its page 404s and it disappears from feeds and lists."""
        key = self.corpus.piece(platform, slug).key
        with self._lock:
            self._removed.add(key)

    def reset(self) -> None:
        """Undo every override, edit and removal, and clear the request log."""
        with self._lock:
            self._overrides.clear()
            self._updates.clear()
            self._removed.clear()
            self._log.clear()

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, oldest first."""
        with self._lock:
            return list(self._log)

    def hits(self, platform: str | None = None, path: str | None = None) -> int:
        """How many requests reached ``platform`` (and ``path``, without query string)."""
        return sum(
            1
            for r in self.requests
            if (platform is None or r.platform == platform) and (path is None or r.path == path)
        )

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # -- request handling ----------------------------------------------------------------------

    def _dispatch(self, platform: str, method: str, target: str, headers: Mapping[str, str]) -> Response:
        parts = urlsplit(target)
        path = unquote(parts.path) or "/"
        with self._lock:
            override = self._overrides.get((platform, path))
        try:
            response = self._route(platform, path, parts.query)
        except Exception:  # a bug in a template must not take the server down
            response = _html(self._pages().error_page(500), 500)
        if override is not None:
            if override.delay:
                time.sleep(override.delay)
            response = self._apply(platform, override, response)
        if response.status == 200:
            etag = '"' + hashlib.sha1(response.body, usedforsecurity=False).hexdigest() + '"'
            response = replace(response, headers=(*response.headers, ("ETag", etag)))
            if headers.get("If-None-Match") == etag:
                response = Response(304, b"", None, (("ETag", etag),))
        with self._lock:
            self._log.append(
                RequestRecord(platform, method, path, parts.query, response.status, headers.get("User-Agent"))
            )
        return response

    def _apply(self, platform: str, override: _Override, real: Response) -> Response:
        if override.body is None and override.status == 200:  # delay only
            return real
        if override.body is not None:
            content_type = override.content_type or (real.content_type if real.status == 200 else HTML)
            return Response(override.status, override.body, content_type, override.headers)
        pages = self._pages()
        page = pages.not_found(platform) if override.status == 404 else pages.error_page(override.status)
        body = b"" if 300 <= override.status < 400 else page.encode("utf-8")
        return Response(override.status, body, override.content_type or HTML, override.headers)

    def _pages(self) -> Pages:
        return Pages(self.corpus, self.links, self.pieces())

    def _route(self, platform: str, path: str, query: str) -> Response:
        pages = self._pages()
        if path == "/robots.txt":
            return Response(200, _ROBOTS[platform].format(origin=self.base_url(platform)).encode(), TEXT)
        route = getattr(self, f"_route_{platform}")
        response: Response | None = route(pages, path, query)
        return response or _html(pages.not_found(platform), 404)

    def _route_medium(self, pages: Pages, path: str, query: str) -> Response | None:
        handle = self.corpus.author.handles["medium"]
        if path == "/":
            return _html(pages.medium_home())
        if path in (f"/@{handle}", f"/@{handle}/"):
            return _html(pages.medium_profile())
        if path in (f"/feed/@{handle}", f"/@{handle}/feed"):
            return Response(200, pages.medium_feed().encode("utf-8"), MEDIUM_RSS)
        for piece in pages.pieces("medium"):
            if path == self.corpus.path_of(piece):
                return _html(pages.medium_article(piece))
            if path == f"/p/{piece.medium_id}":
                return _redirect(self.links.piece(piece), 301)
        return None

    def _route_substack(self, pages: Pages, path: str, query: str) -> Response | None:
        if path == "/":
            return _html(pages.substack_home())
        if path == "/archive":
            return _html(pages.substack_archive())
        if path == "/feed":
            return Response(200, pages.substack_feed().encode("utf-8"), RSS)
        if path == "/api/v1/archive":
            params = parse_qs(query)
            offset = int(params.get("offset", ["0"])[0] or 0)
            limit = min(int(params.get("limit", ["12"])[0] or 12), 50)
            return Response(200, pages.substack_api_archive(offset, limit).encode("utf-8"), JSON)
        if path == "/sitemap.xml":
            urls = [(self.base_url("substack") + "/", None)] + [
                (self.links.piece(p), p.published_at) for p in pages.pieces("substack")
            ]
            return Response(200, pages.sitemap(urls).encode("utf-8"), XML)
        match = re.fullmatch(r"/p/([a-z0-9-]+)(/?)", path)
        if match and pages.find("substack", match.group(1)):
            piece = pages.find("substack", match.group(1))
            assert piece is not None
            if match.group(2):
                return _redirect(self.links.piece(piece), 301)
            return _html(pages.substack_post(piece))
        return None

    def _route_blog(self, pages: Pages, path: str, query: str) -> Response | None:
        origin = self.base_url("blog")
        if path in ("/", "/index.html"):
            return _html(pages.blog_home())
        if path in ("/index.xml", "/posts/index.xml"):
            return Response(200, pages.blog_feed().encode("utf-8"), RSS)
        if path == "/sitemap.xml":
            urls = [(origin + "/", None), (origin + "/posts/", None), (origin + "/about/", None)] + [
                (self.links.piece(p), p.published_at) for p in pages.pieces("blog")
            ]
            return Response(200, pages.sitemap(urls).encode("utf-8"), XML)
        if path in ("/posts/", "/posts/index.html"):
            return _html(pages.blog_posts())
        if path in ("/about/", "/about/index.html"):
            return _html(pages.blog_about())
        if path in ("/tags/", "/tags/index.html"):
            return _html(pages.blog_tags(None) or "")
        tag = re.fullmatch(r"/tags/([a-z0-9-]+)/(?:index\.html)?", path)
        if tag:
            page = pages.blog_tags(tag.group(1))
            return _html(page) if page else None
        post = re.fullmatch(r"/posts/([a-z0-9-]+)/(?:index\.html)?", path)
        if post:
            piece = pages.find("blog", post.group(1))
            return _html(pages.blog_post(piece)) if piece else None
        bare = path in ("/posts", "/about", "/tags") or re.fullmatch(r"/(posts|tags)/[a-z0-9-]+", path)
        if bare and self._route_blog(pages, path + "/", query):
            return _redirect(origin + path + "/", 301)
        return None

    def _route_github(self, pages: Pages, path: str, query: str) -> Response | None:
        repo = self.corpus.repository
        origin = self.base_url("github")
        base = "/" + repo.full_name
        refs = {repo.default_branch, "HEAD", repo.sha}
        if path in (f"/{repo.owner}", f"/{repo.owner}/"):
            return _html(pages.github_profile())
        if path in (base, base + "/"):
            return _html(pages.github_repo())
        if path == f"{base}/archive/HEAD.tar.gz":
            return _redirect(f"{origin}/codeload/{repo.full_name}/tar.gz/HEAD")
        if path == f"{base}/archive/refs/heads/{repo.default_branch}.tar.gz":
            return _redirect(f"{origin}/codeload/{repo.full_name}/tar.gz/refs/heads/{repo.default_branch}")
        codeload = f"/codeload/{repo.full_name}/tar.gz/"
        if path.startswith(codeload):
            ref = path.removeprefix(codeload)
            if ref in ("HEAD", repo.sha):
                top = f"{repo.name}-{repo.sha}"
            elif ref == f"refs/heads/{repo.default_branch}":
                top = f"{repo.name}-{repo.default_branch}"
            else:
                return None
            return Response(
                200,
                self._tarball(top),
                GZIP,
                (("Content-Disposition", f"attachment; filename={top}.tar.gz"),),
            )
        match = re.fullmatch(re.escape(base) + r"/(blob|tree|raw)/([^/]+)/(.+)", path)
        if match and match.group(2) in refs:
            kind, file_path = match.group(1), match.group(3).rstrip("/")
            if kind == "raw":
                data = repo.files.get(file_path)
                if data is None:
                    return None
                return Response(200, data, "application/octet-stream" if b"\0" in data else TEXT)
            page = pages.github_blob(file_path) if kind == "blob" else pages.github_tree(file_path)
            return _html(page) if page else None
        return None

    def _tarball(self, top: str) -> bytes:
        repo = self.corpus.repository
        key = (repo.sha, top)
        with self._lock:
            cached = self._tarballs.get(key)
        if cached is None:
            cached = build_tarball(repo, top)
            with self._lock:
                self._tarballs[key] = cached
        return cached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llm_twin.sample.server",
        description="Serve the sample author's Medium, Substack, blog and GitHub on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="first port: medium, substack, blog and github use PORT..PORT+3 (default: free ports)",
    )
    parser.add_argument("--linkedin", type=Path, help="also write the LinkedIn export zip (file or folder)")
    args = parser.parse_args(argv)
    # Ctrl-C stops it even when started from a background job, which inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ports = {p: args.port + i for i, p in enumerate(SERVED_PLATFORMS)} if args.port else None
    try:
        with SampleSite(ports) as site:
            print(f"Sample author: {site.author_name}")
            for platform, link in zip(SERVED_PLATFORMS, site.entry_links(), strict=True):
                print(f"  {platform:<9} {link}")
            print(f"  {len(site.document_urls())} documents")
            if args.linkedin:
                print(f"  linkedin  {site.write_linkedin_export(args.linkedin)}")
            print("Press Ctrl-C to stop.", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
