# ruff: noqa: E501  (the templates keep the real sites' long lines: one tag, one line)
"""Page chrome: each platform's HTML, feeds and archives around the corpus content.

Content (``corpus.py``) and chrome (here) are separate: every template takes a :class:`Piece` and the
:class:`Links` of the origins that serve it, so the same corpus renders with local origins in tests and
demos and public ones in the LinkedIn export. Every output is deterministic (no clocks, no random
numbers), so an unchanged page hashes the same on every crawl.

The noise is deliberate and shaped like the real sites: navigation, sign-in prompts, cookie banners,
clap and share bars, subscribe widgets inside a Substack body, comments, recommendations, footers,
inline scripts holding JSON state, and JSON-LD. A cleaner has to find the article inside all that.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import math
import re
import tarfile
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape as xml_escape

from llm_twin.sample._markdown import slugify, to_html
from llm_twin.sample.corpus import Corpus, Links, Piece, Repository, stable_hex, stable_number


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def long_date(moment: datetime) -> str:
    return f"{moment:%b} {moment.day}, {moment.year}"


def rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def json_for_script(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def reading_minutes(piece: Piece, words_per_minute: int) -> int:
    return max(1, math.ceil(piece.words / words_per_minute))


_SUBSTACK_COMMENTS: tuple[tuple[str, str], ...] = (
    ("Dafydd Rees", "This is going straight into our team wiki. Thank you."),
    ("Marguerite Okafor", "The numbered field notes are my favourite thing about this newsletter."),
    ("Sam Kettering", "We hit almost exactly this last year. I wish I'd read it then."),
    (
        "Inês Carvalho",
        "Printed the list and stuck it above my desk. My manager asked if I was starting a cult.",
    ),
    ("Rob Tanaka", "Good post, but I'd push back on one point — happy to argue about it over a coffee."),
    ("Hannah Wu", "Thanks for writing the honest version. Most posts on this stop at the happy path."),
)
_AUTHOR_REPLIES: tuple[str, ...] = (
    "Thank you! Tell me how it goes.",
    "Ha. That's the most flattering thing anyone has said about a list.",
    "Glad it helped. It took me two incidents to learn it, so you're one up.",
)
_MEDIUM_RECOMMENDED: tuple[tuple[str, str, str], ...] = (
    (
        "Vector Databases Are Not Magic",
        "Priyanka Deshmukh",
        "https://medium.com/@pdeshmukh/vector-databases-are-not-magic-19d2c7e4f0ab",
    ),
    (
        "The Feature Store You Already Have",
        "Tom Okonkwo",
        "https://medium.com/@tomokonkwo/the-feature-store-you-already-have-8b31f0a2e6d5",
    ),
    (
        "Prompt Engineering Is Dead. Long Live Prompt Engineering.",
        "Alex Brandt",
        "https://medium.com/@abrandt/prompt-engineering-is-dead-3fe0a1c92b74",
    ),
)


class Pages:
    """Renders every page of the four sites for one snapshot of the corpus."""

    def __init__(self, corpus: Corpus, links: Links, pieces: Sequence[Piece]) -> None:
        self.corpus = corpus
        self.links = links
        self.author = corpus.author
        self._pieces = list(pieces)

    # -- helpers -------------------------------------------------------------------------------

    def pieces(self, platform: str) -> list[Piece]:
        return sorted(
            (p for p in self._pieces if p.platform == platform), key=lambda p: p.published_at, reverse=True
        )

    def find(self, platform: str, slug: str) -> Piece | None:
        return next((p for p in self._pieces if p.platform == platform and p.slug == slug), None)

    def body(self, piece: Piece, *, heading_ids: bool = False) -> str:
        return self.links.html(piece, heading_ids=heading_ids)

    def not_found(self, platform: str) -> str:
        titles = {
            "medium": "Medium",
            "substack": self.corpus.substack["name"],
            "blog": self.corpus.blog["title"],
            "github": "GitHub",
        }
        site = titles.get(platform, "Not found")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Page not found · {e(site)}</title></head><body><main><h1>404</h1>"
            "<p>Out of nothing, something. You can find (just about) anything on this site, "
            'but not this page.</p><p><a href="/">Home</a></p></main></body></html>\n'
        )

    def error_page(self, status: int) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Error {status}</title></head><body><h1>{status}</h1>"
            "<p>Something went wrong on our side. Please try again later.</p></body></html>\n"
        )

    # -- Medium --------------------------------------------------------------------------------

    @property
    def medium_handle(self) -> str:
        return self.author.handles["medium"]

    @property
    def medium_user_id(self) -> str:
        return stable_hex("medium-user:" + self.medium_handle, 12)

    def _medium_shell(self, title: str, head: str, main: str, scripts: str) -> str:
        origin = self.links.origin("medium")
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(title)}</title>
<meta name="viewport" content="width=device-width,minimum-scale=1,initial-scale=1,maximum-scale=1">
<meta name="theme-color" content="#000000">
<meta property="og:site_name" content="Medium">
<meta property="fb:app_id" content="542599432471018">
<meta name="twitter:site" content="@Medium">
<meta name="twitter:app:name:iphone" content="Medium">
<link rel="search" type="application/opensearchdescription+xml" title="Medium" href="/osd.xml">
<link rel="apple-touch-icon" sizes="152x152" href="https://miro.medium.com/v2/resize:fill:152:152/1*sHhtYhaCe2Uc3IU0IgKwIQ.png">
<link rel="icon" href="https://miro.medium.com/v2/1*m-R_BkNf1Qjr1YbyOIJY2w.png">
<link rel="preconnect" href="https://glyph.medium.com" crossorigin="">
{head}
<style type="text/css" data-fela-rehydration="560" data-fela-type="STATIC">html{{box-sizing:border-box;-webkit-text-size-adjust:100%}}*, *:before, *:after{{box-sizing:inherit}}body{{margin:0;padding:0;text-rendering:optimizeLegibility;-webkit-font-smoothing:antialiased;color:rgba(0,0,0,0.8);position:relative;min-height:100vh}}h1, h2, h3, h4, h5, h6, dl, dd, ol, ul, menu, figure, blockquote, p, pre, form{{margin:0}}</style>
</head>
<body>
<div id="root">
<div class="a b c">
<div class="cookie-banner" role="dialog" aria-label="Cookie policy">
<p>To make Medium work, we log user data. By using Medium, you agree to our <a href="https://policy.medium.com/medium-privacy-policy-f03bf92035c9">Privacy Policy</a>, including cookie policy.</p>
<button class="cookie-accept">Got it</button>
</div>
<div class="metabar" role="banner">
<nav aria-label="Top navigation">
<a aria-label="Homepage" data-testid="headerMediumLogo" href="{origin}/?source=post_page---top_nav_layout_nav----------------------------------"><svg viewBox="0 0 1043.63 592.71" class="dz ea"><g data-name="Layer 2"><g data-name="Layer 1"><path d="M588.67 296.36c0 163.67-131.78 296.35-294.33 296.35S0 460 0 296.36 131.78 0 294.34 0s294.33 132.69 294.33 296.36"></path></g></g></svg></a>
<div class="search"><input role="combobox" aria-controls="search-results" aria-expanded="false" aria-label="search" data-testid="headerSearchInput" tabindex="0" placeholder="Search" value=""></div>
<a href="{origin}/m/signin?operation=register&amp;redirect=https%3A%2F%2Fmedium.com%2Fnew-story&amp;source=---top_nav_layout_nav-----------------------new_post_topnav-----------" rel="noopener follow" data-testid="headerWriteButton"><span>Write</span></a>
<a href="{origin}/m/signin?operation=register&amp;source=post_page---top_nav_layout_nav-----------------------global_nav-----------" rel="noopener follow"><button data-testid="headerSignUpButton">Sign up</button></a>
<a href="{origin}/m/signin?operation=login&amp;source=post_page---top_nav_layout_nav-----------------------global_nav-----------" rel="noopener follow" data-testid="headerSignInButton">Sign in</a>
</nav>
</div>
{main}
<footer class="site-footer">
<a href="https://help.medium.com/hc/en-us?source=post_page-----footer-----">Help</a>
<a href="https://medium.statuspage.io/?source=post_page-----footer-----">Status</a>
<a href="{origin}/about?autoplay=1&amp;source=post_page-----footer-----">About</a>
<a href="{origin}/jobs-at-medium/work-at-medium-959d1a85284e?source=post_page-----footer-----">Careers</a>
<a href="mailto:pressinquiries@medium.com">Press</a>
<a href="https://blog.medium.com/?source=post_page-----footer-----">Blog</a>
<a href="https://policy.medium.com/medium-privacy-policy-f03bf92035c9?source=post_page-----footer-----">Privacy</a>
<a href="https://policy.medium.com/medium-terms-of-service-9db0094a1e0f?source=post_page-----footer-----">Terms</a>
<a href="https://speechify.com/medium?source=post_page-----footer-----">Text to speech</a>
<a href="{origin}/business?source=post_page-----footer-----">Teams</a>
</footer>
</div>
</div>
<script>window.__BUILD_ID__="main-20250206-174506-1f1e3a8c61"</script><script>window.__GRAPHQL_URI__ = "https://medium.com/_/graphql"</script>
<script>window.__PRELOADED_STATE__ = {{"config":{{"nodeEnv":"production","version":"main-20250206-174506-1f1e3a8c61","isAmp":false,"productName":"Medium"}},"navigation":{{"branch":null,"hideGoogleOneTap":false}}}}</script>
{scripts}
<script src="https://cdn-client.medium.com/lite/static/js/manifest.9c1e3f3a.js"></script>
<script src="https://cdn-client.medium.com/lite/static/js/main.5b8d2e07.js"></script>
</body>
</html>
"""

    def medium_article(self, piece: Piece) -> str:
        origin = self.links.origin("medium")
        url = self.links.piece(piece)
        handle, name, pid = self.medium_handle, self.author.full_name, piece.medium_id or ""
        published = piece.published_at.astimezone(UTC)
        iso = published.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stable_number(pid, 100, 999)}Z"
        claps = stable_number("claps:" + pid, 120, 2400)
        responses = stable_number("responses:" + pid, 2, 31)
        minutes = reading_minutes(piece, 265)
        source = f"?source=post_page-----{pid}---------------------------------------"
        image = f"https://miro.medium.com/v2/resize:fit:1200/1*{stable_hex('img' + pid, 22)}.png"
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "url": url,
            "dateCreated": iso,
            "datePublished": iso,
            "dateModified": iso,
            "headline": piece.title,
            "name": piece.title,
            "description": piece.subtitle,
            "identifier": pid,
            "author": {"@type": "Person", "name": name, "url": f"{origin}/@{handle}"},
            "creator": [name],
            "publisher": {"@type": "Organization", "name": "Medium", "url": origin + "/"},
            "mainEntityOfPage": url,
            "isAccessibleForFree": True,
        }
        head = f"""<meta name="title" content="{e(piece.title)} | by {e(name)} | {e(long_date(published))} | Medium">
<meta name="description" content="{e(piece.subtitle)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{e(piece.title)}">
<meta property="og:description" content="{e(piece.subtitle)}">
<meta property="og:url" content="{e(url)}">
<meta property="og:image" content="{e(image)}">
<meta property="article:author" content="{e(origin)}/@{e(handle)}">
<meta property="article:published_time" content="{iso}">
<meta name="author" content="{e(name)}">
<meta name="robots" content="index,noarchive,follow,max-image-preview:large">
<meta name="referrer" content="unsafe-url">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{e(piece.title)}">
<meta name="twitter:description" content="{e(piece.subtitle)}">
<meta name="twitter:image:src" content="{e(image)}">
<meta name="twitter:label1" content="Reading time">
<meta name="twitter:data1" content="{minutes} min read">
<link rel="author" href="{e(origin)}/@{e(handle)}">
<link rel="canonical" href="{e(url)}">
<link rel="alternate" href="android-app://com.medium.reader/https/medium.com/p/{pid}">
<link rel="alternate" type="application/rss+xml" title="RSS" href="{e(origin)}/feed/@{e(handle)}">
<script type="application/ld+json">{json_for_script(ld)}</script>"""
        body = self.body(piece).replace("<p>", '<p class="pw-post-body-paragraph">')
        tags = "".join(
            f'<a href="{e(origin)}/tag/{e(tag)}{source}" rel="noopener follow"><div class="tag">{e(tag.replace("-", " ").title())}</div></a>'
            for tag in piece.tags
        )
        bar = f"""<div class="clap-share-bar">
<div class="pw-multi-vote-icon"><button aria-label="clap" data-testid="headerClapButton"><svg width="24" height="24" viewBox="0 0 24 24" aria-label="clap"><path fill-rule="evenodd" d="M11.37.828 12 3.282l.63-2.454z"></path></svg></button></div>
<div class="pw-multi-vote-count"><p><button>{claps:,}</button></p></div>
<button aria-label="responses" class="responses"><span>{responses}</span></button>
<button aria-label="Add to list" data-testid="headerBookmarkButton">Save</button>
<button aria-label="Listen" data-testid="audioPlayButton"><p>Listen</p></button>
<button aria-label="Share Post" data-testid="headerSocialShareButton"><p>Share</p></button>
</div>"""
        others = [p for p in self.pieces("medium") if p.slug != piece.slug][:4]
        more = "\n".join(
            f"""<div class="recirc-card"><a href="{e(origin)}{e(self.corpus.path_of(p))}?source=author_recirc-----{pid}----{i}---------------------{stable_hex(p.slug + pid, 8)}-{stable_hex(pid, 4)}-{stable_hex(p.slug, 4)}-{stable_hex(pid + p.slug, 12)}-------" rel="noopener follow"><h2>{e(p.title)}</h2><div class="recirc-subtitle"><h3>{e(p.subtitle)}</h3></div></a><span>{e(long_date(p.published_at))}</span><span>{stable_number("claps:" + (p.medium_id or ""), 120, 2400)}</span></div>"""
            for i, p in enumerate(others)
        )
        recommended = "\n".join(
            f'<div class="recirc-card"><a href="{e(link)}?source=read_next_recirc-----{pid}----{i}---------------------" rel="noopener follow"><h2>{e(title)}</h2></a><p>{e(author)}</p></div>'
            for i, (title, author, link) in enumerate(_MEDIUM_RECOMMENDED)
        )
        followers = stable_number("followers:" + handle, 800, 4000)
        main = f"""<div class="l m n o c"><main>
<article><div class="l"><div class="l">
<section><div class="ch ci cj ck cl"><div class="ab ca"><div class="ch bg ev ew ex ey">
<div class="speechify-ignore">
<h1 id="{stable_hex(pid, 4)}" class="pw-post-title" data-testid="storyTitle" data-selectable-paragraph="">{e(piece.title)}</h1>
<h2 id="{stable_hex(pid + "s", 4)}" class="pw-subtitle-paragraph" data-selectable-paragraph="">{e(piece.subtitle)}</h2>
<div class="pw-author"><div class="author-avatar"><a href="{e(origin)}/@{e(handle)}{source}" rel="noopener follow"><img alt="{e(name)}" class="l fe by dd de cx" src="https://miro.medium.com/v2/resize:fill:88:88/1*{stable_hex("avatar" + handle, 22)}.jpeg" width="44" height="44" loading="lazy" data-testid="authorPhoto"></a></div>
<div class="author-meta"><a data-testid="authorName" href="{e(origin)}/@{e(handle)}{source}" rel="noopener follow">{e(name)}</a> <span>·</span> <button class="follow-button">Follow</button></div>
<div class="post-meta"><span data-testid="storyReadTime">{minutes} min read</span><span>·</span><span data-testid="storyPublishDate">{e(long_date(published))}</span></div></div>
{bar}
</div>
<div class="pw-post-body">
{body}
</div>
</div></div></div></section>
</div></div></article>
<div class="post-footer">
<div class="post-tags">{tags}</div>
{bar}
<div class="written-by"><a href="{e(origin)}/@{e(handle)}{source}" rel="noopener follow"><h2>Written by {e(name)}</h2></a>
<p><a href="{e(origin)}/@{e(handle)}/followers{source}">{followers:,} Followers</a></p>
<p>{e(self.author.bio)}</p><button class="follow-button">Follow</button></div>
<div class="responses-preview"><h2>Responses ({responses})</h2><p>What are your thoughts?</p><a href="{e(origin)}/m/signin?operation=login&amp;source=---post_responses--{pid}---------------------respond_sidebar-----------">Sign in to respond</a></div>
<div class="more-from"><h2>More from {e(name)}</h2>
{more}
<a href="{e(origin)}/@{e(handle)}{source}" rel="noopener follow">See all from {e(name)}</a></div>
<div class="recommended"><h2>Recommended from Medium</h2>
{recommended}
</div>
</div>
</main></div>"""
        apollo = {
            f"Post:{pid}": {
                "__typename": "Post",
                "id": pid,
                "title": piece.title,
                "mediumUrl": url,
                "firstPublishedAt": int(published.timestamp() * 1000),
                "clapCount": claps,
                "previewContent": {"__typename": "PreviewContent", "subtitle": piece.subtitle},
                "creator": {"__ref": f"User:{self.medium_user_id}"},
                "tags": [{"__ref": f"Tag:{tag}"} for tag in piece.tags],
            },
            f"User:{self.medium_user_id}": {
                "__typename": "User",
                "id": self.medium_user_id,
                "name": name,
                "username": handle,
                "bio": self.author.bio,
            },
        }
        scripts = f"<script>window.__APOLLO_STATE__ = {json_for_script(apollo)}</script>"
        title = f"{piece.title} | by {name} | {long_date(published)} | Medium"
        return self._medium_shell(title, head, main, scripts)

    def medium_profile(self) -> str:
        origin = self.links.origin("medium")
        handle, name, uid = self.medium_handle, self.author.full_name, self.medium_user_id
        profile_url = f"{origin}/@{handle}"
        cards = "\n".join(
            f"""<article data-testid="post-preview"><div class="post-preview">
<a href="/@{e(handle)}/{e(p.slug)}-{e(p.medium_id or "")}?source=user_profile_page---------{i}-------------{uid}----------------------" rel="noopener follow"><h2>{e(p.title)}</h2><div class="preview-subtitle"><h3>{e(p.subtitle)}</h3></div></a>
<div class="preview-meta"><span>{e(long_date(p.published_at))}</span><span>{stable_number("claps:" + (p.medium_id or ""), 120, 2400)}</span><span>{stable_number("responses:" + (p.medium_id or ""), 2, 31)}</span></div>
</div></article>"""
            for i, p in enumerate(self.pieces("medium"))
        )
        followers = stable_number("followers:" + handle, 800, 4000)
        head = f"""<meta name="description" content="Read writing from {e(name)} on Medium. {e(self.author.bio)}">
<meta property="og:type" content="profile">
<meta property="og:title" content="{e(name)} \u2013 Medium">
<meta property="og:description" content="Read writing from {e(name)} on Medium. {e(self.author.bio)}">
<meta property="og:url" content="{e(profile_url)}">
<meta property="profile:username" content="{e(handle)}">
<link rel="canonical" href="{e(profile_url)}">
<link rel="alternate" type="application/rss+xml" title="RSS" href="{e(origin)}/feed/@{e(handle)}">"""
        main = f"""<main class="profile">
<div class="profile-header"><h1>{e(name)}</h1>
<nav class="profile-tabs"><a href="/@{e(handle)}">Home</a> <a href="/@{e(handle)}/lists">Lists</a> <a href="/@{e(handle)}/about">About</a></nav></div>
<div class="profile-stream">
{cards}
</div>
<aside class="profile-sidebar"><img alt="{e(name)}" src="https://miro.medium.com/v2/resize:fill:176:176/1*{stable_hex("avatar" + handle, 22)}.jpeg" width="88" height="88">
<h2>{e(name)}</h2><p><a href="/@{e(handle)}/followers">{followers:,} Followers</a></p><p>{e(self.author.bio)}</p>
<button class="follow-button">Follow</button> <button aria-label="Subscribe">Get an email whenever {e(self.author.first_name)} publishes.</button></aside>
</main>"""
        return self._medium_shell(f"{name} \u2013 Medium", head, main, "")

    def medium_home(self) -> str:
        origin = self.links.origin("medium")
        main = f"""<main class="landing"><h1>Human stories &amp; ideas</h1>
<p>A place to read, write, and deepen your understanding</p>
<a href="{e(origin)}/m/signin?operation=register">Start reading</a></main>"""
        return self._medium_shell(
            "Medium: Read and write stories.", '<meta property="og:type" content="website">', main, ""
        )

    def medium_feed(self) -> str:
        origin = self.links.origin("medium")
        handle, name = self.medium_handle, self.author.full_name
        rss_source = f"?source=rss-{self.medium_user_id}------2"
        pieces = self.pieces("medium")
        items = []
        for p in pieces:
            content = (
                f"<h3>{e(p.title)}</h3><h4>{e(p.subtitle)}</h4>"
                + self.body(p).replace("\n", "")
                + f'<img src="https://medium.com/_/stat?event=post.clientViewed&amp;referrerSource=full_rss&amp;postId={p.medium_id}" width="1" height="1" alt="">'
            )
            categories = "".join(f"<category>{cdata(tag)}</category>" for tag in p.tags)
            items.append(
                f"<item><title>{cdata(p.title)}</title>"
                f"<link>{xml_escape(self.links.piece(p) + rss_source)}</link>"
                f'<guid isPermaLink="false">{xml_escape(origin)}/p/{p.medium_id}</guid>'
                f"{categories}<dc:creator>{cdata(name)}</dc:creator>"
                f"<pubDate>{rfc822(p.published_at)}</pubDate>"
                f"<atom:updated>{p.published_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.000Z}</atom:updated>"
                f"<content:encoded>{cdata(content)}</content:encoded></item>"
            )
        last = rfc822(pieces[0].published_at) if pieces else rfc822(datetime(2025, 1, 1, tzinfo=UTC))
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" '
            'version="2.0" xmlns:cc="http://cyber.law.harvard.edu/rss/creativeCommonsRssModule.html">'
            f"<channel><title>{cdata(f'Stories by {name} on Medium')}</title>"
            f"<description>{cdata(f'Stories by {name} on Medium')}</description>"
            f"<link>{xml_escape(f'{origin}/@{handle}{rss_source}')}</link>"
            f"<image><url>https://cdn-images-1.medium.com/fit/c/150/150/1*{stable_hex('avatar' + handle, 22)}.jpeg</url>"
            f"<title>Stories by {xml_escape(name)} on Medium</title><link>{xml_escape(f'{origin}/@{handle}{rss_source}')}</link></image>"
            f"<generator>Medium</generator><lastBuildDate>{last}</lastBuildDate>"
            f'<atom:link href="{xml_escape(origin)}/@{handle}/feed" rel="self" type="application/rss+xml"/>'
            "<webMaster><![CDATA[yourfriends@medium.com]]></webMaster>"
            '<atom:link href="http://medium.superfeedr.com" rel="hub"/>' + "".join(items) + "</channel></rss>"
        )

    # -- Substack ------------------------------------------------------------------------------

    def _substack_widget(self) -> str:
        origin = self.links.origin("substack")
        name = self.corpus.substack["name"]
        attrs = e(json.dumps({"url": f"{origin}/subscribe?", "text": "Subscribe", "language": "en"}))
        return (
            f'<div class="subscription-widget-wrap-editor" data-attrs="{attrs}" '
            'data-component-name="SubscribeWidgetToDOM"><div class="subscription-widget show-subscribe">'
            f'<div class="preamble"><p class="cta-caption">Thanks for reading {e(name)}! Subscribe for free to '
            "receive new posts and support my work.</p></div>"
            '<form class="subscription-widget-subscribe"><input type="email" class="email-input" name="email" '
            'placeholder="Type your email…" tabindex="-1"><input type="submit" class="button primary" '
            'value="Subscribe"><div class="fake-input-wrapper"><div class="fake-input"></div>'
            '<div class="fake-button"></div></div></form></div></div>'
        )

    def substack_body(self, piece: Piece) -> str:
        """The post body as Substack stores it: a subscribe widget after the third paragraph."""
        body = self.body(piece)
        parts = body.split("</p>\n", 3)
        if len(parts) == 4:
            body = "</p>\n".join(parts[:3]) + "</p>\n" + self._substack_widget() + "\n" + parts[3]
        return body

    def _substack_shell(self, title: str, head: str, main: str, preloads: object, path: str) -> str:
        origin = self.links.origin("substack")
        name = self.corpus.substack["name"]
        cdn = "https://substackcdn.com"
        logo = f"{cdn}/image/fetch/w_256,c_limit,f_auto,q_auto:good,fl_progressive:steep/https%3A%2F%2Fsubstack-post-media.s3.amazonaws.com%2Fpublic%2Fimages%2F{stable_hex('logo', 8)}-{stable_hex('logo2', 4)}-{stable_hex('logo3', 4)}_512x512.png"
        preload_json = json.dumps(json.dumps(preloads, ensure_ascii=False, separators=(",", ":"))).replace(
            "</", "<\\/"
        )
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=0, viewport-fit=cover">
<meta name="generator" content="Substack">
<meta name="theme-color" content="#ffffff">
<title>{e(title)}</title>
<link rel="preconnect" href="{cdn}">
<link rel="stylesheet" type="text/css" href="{cdn}/bundle/theme/main.7e3c0f1a9b5d42e6.css">
<link rel="stylesheet" type="text/css" href="{cdn}/bundle/static/css/reader-main.c4d1e07f.css">
<link rel="icon" type="image/png" sizes="32x32" href="{cdn}/image/fetch/f_auto,q_auto:good,fl_progressive:steep/https%3A%2F%2Fsubstack-post-media.s3.amazonaws.com%2Fpublic%2Fimages%2Ffavicon-32x32.png">
<link rel="apple-touch-icon" href="{logo}">
<meta property="og:site_name" content="{e(name)}">
<link rel="alternate" type="application/rss+xml" href="{e(origin)}/feed" title="{e(name)}">
{head}
</head>
<body class="pc-root">
<div id="entry"><div id="main" class="main typography use-theme-bg">
<div class="main-menu" data-testid="navbar"><div class="topbar-content">
<div class="navbar-logo-container"><a href="{e(origin)}/" native=""><img class="navbar-logo" src="{logo}" alt="{e(name)}" width="40" height="40"></a></div>
<h1 class="navbar-title"><a class="navbar-title-link" href="{e(origin)}/">{e(name)}</a></h1>
<div class="navbar-buttons"><button type="button" class="button search-button" aria-label="Search">Search</button>
<a class="button primary subscribe-btn" href="{e(origin)}/subscribe?utm_source=menu&amp;simple=true&amp;next={e(origin + path)}">Subscribe</a>
<a class="button sign-in-link" href="https://substack.com/sign-in?redirect={e(path)}&amp;for_pub=fieldnotes">Sign in</a></div>
</div></div>
<div class="container">
{main}
</div>
<div class="footer-wrap publication-footer"><div class="footer"><div class="container">
<div class="footer-copyright">© 2025 {e(self.author.full_name)}</div>
<div class="footer-links"><a href="{e(origin)}/privacy?utm_source=">Privacy</a> ∙ <a href="https://substack.com/tos">Terms</a> ∙ <a href="https://substack.com/ccpa#personal-data-collected">Collection notice</a></div>
<div class="footer-buttons"><a class="button footer-substack-cta" href="https://substack.com/signup?utm_source=substack&amp;utm_medium=web&amp;utm_content=footer">Start writing</a><a class="button get-app-button" href="https://substack.com/app/app-store-redirect?utm_campaign=app-marketing&amp;utm_content=web-footer-button">Get the app</a></div>
<div class="footer-slogan"><a href="https://substack.com">Substack</a> is the home for great culture</div>
</div></div></div>
</div></div>
<script>window._preloads = JSON.parse({preload_json})</script>
<script src="{cdn}/bundle/static/js/main.1b8e4c70.js" charset="utf-8" async></script>
<script src="{cdn}/bundle/static/js/runtime.5c2e9f1d.js" charset="utf-8" async></script>
<script>window._analyticsConfig = {{"properties":{{"subdomain":"fieldnotes","publication_id":{stable_number("pub", 1000000, 3999999)},"has_plans":false}}}}</script>
</body>
</html>
"""

    def substack_post(self, piece: Piece) -> str:
        origin = self.links.origin("substack")
        url = self.links.piece(piece)
        name = self.author.full_name
        pub = self.corpus.substack["name"]
        post_id = stable_number("post:" + piece.slug, 100000000, 159999999)
        likes = stable_number("likes:" + piece.slug, 18, 240)
        picks = [
            _SUBSTACK_COMMENTS[stable_number(f"c{n}:" + piece.slug, 0, len(_SUBSTACK_COMMENTS) - 1)]
            for n in range(2)
        ]
        if picks[0] == picks[1]:
            picks = picks[:1]
        reply = _AUTHOR_REPLIES[stable_number("reply:" + piece.slug, 0, len(_AUTHOR_REPLIES) - 1)]
        comments = "\n".join(
            f"""<div class="comment" id="comment-{stable_number(f"{who}{piece.slug}", 10000000, 99999999)}"><div class="comment-content">
<div class="comment-meta"><a class="commenter-name" href="https://substack.com/profile/{stable_number(who, 1000000, 9999999)}-{e(slugify(who))}">{e(who)}</a> <a class="comment-date" href="{e(url)}/comment/{stable_number(f"{who}{piece.slug}", 10000000, 99999999)}">{e(long_date(piece.published_at))}</a></div>
<div class="comment-body"><p>{e(text)}</p></div>
<div class="comment-actions"><button class="like-button">Like</button> <button class="reply-button">Reply</button> <button class="share-button">Share</button></div>
</div></div>"""
            for who, text in picks
        )
        comments += f"""
<div class="comment comment-reply" id="comment-{stable_number("reply" + piece.slug, 10000000, 99999999)}"><div class="comment-content">
<div class="comment-meta"><a class="commenter-name" href="https://substack.com/@{e(self.author.handles["medium"])}">{e(name)}</a> <span class="comment-author-badge">Author</span></div>
<div class="comment-body"><p>{e(reply)}</p></div></div></div>"""
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "url": url,
            "mainEntityOfPage": url,
            "headline": piece.title,
            "description": piece.subtitle,
            "datePublished": piece.published_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "isAccessibleForFree": True,
            "author": [
                {
                    "@type": "Person",
                    "name": name,
                    "url": f"https://substack.com/@{self.author.handles['medium']}",
                }
            ],
            "publisher": {"@type": "Organization", "name": pub, "url": origin},
        }
        head = f"""<meta name="description" content="{e(piece.subtitle)}">
<meta property="og:url" content="{e(url)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{e(piece.title)}">
<meta property="og:description" content="{e(piece.subtitle)}">
<meta property="og:image" content="https://substackcdn.com/image/fetch/w_1200,h_600,c_fill,f_jpg,q_auto:good,fl_progressive:steep,g_auto/https%3A%2F%2Fsubstack-post-media.s3.amazonaws.com%2Fpublic%2Fimages%2F{stable_hex("og" + piece.slug, 8)}_1456x816.png">
<meta property="article:published_time" content="{piece.published_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S+00:00}">
<meta name="author" content="{e(name)}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{e(piece.title)}">
<link rel="canonical" href="{e(url)}">
<script type="application/ld+json">{json_for_script(ld)}</script>"""
        main = f"""<div class="single-post-container"><div class="container"><div class="single-post">
<article class="typography newsletter-post post">
<div class="post-header" role="region" aria-label="Post header">
<h1 class="post-title published" dir="auto">{e(piece.title)}</h1>
<h3 class="subtitle" dir="auto">{e(piece.subtitle)}</h3>
<div class="post-meta"><div class="byline-wrapper"><div class="profile-hover-card-target"><a href="https://substack.com/@{e(self.author.handles["medium"])}" class="pencraft">{e(name)}</a></div>
<div class="post-date" title="{e(piece.published_at.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"))}">{e(long_date(piece.published_at))}</div></div></div>
<div class="post-ufi"><a class="post-ufi-button like-button" role="button" aria-label="Like ({likes})"><span class="label">{likes}</span></a>
<a class="post-ufi-button post-ufi-comment-button" href="{e(url)}/comments" aria-label="View comments ({len(picks) + 1})"><span class="label">{len(picks) + 1}</span></a>
<a class="post-ufi-button restack-button" role="button" aria-label="Restack">Restack</a>
<a class="post-ufi-button share-button" role="button" aria-label="Share">Share</a></div>
</div>
<div class="available-content"><div class="body markup" dir="auto">
{self.substack_body(piece)}
</div></div>
<div class="visibility-check"></div>
<div class="subscription-widget-wrap"><div class="subscription-widget show-subscribe"><div class="preamble"><p class="cta-caption">Thanks for reading {e(pub)}! Subscribe for free to receive new posts and support my work.</p></div>
<form class="subscription-widget-subscribe" action="{e(origin)}/api/v1/free?nojs=true" method="post"><input type="email" class="email-input" name="email" placeholder="Type your email…"><input type="submit" class="button primary" value="Subscribe"></form></div></div>
<div class="post-footer use-separators"><a class="post-ufi-button like-button" role="button">{likes} Likes</a> <a class="post-ufi-button share-button" role="button">Share</a></div>
</article>
<div id="discussion" class="comments-section"><h4 class="comments-heading">Discussion about this post</h4>
<div class="comments-page"><div class="comment-input"><textarea placeholder="Write a comment..."></textarea></div>
{comments}
</div></div>
<div class="post-footer-recommendations"><h4>Ready for more?</h4><form class="subscription-widget-subscribe"><input type="email" class="email-input" name="email" placeholder="Type your email…"><input type="submit" class="button primary" value="Subscribe"></form></div>
</div></div></div>"""
        preloads = {
            "isEU": False,
            "language": "en",
            "base_url": origin,
            "pub": {"id": stable_number("pub", 1000000, 3999999), "name": pub, "subdomain": "fieldnotes"},
            "post": {
                "id": post_id,
                "slug": piece.slug,
                "title": piece.title,
                "audience": "everyone",
                "canonical_url": url,
            },
        }
        return self._substack_shell(
            f"{piece.title} - by {name} - {pub}", head, main, preloads, self.corpus.path_of(piece)
        )

    def _substack_list(self, pieces: list[Piece]) -> str:
        rows = []
        for p in pieces:
            url = self.links.piece(p)
            rows.append(
                f"""<div class="post-preview portable-archive-post" data-testid="post-preview">
<a class="post-preview-title newsletter" href="{e(url)}" data-testid="post-preview-title">{e(p.title)}</a>
<div class="post-preview-description"><a href="{e(url)}">{e(p.subtitle)}</a></div>
<div class="post-preview-meta"><time datetime="{p.published_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.000Z}">{e(long_date(p.published_at))}</time> • <span class="post-preview-byline">{e(self.author.full_name)}</span></div>
<div class="post-ufi"><a class="like-button">{stable_number("likes:" + p.slug, 18, 240)}</a> <a class="share-button">Share</a></div>
</div>"""
            )
        return "\n".join(rows)

    def substack_home(self) -> str:
        origin = self.links.origin("substack")
        pub, tagline = self.corpus.substack["name"], self.corpus.substack["tagline"]
        head = f"""<meta name="description" content="{e(tagline)}">
<meta property="og:type" content="website">
<meta property="og:title" content="{e(pub)} | {e(self.author.full_name)} | Substack">
<meta property="og:description" content="{e(tagline)}">
<meta property="og:url" content="{e(origin)}">
<link rel="canonical" href="{e(origin)}">"""
        main = f"""<div class="homepage"><div class="publication-hero">
<h1 class="publication-name">{e(pub)}</h1><p class="publication-tagline">{e(tagline)}</p>
<p class="publication-meta">By {e(self.author.full_name)} · Over {e(self.corpus.substack["subscribers"])} subscribers</p>
<form class="subscription-widget-subscribe"><input type="email" class="email-input" name="email" placeholder="Type your email…"><input type="submit" class="button primary" value="Subscribe"></form>
<a class="no-thanks" href="{e(origin)}/archive">No thanks</a></div>
<div class="homepage-posts"><h2 class="homepage-section-title">Latest</h2>
{self._substack_list(self.pieces("substack"))}
<a class="see-all" href="{e(origin)}/archive?sort=new">See all</a></div></div>"""
        preloads = {
            "isEU": False,
            "language": "en",
            "base_url": origin,
            "pub": {"name": pub, "subdomain": "fieldnotes"},
        }
        return self._substack_shell(f"{pub} | {self.author.full_name} | Substack", head, main, preloads, "/")

    def substack_archive(self) -> str:
        origin = self.links.origin("substack")
        pub = self.corpus.substack["name"]
        head = f"""<meta property="og:type" content="website">
<meta property="og:title" content="{e(pub)} | Archive">
<link rel="canonical" href="{e(origin)}/archive">"""
        main = f"""<div class="archive-page"><h1 class="archive-title">Archive</h1>
<div class="archive-sort"><a href="{e(origin)}/archive?sort=new" class="active">Latest</a> <a href="{e(origin)}/archive?sort=top">Top</a> <a href="{e(origin)}/archive?sort=discussions">Discussions</a></div>
<div class="portable-archive-list">
{self._substack_list(self.pieces("substack"))}
</div></div>"""
        preloads = {"isEU": False, "language": "en", "base_url": origin}
        return self._substack_shell(f"Archive - {pub}", head, main, preloads, "/archive")

    def substack_api_archive(self, offset: int, limit: int) -> str:
        pieces = self.pieces("substack")[offset : offset + limit]
        return json.dumps(
            [
                {
                    "id": stable_number("post:" + p.slug, 100000000, 159999999),
                    "publication_id": stable_number("pub", 1000000, 3999999),
                    "title": p.title,
                    "subtitle": p.subtitle,
                    "slug": p.slug,
                    "post_date": p.published_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "audience": "everyone",
                    "type": "newsletter",
                    "canonical_url": self.links.piece(p),
                    "description": p.subtitle,
                    "wordcount": p.words,
                    "reaction_count": stable_number("likes:" + p.slug, 18, 240),
                }
                for p in pieces
            ],
            ensure_ascii=False,
        )

    def substack_feed(self) -> str:
        origin = self.links.origin("substack")
        pub, tagline, name = (
            self.corpus.substack["name"],
            self.corpus.substack["tagline"],
            self.author.full_name,
        )
        pieces = self.pieces("substack")
        items = "".join(
            f"<item><title>{cdata(p.title)}</title><description>{cdata(p.subtitle)}</description>"
            f"<link>{xml_escape(self.links.piece(p))}</link>"
            f'<guid isPermaLink="false">{xml_escape(self.links.piece(p))}</guid>'
            f"<dc:creator>{cdata(name)}</dc:creator><pubDate>{rfc822(p.published_at)}</pubDate>"
            f'<enclosure url="https://substackcdn.com/image/fetch/w_1200,h_600,c_fill,f_jpg,q_auto:good,fl_progressive:steep,g_auto/https%3A%2F%2Fsubstack-post-media.s3.amazonaws.com%2Fpublic%2Fimages%2F{stable_hex("og" + p.slug, 8)}_1456x816.png" length="0" type="image/jpeg"/>'
            f"<content:encoded>{cdata(self.substack_body(p))}</content:encoded></item>"
            for p in pieces
        )
        last = rfc822(pieces[0].published_at) if pieces else rfc822(datetime(2025, 1, 1, tzinfo=UTC))
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" '
            'version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
            'xmlns:googleplay="http://www.google.com/schemas/play-podcasts/1.0">'
            f"<channel><title>{cdata(pub)}</title><description>{cdata(tagline)}</description>"
            f"<link>{xml_escape(origin)}</link>"
            f"<image><url>https://substackcdn.com/image/fetch/w_256,c_limit,f_auto,q_auto:good,fl_progressive:steep/https%3A%2F%2Fsubstack-post-media.s3.amazonaws.com%2Fpublic%2Fimages%2F{stable_hex('logo', 8)}_512x512.png</url>"
            f"<title>{xml_escape(pub)}</title><link>{xml_escape(origin)}</link></image>"
            f"<generator>Substack</generator><lastBuildDate>{last}</lastBuildDate>"
            f'<atom:link href="{xml_escape(origin)}/feed" rel="self" type="application/rss+xml"/>'
            f"<author>{cdata(name)}</author><copyright>{cdata(name)}</copyright><language>{cdata('en')}</language>"
            f"<webMaster>{cdata('fieldnotes@substack.com')}</webMaster>"
            f"<itunes:owner><itunes:email>{cdata('fieldnotes@substack.com')}</itunes:email>"
            f"<itunes:name>{cdata(name)}</itunes:name></itunes:owner><itunes:author>{cdata(name)}</itunes:author>"
            f"<googleplay:owner>{cdata('fieldnotes@substack.com')}</googleplay:owner>"
            f"<googleplay:email>{cdata('fieldnotes@substack.com')}</googleplay:email>"
            f"<googleplay:author>{cdata(name)}</googleplay:author>" + items + "</channel></rss>"
        )

    # -- personal blog (Hugo + PaperMod) ------------------------------------------------------

    def _blog_shell(self, title: str, head: str, main: str, canonical: str) -> str:
        origin = self.links.origin("blog")
        site = self.corpus.blog["title"]
        return f"""<!DOCTYPE html>
<html lang="en-gb" dir="auto">
<head><meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no">
<meta name="robots" content="index, follow">
<title>{e(title)}</title>
<meta name="author" content="{e(self.author.full_name)}">
<link rel="canonical" href="{e(canonical)}">
<link crossorigin="anonymous" href="/assets/css/stylesheet.b609c58d5c11bb90b1a54e04005d74ad1ddf22165eb79f5533967e57df9c3b50.css" integrity="sha256-tgnFjVwRu5CxpU4EAF10rR3fIhZet59VM5Z+V9+cO1A=" rel="preload stylesheet" as="style">
<link rel="icon" href="{e(origin)}/favicon.ico">
<meta name="theme-color" content="#2e2e33">
<meta name="generator" content="Hugo {e(self.corpus.blog["hugo_version"])}">
<link rel="alternate" type="application/rss+xml" href="/index.xml" title="{e(site)}">
{head}
</head>
<body id="top">
<script>
    if (localStorage.getItem("pref-theme") === "dark") {{
        document.body.classList.add('dark');
    }}
</script>
<header class="header">
    <nav class="nav">
        <div class="logo">
            <a href="{e(origin)}/" accesskey="h" title="{e(site)} (Alt + H)">{e(site)}</a>
            <div class="logo-switches"><button id="theme-toggle" accesskey="t" title="(Alt + T)">Toggle theme</button></div>
        </div>
        <ul id="menu">
            <li><a href="{e(origin)}/posts/" title="Posts"><span>Posts</span></a></li>
            <li><a href="{e(origin)}/tags/" title="Tags"><span>Tags</span></a></li>
            <li><a href="{e(origin)}/about/" title="About"><span>About</span></a></li>
            <li><a href="{e(origin)}/index.xml" title="RSS"><span>RSS</span></a></li>
        </ul>
    </nav>
</header>
<main class="main">
{main}
</main>
<footer class="footer">
    <span>&copy; 2025 <a href="{e(origin)}/">{e(site)}</a></span> ·
    <span>Powered by <a href="https://gohugo.io/" rel="noopener noreferrer" target="_blank">Hugo</a> &amp;
        <a href="https://github.com/adityatelange/hugo-PaperMod/" rel="noopener" target="_blank">PaperMod</a></span>
</footer>
<a href="#top" aria-label="go to top" title="Go to Top (Alt + G)" class="top-link" id="top-link" accesskey="g">↑</a>
<script>
    let menu = document.getElementById('menu')
    if (menu) {{
        menu.scrollLeft = localStorage.getItem("menu-scroll-position");
        menu.onscroll = function () {{
            localStorage.setItem("menu-scroll-position", menu.scrollLeft);
        }}
    }}
</script>
</body>
</html>
"""

    def _blog_meta(self, p: Piece) -> str:
        minutes = reading_minutes(p, 213)
        return (
            f'<time datetime="{p.published_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S+00:00}">'
            f"{p.published_at:%B} {p.published_at.day}, {p.published_at.year}</time>"
            f"&nbsp;·&nbsp;{minutes} min&nbsp;·&nbsp;{p.words} words&nbsp;·&nbsp;{e(self.author.full_name)}"
        )

    def blog_post(self, piece: Piece) -> str:
        origin = self.links.origin("blog")
        url = self.links.piece(piece)
        body = self.body(piece, heading_ids=True)
        toc = "".join(
            f'<li><a href="#{anchor}" aria-label="{e(re.sub("<[^>]+>", "", text))}">{text}</a></li>'
            for anchor, text in re.findall(r'<h2 id="([^"]+)">(.*?)</h2>', body)
        )
        ordered = sorted(self.pieces("blog"), key=lambda p: p.published_at)
        position = next(i for i, p in enumerate(ordered) if p.slug == piece.slug)
        nav = ""
        if position + 1 < len(ordered):
            newer = ordered[position + 1]
            nav += f'<a class="prev" href="{e(self.links.piece(newer))}"><span class="title">« Prev</span><br><span>{e(newer.title)}</span></a>'
        if position > 0:
            older = ordered[position - 1]
            nav += f'<a class="next" href="{e(self.links.piece(older))}"><span class="title">Next »</span><br><span>{e(older.title)}</span></a>'
        related = sorted(
            (p for p in self.pieces("blog") if p.slug != piece.slug),
            key=lambda p: (-len(set(p.tags) & set(piece.tags)), -p.published_at.timestamp()),
        )[:3]
        related_html = "".join(
            f'<li><a href="{e(self.links.piece(p))}">{e(p.title)}</a></li>' for p in related
        )
        tags = "".join(f'<li><a href="{e(origin)}/tags/{e(t)}/">{e(t)}</a></li>' for t in piece.tags)
        iso = f"{piece.published_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S+00:00}"
        ld = {
            "@context": "https://schema.org",
            "@type": "BlogPosting",
            "headline": piece.title,
            "name": piece.title,
            "description": piece.subtitle,
            "keywords": list(piece.tags),
            "wordCount": str(piece.words),
            "datePublished": iso,
            "dateModified": iso,
            "author": {"@type": "Person", "name": self.author.full_name},
            "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "publisher": {
                "@type": "Organization",
                "name": self.corpus.blog["title"],
                "logo": {"@type": "ImageObject", "url": f"{origin}/favicon.ico"},
            },
        }
        head = f"""<meta name="keywords" content="{e(", ".join(piece.tags))}">
<meta name="description" content="{e(piece.subtitle)}">
<meta property="og:title" content="{e(piece.title)}">
<meta property="og:description" content="{e(piece.subtitle)}">
<meta property="og:type" content="article">
<meta property="og:url" content="{e(url)}">
<meta property="article:section" content="posts">
<meta property="article:published_time" content="{iso}">
<meta property="article:modified_time" content="{iso}">
<meta name="twitter:card" content="summary">
<meta name="twitter:title" content="{e(piece.title)}">
<meta name="twitter:description" content="{e(piece.subtitle)}">
<script type="application/ld+json">{json_for_script(ld)}</script>"""
        share = (
            f'<div class="share-buttons"><a target="_blank" rel="noopener noreferrer" aria-label="share on x" '
            f'href="https://x.com/intent/tweet/?text={e(piece.title)}&amp;url={e(url)}">Share on X</a> '
            f'<a target="_blank" rel="noopener noreferrer" aria-label="share on linkedin" '
            f'href="https://www.linkedin.com/shareArticle?mini=true&amp;url={e(url)}&amp;title={e(piece.title)}">Share on LinkedIn</a></div>'
        )
        main = f"""<article class="post-single">
  <header class="post-header">
    <div class="breadcrumbs"><a href="{e(origin)}/">Home</a>&nbsp;»&nbsp;<a href="{e(origin)}/posts/">Posts</a></div>
    <h1 class="post-title entry-hint-parent">{e(piece.title)}</h1>
    <div class="post-description">{e(piece.subtitle)}</div>
    <div class="post-meta">{self._blog_meta(piece)}</div>
  </header>
  <div class="toc"><details><summary accesskey="c" title="(Alt + C)"><span class="details">Table of Contents</span></summary>
    <div class="inner"><ul>{toc}</ul></div></details></div>
  <div class="post-content">{body}</div>
  <footer class="post-footer">
    <ul class="post-tags">{tags}</ul>
    <nav class="paginav">{nav}</nav>
    <div class="related-posts"><h3>Related posts</h3><ul>{related_html}</ul></div>
    {share}
  </footer>
</article>"""
        return self._blog_shell(f"{piece.title} | {self.corpus.blog['title']}", head, main, url)

    def _blog_entries(self, pieces: list[Piece]) -> str:
        entries = []
        for p in pieces:
            summary = re.sub(r"<[^>]+>", "", self.body(p).split("\n", 1)[0])
            if len(summary) > 280:
                summary = summary[:280].rsplit(" ", 1)[0] + " …"
            entries.append(
                f"""<article class="post-entry">
  <header class="entry-header"><h2 class="entry-hint-parent">{e(p.title)}</h2></header>
  <div class="entry-content"><p>{e(summary)}</p></div>
  <footer class="entry-footer"><span title="{p.published_at.astimezone(UTC):%Y-%m-%d %H:%M:%S +0000 UTC}">{p.published_at:%B} {p.published_at.day}, {p.published_at.year}</span>&nbsp;·&nbsp;{reading_minutes(p, 213)} min&nbsp;·&nbsp;{e(self.author.full_name)}</footer>
  <a class="entry-link" aria-label="post link to {e(p.title)}" href="{e(self.links.piece(p))}"></a>
</article>"""
            )
        return "\n".join(entries)

    def blog_home(self) -> str:
        origin = self.links.origin("blog")
        blog = self.corpus.blog
        head = f"""<meta name="description" content="{e(blog["description"])}">
<meta property="og:title" content="{e(blog["title"])}">
<meta property="og:description" content="{e(blog["description"])}">
<meta property="og:type" content="website">
<meta property="og:url" content="{e(origin)}/">"""
        main = f"""<article class="first-entry home-info">
  <header class="entry-header"><h1>Hello, I'm {e(self.author.first_name)}.</h1></header>
  <div class="entry-content"><p>{e(blog["description"])} Elsewhere: <a href="{e(self.links.origin("medium"))}/@{e(self.author.handles["medium"])}">Medium</a>, <a href="{e(self.links.origin("substack"))}/">Field Notes</a>, <a href="{e(self.links.repository())}">kerf on GitHub</a>.</p></div>
</article>
{self._blog_entries(self.pieces("blog"))}"""
        return self._blog_shell(blog["title"], head, main, origin + "/")

    def blog_posts(self) -> str:
        origin = self.links.origin("blog")
        main = f"""<header class="page-header"><div class="breadcrumbs"><a href="{e(origin)}/">Home</a></div><h1>Posts</h1></header>
{self._blog_entries(self.pieces("blog"))}"""
        return self._blog_shell(
            f"Posts | {self.corpus.blog['title']}",
            '<meta property="og:type" content="website">',
            main,
            origin + "/posts/",
        )

    def blog_tags(self, tag: str | None) -> str | None:
        origin = self.links.origin("blog")
        pieces = self.pieces("blog")
        if tag is None:
            names = sorted({t for p in pieces for t in p.tags})
            items = "".join(
                f'<li><a href="{e(origin)}/tags/{e(t)}/">{e(t)} <sup>{sum(t in p.tags for p in pieces)}</sup></a></li>'
                for t in names
            )
            main = f'<header class="page-header"><h1>Tags</h1></header><ul class="terms-tags">{items}</ul>'
            return self._blog_shell(f"Tags | {self.corpus.blog['title']}", "", main, origin + "/tags/")
        tagged = [p for p in pieces if tag in p.tags]
        if not tagged:
            return None
        main = f"""<header class="page-header"><div class="breadcrumbs"><a href="{e(origin)}/">Home</a>&nbsp;»&nbsp;<a href="{e(origin)}/tags/">Tags</a></div><h1>{e(tag)}</h1></header>
{self._blog_entries(tagged)}"""
        return self._blog_shell(f"{tag} | {self.corpus.blog['title']}", "", main, f"{origin}/tags/{tag}/")

    def blog_about(self) -> str:
        origin = self.links.origin("blog")
        main = f"""<article class="post-single"><header class="post-header"><h1 class="post-title">About</h1></header>
<div class="post-content"><p>{e(self.corpus.blog["about"])}</p></div></article>"""
        return self._blog_shell(f"About | {self.corpus.blog['title']}", "", main, origin + "/about/")

    def blog_feed(self) -> str:
        origin = self.links.origin("blog")
        blog = self.corpus.blog
        pieces = self.pieces("blog")
        items = "\n".join(
            f"""    <item>
      <title>{xml_escape(p.title)}</title>
      <link>{xml_escape(self.links.piece(p))}</link>
      <pubDate>{p.published_at.astimezone(UTC):%a, %d %b %Y %H:%M:%S +0000}</pubDate>
      <guid>{xml_escape(self.links.piece(p))}</guid>
      <description>{xml_escape(self.body(p))}</description>
    </item>"""
            for p in pieces
        )
        last = pieces[0].published_at.astimezone(UTC) if pieces else datetime(2025, 1, 1, tzinfo=UTC)
        return f"""<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{xml_escape(blog["title"])}</title>
    <link>{xml_escape(origin)}/</link>
    <description>Recent content on {xml_escape(blog["title"])}</description>
    <generator>Hugo -- {xml_escape(blog["hugo_version"])}</generator>
    <language>en-gb</language>
    <lastBuildDate>{last:%a, %d %b %Y %H:%M:%S +0000}</lastBuildDate>
    <atom:link href="{xml_escape(origin)}/index.xml" rel="self" type="application/rss+xml" />
{items}
  </channel>
</rss>
"""

    def sitemap(self, urls: list[tuple[str, datetime | None]]) -> str:
        rows = "".join(
            f"<url><loc>{xml_escape(url)}</loc>"
            + (f"<lastmod>{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S+00:00}</lastmod>" if moment else "")
            + "</url>"
            for url, moment in urls
        )
        return (
            '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + rows + "</urlset>"
        )

    # -- GitHub --------------------------------------------------------------------------------

    def _github_shell(self, title: str, head: str, main: str) -> str:
        origin = self.links.origin("github")
        return f"""<!DOCTYPE html>
<html lang="en" data-color-mode="auto" data-light-theme="light" data-dark-theme="dark" data-a11y-animated-images="system">
<head>
<meta charset="utf-8">
<link rel="dns-prefetch" href="https://github.githubassets.com">
<link rel="dns-prefetch" href="https://avatars.githubusercontent.com">
<link rel="preconnect" href="https://github.githubassets.com" crossorigin>
<link crossorigin="anonymous" media="all" rel="stylesheet" href="https://github.githubassets.com/assets/light-0eace2597ca3.css">
<link crossorigin="anonymous" media="all" rel="stylesheet" href="https://github.githubassets.com/assets/primer-primitives-225433424a87.css">
<link crossorigin="anonymous" media="all" rel="stylesheet" href="https://github.githubassets.com/assets/github-4a2a3e1c1b3d.css">
<script crossorigin="anonymous" defer="defer" type="application/javascript" src="https://github.githubassets.com/assets/wp-runtime-3f2b6f1e9a8c.js"></script>
<title>{e(title)}</title>
<meta name="route-pattern" content="/:user_id/:repository" data-turbo-transient>
<meta name="request-id" content="{stable_hex(title, 4).upper()}:{stable_hex(title + "r", 6).upper()}" data-turbo-transient="true">
<meta property="og:site_name" content="GitHub">
<meta name="twitter:site" content="@github">
<link rel="fluid-icon" href="{e(origin)}/fluidicon.png" title="GitHub">
<meta name="hostname" content="github.com">
{head}
</head>
<body class="logged-out env-production page-responsive" style="word-wrap: break-word;">
<div data-turbo-body class="logged-out env-production page-responsive">
<div class="position-relative header-wrapper js-header-wrapper">
<a href="#start-of-content" class="px-2 py-4 color-bg-accent-emphasis color-fg-on-emphasis show-on-focus js-skip-to-content">Skip to content</a>
<header class="HeaderMktg header-logged-out js-details-container js-header Details f4 py-3" role="banner">
<a class="mr-lg-3 color-fg-inherit flex-order-2" href="{e(origin)}/" aria-label="Homepage"><svg height="32" aria-hidden="true" viewBox="0 0 24 24" version="1.1" width="32" class="octicon octicon-mark-github"><path d="M12 1C5.923 1 1 5.923 1 12c0 4.867 3.149 8.979 7.521 10.436"></path></svg></a>
<nav aria-label="Global"><ul class="d-lg-flex list-style-none"><li><button type="button" class="HeaderMenu-link">Product</button></li><li><button type="button" class="HeaderMenu-link">Solutions</button></li><li><button type="button" class="HeaderMenu-link">Resources</button></li><li><button type="button" class="HeaderMenu-link">Open Source</button></li><li><a class="HeaderMenu-link" href="{e(origin)}/pricing">Pricing</a></li></ul></nav>
<div class="search-input"><button class="header-search-button" type="button">Search or jump to...</button></div>
<a href="{e(origin)}/login?return_to=https%3A%2F%2Fgithub.com%2F{e(self.corpus.repository.owner)}%2F{e(self.corpus.repository.name)}" class="HeaderMenu-link HeaderMenu-link--sign-in">Sign in</a>
<a href="{e(origin)}/signup?ref_cta=Sign+up&amp;ref_loc=header+logged+out&amp;ref_page=%2F%3Cuser-name%3E%2F%3Crepo-name%3E&amp;source=header-repo" class="HeaderMenu-link HeaderMenu-link--sign-up">Sign up</a>
</header>
</div>
<div id="start-of-content" class="show-on-focus"></div>
<div class="application-main" data-commit-hovercards-enabled data-discussion-hovercards-enabled data-issue-and-pr-hovercards-enabled>
{main}
</div>
<footer class="footer pt-8 pb-6 f6 color-fg-muted p-responsive" role="contentinfo">
<h2 class="sr-only">Footer</h2>
<div class="d-flex flex-items-center"><span>© 2025 GitHub,&nbsp;Inc.</span></div>
<nav aria-label="Footer"><ul class="list-style-none d-flex flex-justify-center flex-wrap mb-2 mb-lg-0">
<li class="mx-2"><a href="https://docs.github.com/site-policy/github-terms/github-terms-of-service" class="Link--secondary">Terms</a></li>
<li class="mx-2"><a href="https://docs.github.com/site-policy/privacy-policies/github-privacy-statement" class="Link--secondary">Privacy</a></li>
<li class="mx-2"><a href="{e(origin)}/security" class="Link--secondary">Security</a></li>
<li class="mx-2"><a href="https://www.githubstatus.com/" class="Link--secondary">Status</a></li>
<li class="mx-2"><a href="https://docs.github.com/" class="Link--secondary">Docs</a></li>
<li class="mx-2"><a href="https://support.github.com?tags=dotcom-footer" class="Link--secondary">Contact</a></li>
<li class="mx-2"><button type="button" class="Link--secondary underline-on-hover">Manage cookies</button></li>
<li class="mx-2"><button type="button" class="Link--secondary underline-on-hover">Do not share my personal information</button></li>
</ul></nav>
</footer>
</div>
</body>
</html>
"""

    def _repo_header(self, repo: Repository, tab: str = "code") -> str:
        origin = self.links.origin("github")
        base = f"{origin}/{repo.full_name}"
        return f"""<div id="repository-container-header" class="pt-3 hide-full-screen" data-turbo-replace>
<div class="d-flex flex-nowrap flex-justify-end mb-3 px-3 px-lg-5">
<div class="flex-auto min-width-0 width-fit"><div class="d-flex flex-wrap flex-items-center wb-break-word f3 text-normal">
<span class="author flex-self-stretch" itemprop="author"><a class="url fn" rel="author" href="{e(origin)}/{e(repo.owner)}">{e(repo.owner)}</a></span>
<span class="mx-1 flex-self-stretch color-fg-muted">/</span>
<strong itemprop="name" class="mr-2 flex-self-stretch"><a href="{e(base)}">{e(repo.name)}</a></strong>
<span class="Label Label--secondary v-align-middle mr-1">Public</span></div></div>
<ul class="pagehead-actions flex-shrink-0 d-none d-md-inline" style="padding: 2px 0;">
<li><a href="{e(origin)}/login?return_to=%2F{e(repo.owner)}%2F{e(repo.name)}" class="btn-sm btn" aria-label="You must be signed in to change notification settings">Notifications</a></li>
<li><a href="{e(origin)}/login?return_to=%2F{e(repo.owner)}%2F{e(repo.name)}" class="btn-sm btn">Fork <span id="repo-network-counter" class="Counter">{repo.forks}</span></a></li>
<li><a href="{e(origin)}/login?return_to=%2F{e(repo.owner)}%2F{e(repo.name)}" class="btn-sm btn">Star <span id="repo-stars-counter-star" class="Counter js-social-count">{repo.stars}</span></a></li>
</ul></div>
<nav data-pjax="#js-repo-pjax-container" aria-label="Repository" class="js-repo-nav js-sidenav-container-pjax js-responsive-underlinenav overflow-hidden UnderlineNav px-3 px-md-4 px-lg-5">
<ul class="UnderlineNav-body list-style-none">
<li class="d-inline-flex"><a class="UnderlineNav-item{" selected" if tab == "code" else ""}" href="{e(base)}" data-tab-item="i0code-tab">Code</a></li>
<li class="d-inline-flex"><a class="UnderlineNav-item" href="{e(base)}/issues" data-tab-item="i1issues-tab">Issues <span class="Counter">3</span></a></li>
<li class="d-inline-flex"><a class="UnderlineNav-item" href="{e(base)}/pulls" data-tab-item="i2pull-requests-tab">Pull requests <span class="Counter">1</span></a></li>
<li class="d-inline-flex"><a class="UnderlineNav-item" href="{e(base)}/actions" data-tab-item="i3actions-tab">Actions</a></li>
<li class="d-inline-flex"><a class="UnderlineNav-item" href="{e(base)}/security" data-tab-item="i4security-tab">Security</a></li>
<li class="d-inline-flex"><a class="UnderlineNav-item" href="{e(base)}/pulse" data-tab-item="i5insights-tab">Insights</a></li>
</ul></nav></div>"""

    def _entries(self, repo: Repository, folder: str) -> list[tuple[str, bool]]:
        """(name, is_dir) of the entries directly inside ``folder`` ("" for the root), dirs first."""
        prefix = f"{folder}/" if folder else ""
        names: dict[str, bool] = {}
        for path in repo.files:
            if not path.startswith(prefix):
                continue
            head, sep, _ = path[len(prefix) :].partition("/")
            names[head] = names.get(head, False) or bool(sep)
        return sorted(names.items(), key=lambda item: (not item[1], item[0].lower()))

    def _file_table(self, repo: Repository, folder: str) -> str:
        origin = self.links.origin("github")
        base = f"{origin}/{repo.full_name}"
        rows = []
        for name, is_dir in self._entries(repo, folder):
            path = f"{folder}/{name}" if folder else name
            kind = "tree" if is_dir else "blob"
            icon = "octicon-file-directory-fill" if is_dir else "octicon-file"
            rows.append(
                f"""<tr class="react-directory-row" id="folder-row-{len(rows)}"><td class="react-directory-row-name-cell-large-screen" colspan="1">
<div class="react-directory-filename-column"><svg aria-hidden="true" height="16" viewBox="0 0 16 16" width="16" class="octicon {icon}"><path d="M0 1.75C0 .784.784 0 1.75 0h3.5"></path></svg>
<div class="overflow-hidden"><h3><div class="react-directory-truncate"><a title="{e(name)}" aria-label="{e(name)}, ({"Directory" if is_dir else "File"})" class="Link--primary" href="{e(base)}/{kind}/{e(repo.default_branch)}/{e(path)}">{e(name)}</a></div></h3></div></div></td>
<td class="react-directory-row-commit-cell"><div class="react-directory-commit-message"><a class="Link--secondary" href="{e(base)}/commit/{repo.sha}">{e(repo.commit_message if name in {"CHANGELOG.md", "kerf"} else "Tidy up")}</a></div></td>
<td><div class="react-directory-commit-age"><relative-time class="no-wrap" datetime="{repo.committed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}">{e(long_date(repo.committed_at))}</relative-time></div></td></tr>"""
            )
        return "\n".join(rows)

    def github_repo(self) -> str:
        repo = self.corpus.repository
        origin = self.links.origin("github")
        url = self.links.repository()
        readme = to_html(repo.files.get("README.md", b"").decode("utf-8"))
        title = f"GitHub - {repo.full_name}: {repo.description}"
        head = f"""<meta name="description" content="{e(repo.description)} - {e(repo.full_name)}">
<meta property="og:image" content="https://opengraph.githubassets.com/{stable_hex(repo.sha, 64)}/{e(repo.full_name)}">
<meta property="og:image:alt" content="{e(repo.description)} - {e(repo.full_name)}">
<meta property="og:type" content="object">
<meta property="og:title" content="GitHub - {e(repo.full_name)}: {e(repo.description)}">
<meta property="og:url" content="{e(url)}">
<meta property="og:description" content="{e(repo.description)} - {e(repo.full_name)}">
<meta name="octolytics-dimension-user_login" content="{e(repo.owner)}">
<meta name="octolytics-dimension-repository_nwo" content="{e(repo.full_name)}">
<meta name="octolytics-dimension-repository_public" content="true">
<meta name="go-import" content="github.com/{e(repo.full_name)} git https://github.com/{e(repo.full_name)}.git">
<link rel="canonical" href="{e(url)}" data-turbo-transient>
<link rel="alternate" type="application/atom+xml" title="Recent Commits to {e(repo.name)}:{e(repo.default_branch)}" href="{e(url)}/commits/{e(repo.default_branch)}.atom">"""
        topics = "".join(
            f'<a href="{e(origin)}/topics/{e(t)}" title="Topic: {e(t)}" data-view-component="true" class="topic-tag topic-tag-link">{e(t)}</a>'
            for t in repo.topics
        )
        main = f"""<main id="js-repo-pjax-container">
{self._repo_header(repo)}
<turbo-frame id="repo-content-turbo-frame" target="_top" data-turbo-action="advance" class="">
<div id="repo-content-pjax-container" class="repository-content">
<h1 class="sr-only">{e(repo.full_name)}</h1>
<div class="Layout Layout--flowRow-until-md Layout--sidebarPosition-end Layout--sidebarPosition-flowRow-end">
<div class="Layout-main">
<div class="file-navigation d-flex"><button type="button" class="btn" aria-label="{e(repo.default_branch)} branch">{e(repo.default_branch)}</button>
<a class="Link--secondary" href="{e(url)}/branches">1 Branch</a> <a class="Link--secondary" href="{e(url)}/tags">4 Tags</a>
<a href="{e(url)}/find/{e(repo.default_branch)}" class="btn">Go to file</a>
<details class="get-repo-select-menu"><summary class="btn btn-primary">Code</summary>
<div class="get-repo-modal"><input type="text" class="form-control input-monospace" value="https://github.com/{e(repo.full_name)}.git" aria-label="https://github.com/{e(repo.full_name)}.git" readonly>
<a class="d-flex flex-items-center color-fg-default text-bold no-underline" rel="nofollow" href="{e(url)}/archive/refs/heads/{e(repo.default_branch)}.zip">Download ZIP</a></div></details></div>
<div class="Box mb-3"><div class="Box-header position-relative"><div class="d-flex flex-items-center">
<a href="{e(origin)}/{e(repo.owner)}" class="author">{e(repo.owner)}</a>
<span class="commit-message"><a class="Link--secondary" href="{e(url)}/commit/{repo.sha}">{e(repo.commit_message)}</a></span>
<a class="Link--secondary" href="{e(url)}/commit/{repo.sha}"><span class="sha">{repo.sha[:7]}</span></a> · <relative-time datetime="{repo.committed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}">{e(long_date(repo.committed_at))}</relative-time>
<a href="{e(url)}/commits/{e(repo.default_branch)}/" class="Link--secondary"><span class="fgColor-default">{repo.commits} Commits</span></a></div></div>
<table aria-labelledby="folders-and-files" class="Table-module__Box--KyMHK"><thead class="sr-only"><tr><th>Name</th><th>Last commit message</th><th>Last commit date</th></tr></thead>
<tbody>
{self._file_table(repo, "")}
</tbody></table></div>
<div id="readme" class="Box md js-code-block-container js-code-nav-container js-tagsearch-file Box--responsive" data-tagsearch-path="README.md" data-tagsearch-lang="Markdown">
<div class="Box-header d-flex border-bottom-0 flex-items-center flex-justify-between color-bg-default rounded-top-2"><h2 class="Box-title">README.md</h2></div>
<div class="Box-body px-5 pb-5"><article class="markdown-body entry-content container-lg" itemprop="text">{readme}</article></div>
</div>
</div>
<div class="Layout-sidebar"><div class="BorderGrid about-margin" data-pjax>
<div class="BorderGrid-row"><div class="BorderGrid-cell"><h2 class="mb-3 h4">About</h2>
<p class="f4 my-3">{e(repo.description)}</p>
<div class="my-3"><div class="f6">{topics}</div></div>
<h3 class="sr-only">Resources</h3><div class="mt-2"><a class="Link--muted" href="#readme-ov-file">Readme</a></div>
<h3 class="sr-only">License</h3><div class="mt-2"><a href="#MIT-1-ov-file" class="Link--muted">MIT license</a></div>
<div class="mt-2"><a class="Link--muted" href="{e(url)}/activity">Activity</a></div>
<div class="mt-2"><a href="{e(url)}/stargazers" class="Link Link--muted"><strong>{repo.stars}</strong> stars</a></div>
<div class="mt-2"><a href="{e(url)}/watchers" class="Link Link--muted"><strong>5</strong> watching</a></div>
<div class="mt-2"><a href="{e(url)}/forks" class="Link Link--muted"><strong>{repo.forks}</strong> forks</a></div>
</div></div>
<div class="BorderGrid-row"><div class="BorderGrid-cell"><h2 class="h4 mb-3"><a href="{e(url)}/releases" class="Link--primary no-underline">Releases <span class="Counter">4</span></a></h2>
<a href="{e(url)}/releases/tag/v0.3.1" class="Link--primary d-flex no-underline"><span>v0.3.1</span> <span class="Label Label--success">Latest</span> <relative-time datetime="{repo.committed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}">{e(long_date(repo.committed_at))}</relative-time></a></div></div>
<div class="BorderGrid-row"><div class="BorderGrid-cell"><h2 class="h4 mb-3">Languages</h2>
<ul class="list-style-none"><li class="d-inline"><span class="color-fg-default text-bold mr-1">{e(repo.language)}</span><span>96.8%</span></li> <li class="d-inline"><span class="color-fg-default text-bold mr-1">JavaScript</span><span>3.2%</span></li></ul></div></div>
</div></div>
</div></div></turbo-frame></main>"""
        return self._github_shell(title, head, main)

    def github_tree(self, folder: str) -> str | None:
        repo = self.corpus.repository
        if not self._entries(repo, folder):
            return None
        url = f"{self.links.repository()}/tree/{repo.default_branch}/{folder}"
        head = f'<meta property="og:url" content="{e(url)}"><link rel="canonical" href="{e(url)}">'
        main = f"""<main id="js-repo-pjax-container">{self._repo_header(repo)}
<div class="repository-content"><nav aria-label="Breadcrumbs"><a href="{e(self.links.repository())}">{e(repo.name)}</a> / {e(folder)}</nav>
<table><tbody>{self._file_table(repo, folder)}</tbody></table></div></main>"""
        return self._github_shell(
            f"{repo.name}/{folder} at {repo.default_branch} · {repo.full_name} · GitHub", head, main
        )

    def github_blob(self, path: str) -> str | None:
        repo = self.corpus.repository
        data = repo.files.get(path)
        if data is None:
            return None
        url = f"{self.links.repository()}/blob/{repo.default_branch}/{path}"
        raw = f"{self.links.repository()}/raw/{repo.default_branch}/{path}"
        if b"\0" in data:
            content = (
                '<div class="text-center p-3">Binary file not shown. <a href="'
                + e(raw)
                + '">View raw</a></div>'
            )
        else:
            lines = data.decode("utf-8").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            content = (
                '<textarea id="read-only-cursor-text-area" aria-label="file content" readonly spellcheck="false" '
                f'style="display:none">{e(data.decode("utf-8"))}</textarea>'
                '<table class="highlight tab-size js-file-line-container" data-tab-size="8"><tbody>'
                + "".join(
                    f'<tr><td id="L{n}" class="blob-num js-line-number" data-line-number="{n}"></td>'
                    f'<td id="LC{n}" class="blob-code blob-code-inner js-file-line">{e(line)}</td></tr>'
                    for n, line in enumerate(lines, start=1)
                )
                + "</tbody></table>"
            )
        head = f'<meta property="og:url" content="{e(url)}"><link rel="canonical" href="{e(url)}">'
        main = f"""<main id="js-repo-pjax-container">{self._repo_header(repo)}
<div class="repository-content"><nav aria-label="Breadcrumbs"><a href="{e(self.links.repository())}">{e(repo.name)}</a> / {e(path)}</nav>
<div class="Box"><div class="Box-header"><a href="{e(raw)}" class="btn-sm btn">Raw</a> <span>{len(data)} Bytes</span></div>
<div class="Box-body">{content}</div></div></div></main>"""
        return self._github_shell(
            f"{repo.name}/{path} at {repo.default_branch} · {repo.full_name} · GitHub", head, main
        )

    def github_profile(self) -> str:
        repo = self.corpus.repository
        origin = self.links.origin("github")
        head = f'<meta property="og:type" content="profile"><meta property="og:title" content="{e(repo.owner)} - Overview"><link rel="canonical" href="{e(origin)}/{e(repo.owner)}">'
        main = f"""<main><div class="h-card"><h1 class="vcard-names"><span class="p-name vcard-fullname">{e(self.author.full_name)}</span>
<span class="p-nickname vcard-username">{e(repo.owner)}</span></h1><div class="p-note user-profile-bio"><div>{e(self.author.bio)}</div></div>
<ul class="vcard-details"><li class="vcard-detail" itemprop="homeLocation"><span class="p-label">{e(self.author.location)}</span></li>
<li class="vcard-detail" itemprop="url"><a rel="nofollow me" class="Link--primary" href="{e(self.links.origin("blog"))}/">{e(self.links.origin("blog"))}</a></li></ul></div>
<div class="js-pinned-items-reorder-container"><h2 class="f4 mb-2 text-normal">Popular repositories</h2>
<ol class="d-flex flex-wrap list-style-none"><li class="pinned-item-list-item"><a href="{e(self.links.repository())}" class="Link mr-1 text-bold wb-break-word"><span class="repo">{e(repo.name)}</span></a>
<p class="pinned-item-desc color-fg-muted text-small mt-2 mb-0">{e(repo.description)}</p></li></ol></div></main>"""
        return self._github_shell(f"{repo.owner} ({self.author.full_name}) · GitHub", head, main)


def build_tarball(repo: Repository, top: str) -> bytes:
    """The repository as a gzipped tar with one top folder, the way ``git archive`` writes it (a pax
    global header holding the commit id, directory entries, fixed owner and times), byte-for-byte
    reproducible."""
    mtime = int(repo.committed_at.timestamp())
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": repo.sha}
    ) as tar:

        def add_dir(name: str) -> None:
            info = tarfile.TarInfo(f"{top}/{name}" if name else f"{top}/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o775, mtime
            info.uname = info.gname = "root"
            tar.addfile(info)

        add_dir("")
        seen: set[str] = set()
        for path in sorted(repo.files):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth]) + "/"
                if folder not in seen:
                    seen.add(folder)
                    add_dir(folder)
            data = repo.files[path]
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o664, mtime
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as zipped:
        zipped.write(raw.getvalue())
    return out.getvalue()
