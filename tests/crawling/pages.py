"""Small but realistic Medium, Substack, blog and feed pages for the crawler tests."""

from __future__ import annotations

from html import escape

RSS = "application/rss+xml; charset=utf-8"


def rss(items: list[dict[str, str]], *, generator: str = "", title: str = "Feed") -> str:
    entries = []
    for item in items:
        content = item.get("content")
        encoded = f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else ""
        entries.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
            f"<guid>{escape(item['link'])}</guid><pubDate>{item.get('date', 'Mon, 04 Mar 2024 09:00:00 GMT')}"
            f"</pubDate>{encoded}</item>"
        )
    gen = f"<generator>{generator}</generator>" if generator else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{title}</title><link>http://example.test/</link>{gen}{''.join(entries)}</channel></rss>"
    )


def medium_post(title: str, subtitle: str, body: str) -> str:
    return f"""<!doctype html><html><head><title>{title} | by Maya | Medium</title>
<meta property="og:site_name" content="Medium"><meta property="og:title" content="{title}">
<meta property="og:description" content="og {subtitle}">
<meta property="article:published_time" content="2024-02-02T08:00:00.000Z"></head>
<body><nav><a href="/">Medium</a><a href="/m/signin">Sign in</a></nav>
<article><div><h1 class="pw-post-title">{title}</h1>
<h2 class="pw-subtitle-paragraph">{subtitle}</h2>
<div class="speechify-ignore"><a href="/@maya">Maya Lindqvist</a> · Follow · 5 min read</div>
{body}</div></article>
<footer><p>Help Status About Careers</p></footer></body></html>"""


def medium_profile() -> str:
    return """<!doctype html><html><head><title>Maya - Medium</title>
<meta property="og:site_name" content="Medium"></head><body><h1>Maya Lindqvist</h1>
<p>Writer on Medium</p></body></html>"""


def substack_post(title: str, subtitle: str, body: str) -> str:
    return f"""<!doctype html><html><head><title>{title}</title>
<meta name="generator" content="Substack"><meta property="og:title" content="{title}">
<link rel="stylesheet" href="https://substackcdn.com/bundle/theme.css"></head>
<body><div class="main-menu">Maya's notes · Subscribe · Sign in</div>
<article class="post"><div class="post-header"><h1 class="post-title">{title}</h1>
<h3 class="subtitle">{subtitle}</h3></div>
<div class="available-content"><div class="body markup">{body}
<div class="subscription-widget-wrap"><p>Thanks for reading Maya's notes! Subscribe for free to receive
new posts and support my work.</p><input type="email"><button>Subscribe</button></div>
</div></div><div class="post-footer"><a>Share</a><a>Comments</a></div></article></body></html>"""


def substack_home() -> str:
    return """<!doctype html><html><head><title>Maya's notes</title>
<script src="https://substackcdn.com/bundle/main.js"></script></head>
<body><h1>Maya's notes</h1><p>A newsletter about small models.</p></body></html>"""


def blog_post(title: str, body: str) -> str:
    return f"""<!doctype html><html><head><title>{title} - Maya's blog</title>
<meta name="generator" content="Hugo 0.120"></head>
<body><header><a href="/">Maya's blog</a><nav><a href="/posts/">Posts</a></nav></header>
<main><article><h1>{title}</h1>{body}</article></main><footer>© Maya</footer></body></html>"""


def blog_home(feed_href: str) -> str:
    return f"""<!doctype html><html><head><title>Maya's blog</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="{feed_href}"></head>
<body><main><h1>Maya's blog</h1><ul><li><a href="/posts/one/">One</a></li></ul></main></body></html>"""


def github_repo_page(owner: str, repo: str) -> str:
    return f"""<!doctype html><html><head><title>{owner}/{repo}</title>
<meta property="og:site_name" content="GitHub"><meta property="og:title" content="{owner}/{repo}">
</head><body><p>Code</p></body></html>"""
