"""Every relative link and anchor in README.md and docs/**/*.md resolves.

Markdown links `[text](target)` and images `![alt](target)` outside code are checked: a
relative target must be an existing file or folder (relative to the page that links it),
and a `#anchor` must be the GitHub slug of a heading of the target page. Absolute
http(s) / mailto links are not fetched.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (a fence closes with the same character)."""
    lines, fence = [], ""
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
        elif opening:
            fence = opening.group(1)
        else:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (links reduced to their text), lowercased,
    every character but letters, digits, `_`, `-` and spaces dropped, spaces to hyphens."""
    text = LINK.sub(r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's slug in `page`, repeated slugs suffixed -1, -2, ... as GitHub does."""
    seen: Counter[str] = Counter()
    result = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            slug = github_slug(match.group(1))
            result.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
            seen[slug] += 1
    return result


def links(page: Path) -> list[str]:
    prose = "\n".join(prose_lines(page.read_text(encoding="utf-8")))
    return [match.group(2) for match in LINK.finditer(INLINE_CODE.sub("code", prose))]


def broken_links(page: Path) -> list[str]:
    """Each relative link of `page` whose file or anchor does not exist, with the reason."""
    broken = []
    for target in links(page):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (linked.is_dir() or linked.suffix != ".md"):
            broken.append(f"{target}: an anchor into a page that is not Markdown")
        elif anchor and unquote(anchor) not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor")
    return broken


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    assert broken_links(page) == []


def test_the_pages_link_to_each_other():
    """The check has something to check: the README links into docs/, with anchors."""
    readme_links = links(ROOT / "README.md")
    assert "docs/README.md" in readme_links
    assert any("#" in link for page in markdown_pages() for link in links(page))


def test_slugs_follow_githubs_rules():
    assert github_slug("Engine, threads and PNG") == "engine-threads-and-png"
    assert github_slug("Set-up") == "set-up"
    assert github_slug("Model cards (`models/<id>/model.toml`)") == "model-cards-modelsidmodeltoml"
    assert github_slug("A text classifier with its Keras `Tokenizer`") == (
        "a-text-classifier-with-its-keras-tokenizer"
    )
    assert github_slug("See [the API](api.md) now") == "see-the-api-now"
    assert github_slug("max_channels") == "max_channels"


def test_broken_links_and_anchors_are_caught(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Usage\n\n## Usage\n")
    (tmp_path / "picture.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title, here\n\n"
        "[fine](other.md) [fine](other.md#usage) [fine](other.md#usage-1) ![ok](picture.png)\n"
        "[fine](#title-here) [web](https://example.com/missing.md#nowhere)\n"
        "[gone](missing.md) ![gone](img/missing.png) [bad anchor](other.md#usage-2)\n"
        "[bad local](#nowhere) [not markdown](picture.png#x)\n"
        "`[in code](also-missing.md)`\n\n"
        "```\n[in a fence](fence-missing.md)\n```\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "img/missing.png: no such file",
        "other.md#usage-2: no heading with that anchor",
        "#nowhere: no heading with that anchor",
        "picture.png#x: an anchor into a page that is not Markdown",
    ]


def test_a_heading_inside_a_code_block_is_no_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Real\n\n```toml\n# not a heading\n```\n\n[a](#real) [b](#not-a-heading)\n")
    assert broken_links(page) == ["#not-a-heading: no heading with that anchor"]
