"""Static files under fingerprinted names are cached for a year; pages revalidate with ETags, signed in or not."""
from __future__ import annotations

import gzip
import re

import pytest

IMMUTABLE = "public, max-age=31536000, immutable"


def linked_assets(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_link_static_files_by_fingerprinted_names_cached_for_a_year(client):
    page = client.get("/").get_data(as_text=True)
    assets = linked_assets(page)
    stylesheet = next(url for url in assets if url.endswith(".css"))
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", stylesheet)
    assert not any("?" in url for url in assets)
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == IMMUTABLE, url
        assert response.headers["ETag"]


def test_the_stylesheet_names_the_fonts_by_fingerprint_and_they_are_served(client):
    stylesheet = next(url for url in linked_assets(client.get("/").get_data(as_text=True)) if url.endswith(".css"))
    css = client.get(stylesheet)
    assert css.mimetype == "text/css"
    fonts = re.findall(r'url\("\.\./fonts/([^"]+)"\)', css.get_data(as_text=True))
    assert len(fonts) == 2
    for name, weight in zip(fonts, ("400", "700")):
        assert re.fullmatch(rf"noto-sans-lao-lao-{weight}-normal\.[0-9a-f]{{12}}\.woff2", name), name
    for name in fonts:
        font = client.get(f"/static/fonts/{name}")
        assert font.status_code == 200 and font.mimetype == "font/woff2"
        assert font.headers["Cache-Control"] == IMMUTABLE
        assert font.data[:4] == b"wOF2"
    # The licence the fonts are shipped under is served beside them.
    with client.get("/static/fonts/OFL.txt") as licence:
        assert b"SIL Open Font License" in licence.data


def test_plain_names_still_work_with_a_short_lifetime_and_stale_fingerprints_are_not_found(client):
    with client.get("/static/css/app.css") as plain:
        assert plain.status_code == 200
        assert plain.headers["Cache-Control"] == "public, max-age=300"
        assert b'url("../fonts/noto-sans-lao-lao-400-normal.woff2")' in plain.data
    assert client.get("/static/css/app.000000000000.css").status_code == 404
    assert client.get("/static/css/missing.css").status_code == 404
    assert client.get("/static/../config.py").status_code == 404


def test_a_fingerprinted_file_revalidates_with_a_304(client):
    stylesheet = next(url for url in linked_assets(client.get("/").get_data(as_text=True)) if url.endswith(".css"))
    first = client.get(stylesheet)
    again = client.get(stylesheet, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_signed_in_reader_revalidates_pages_with_a_304_of_their_own(client, login_as):
    anonymous = client.get("/policies")
    login_as("editor")
    first = client.get("/policies")
    assert first.status_code == 200 and "Test editor" in first.get_data(as_text=True)
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert first.headers["ETag"] != anonymous.headers["ETag"]
    assert client.get("/policies", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    # Another account never gets the editor's page as "not modified".
    login_as("reviewer")
    other = client.get("/policies", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200 and "Test reviewer" in other.get_data(as_text=True)


def test_pages_vary_on_language_and_session(client):
    vary = client.get("/").headers["Vary"]
    assert "Cookie" in vary and "Accept-Language" in vary


def test_text_files_are_sent_compressed_to_browsers_that_accept_it(client):
    stylesheet = next(url for url in linked_assets(client.get("/").get_data(as_text=True)) if url.endswith(".css"))
    plain = client.get(stylesheet)
    packed = client.get(stylesheet, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert client.get(stylesheet, headers={"Accept-Encoding": "gzip",
                                           "If-None-Match": packed.headers["ETag"]}).status_code == 304
    # Fonts are compressed already: sent as they are.
    font = re.search(r'url\("\.\./fonts/([^"]+)"\)', plain.get_data(as_text=True))[1]
    assert "Content-Encoding" not in client.get(f"/static/fonts/{font}", headers={"Accept-Encoding": "gzip"}).headers


def test_a_changed_file_gets_a_new_name_and_so_does_the_stylesheet_that_names_it(tmp_path):
    from tracker.views.assets import StaticAssets

    (tmp_path / "css").mkdir()
    (tmp_path / "fonts").mkdir()
    (tmp_path / "css" / "site.css").write_text('@font-face { src: url("../fonts/face.woff2?x#y") format("woff2"); }\n'
                                               'body { background: url(data:image/png;base64,AAAA); }')
    (tmp_path / "fonts" / "face.woff2").write_bytes(b"wOF2 first")
    assets = StaticAssets(tmp_path, reload=True)
    first_css, first_font = assets.fingerprinted("css/site.css"), assets.fingerprinted("fonts/face.woff2")
    body = assets.asset("css/site.css").body.decode()
    assert f'url("../fonts/{first_font.split("/")[1]}?x#y")' in body
    assert "url(data:image/png;base64,AAAA)" in body
    assert assets.resolve(first_css) == ("css/site.css", assets.asset("css/site.css"))

    # Only the font changes: debug mode notices it at once, and a new process (a deployment) renames the
    # stylesheet too, since its content names the font.
    (tmp_path / "fonts" / "face.woff2").write_bytes(b"wOF2 second, longer")
    assert assets.fingerprinted("fonts/face.woff2") != first_font
    deployed = StaticAssets(tmp_path)
    assert deployed.fingerprinted("fonts/face.woff2") != first_font
    assert deployed.fingerprinted("css/site.css") != first_css
    assert deployed.resolve(first_css) is None


HOME_PAGE_BUDGET = 300_000  # bytes: HTML, CSS, scripts, fonts and images of a first visit, uncompressed


def page_weight(client, path: str, language: str) -> dict[str, int]:
    """Bytes of a page and of every same-origin file it loads (linked from the page, or from its stylesheets),
    as the server sends them without compression: {url: size}."""
    page = client.get(path, headers={"Accept-Language": language})
    assert page.status_code == 200
    sizes = {path: len(page.data)}
    pending = linked_assets(page.get_data(as_text=True))
    while pending:
        url = pending.pop()
        if url in sizes:
            continue
        response = client.get(url)
        assert response.status_code == 200, url
        sizes[url] = len(response.data)
        if response.mimetype == "text/css":
            # Fonts and images named by the stylesheet, relative to it; every face counts, though a browser
            # fetches a face only for the characters it has.
            folder = url.rsplit("/", 1)[0]
            for relative in re.findall(r'url\("?([^")]+)"?\)', response.get_data(as_text=True)):
                if not relative.startswith(("data:", "#")):
                    pending.append(f"{folder}/{relative}".replace("/css/../", "/"))
    return sizes


@pytest.mark.parametrize("language", ["en", "lo"])
def test_the_home_page_with_its_map_and_everything_it_loads_stays_under_300_kb(client, language):
    sizes = page_weight(client, "/", language)
    total = sum(sizes.values())
    print(f"home page ({language}): {total:,} bytes in {len(sizes)} files: "
          + ", ".join(f"{url.rsplit('/', 1)[-1] or '/'} {size:,}" for url, size in sizes.items()))
    assert any(url.endswith(".woff2") for url in sizes) and any(url.endswith(".js") for url in sizes), sizes
    assert 'class="map-svg"' in client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
    assert total < HOME_PAGE_BUDGET, sizes
