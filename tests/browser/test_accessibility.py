"""Accessible, light pages in Chromium, in English and Lao: axe, keyboard, headings, 360 px, weight, Lao breaks."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from laonlp.tokenize import word_tokenize
from playwright.sync_api import expect

from tracker.lao import keep_words_whole as keep_lao_words

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
POLICY = "la-gov-resolution-08-2021-ev-policy"
LANGUAGES = ("en", "lo")
EDITOR = ("editor@example.org", "correct horse battery staple")
WEIGHT_LIMIT = 300_000  # bytes transferred on a first visit, fonts included

PUBLIC_PAGES = {
    "home": "/",
    "policies": "/policies",
    "policy": f"/policies/{POLICY}",
    "search": "/search?q=electric",
    "dashboard": "/dashboard",
    "compare": "/compare",
    "compare-as-of": "/compare?dimension=kind&as_of=2023",
    "calendar": "/calendar",
    "login": "/login",
    "organisations": "/organisations",
    "organisation": "/organisations/la-mem",
    "password-reset": "/password-reset",
    "compare-policies": "/compare/policies?keys=th-ev35-incentives-2024-2027,id-permenperin-6-2023,"
                        "vn-decree-10-2022-registration-fee,la-gov-resolution-08-2021-ev-policy",
    "policies-comparing": "/policies?compare=th-ev35-incentives-2024-2027,la-gov-resolution-08-2021-ev-policy",
}
EDITOR_PAGES = {
    "new-policy": "/policies/new",
    "new-event": "/events/new",
    "policy-as-editor": f"/policies/{POLICY}",
    "propose-change": f"/policies/{POLICY}/propose",
    "review": "/review",
    "activity": "/activity",
    "new-organisation": "/organisations/new",
    "account": "/account",
}
# axe rules of WCAG 2.0-2.2 A and AA, and Deque's best practices (landmarks, one h1, heading order).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

# Lao prose from the dataset and the Ministry's own wording, long enough to wrap many times.
LAO_PARAGRAPH = (
    "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ "
    "ກອງປະຊຸມສໍາມະນາ ກ່ຽວກັບການສ້າງນະໂຍບາຍ ການກໍານົດມາດຖານເຕັກນິກ "
    "ແລະມາດຕະການດ້ານການເງິນເພື່ອການຍົກລະດັບພາຫະນະໄຟຟ້າ ໃນ ສປປ ລາວ "
    "ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່ໄດ້ອອກນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ສາທາລະນະລັດປະຊາທິປະໄຕປະຊາຊົນລາວ"
    "ເພື່ອຫຼຸດຜ່ອນການນຳເຂົ້ານ້ຳມັນເຊື້ອໄຟແລະສົ່ງເສີມການນຳໃຊ້ພະລັງງານສະອາດໃນຂະແໜງຄົມມະນາຄົມຂົນສົ່ງ"
)


def new_tab(browser, live_server, language: str, width: int = 1280, height: int = 900):
    """A fresh browser context (empty cache, no cookies) reading the tracker in ``language``."""
    # bypass_csp lets the test inject axe-core; the pages themselves never run inline scripts.
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height},
                                  bypass_csp=True, extra_http_headers={"Accept-Language": language})
    context.add_cookies([{"name": "lang", "value": language, "url": live_server}])
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return context, tab


def log_in(tab) -> None:
    tab.goto("/login")
    tab.locator("input[name=email]").fill(EDITOR[0])
    tab.locator("input[name=password]").fill(EDITOR[1])
    tab.locator("main form button[type=submit]").click()
    expect(tab.locator("header.site")).to_contain_text("Test editor")


def open_page(tab, path: str, language: str) -> None:
    response = tab.goto(path)
    assert response is not None and response.status == 200, f"{path}: {response and response.status}"
    expect(tab.locator("html")).to_have_attribute("lang", language)


def run_axe(tab) -> dict:
    tab.add_script_tag(path=str(AXE))
    return tab.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)


def describe(violation: dict) -> str:
    targets = [" ".join(node["target"]) for node in violation["nodes"][:5]]
    return (f"[{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({len(violation['nodes'])} nodes: {targets})")


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_no_serious_or_critical_problem(browser, live_server, language):
    context, tab = new_tab(browser, live_server, language)
    try:
        failures: list[str] = []
        for name, path in PUBLIC_PAGES.items():
            failures += check_with_axe(tab, name, path, language)
        log_in(tab)
        for name, path in EDITOR_PAGES.items():
            failures += check_with_axe(tab, name, path, language)
    finally:
        context.close()
    assert not failures, "\n".join(failures)


def check_with_axe(tab, name: str, path: str, language: str) -> list[str]:
    open_page(tab, path, language)
    result = run_axe(tab)
    violations = result["violations"]
    print(f"axe {language} {name}: {len(result['passes'])} rules passed, {len(violations)} violated, "
          f"to review by hand: {[item['id'] for item in result['incomplete']]}")
    for violation in violations:
        print(f"axe {language} {name}: {describe(violation)}")
    return [f"{language} {name}: {describe(v)}" for v in violations if v["impact"] in ("serious", "critical")]


FOCUS_STATE = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  return {
    tag: element.tagName.toLowerCase(), id: element.id, name: element.getAttribute('name'),
    text: (element.innerText || element.value || '').trim().slice(0, 40),
    region: ['main', 'nav', 'header', 'footer'].find(name => element.closest(name)) || 'other',
    focusVisible: element.matches(':focus-visible'),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    shadow: style.boxShadow !== 'none',
  };
}"""


@pytest.mark.parametrize("path", ["/", f"/policies/{POLICY}"])
def test_the_keyboard_reaches_search_nav_and_main_links_with_a_visible_focus(browser, live_server, path):
    context, tab = new_tab(browser, live_server, "en")
    try:
        open_page(tab, path, "en")
        stops = []
        for _ in range(45):
            tab.keyboard.press("Tab")
            stops.append(tab.evaluate(FOCUS_STATE))
        first = stops[0]
        assert first["tag"] == "a" and first["text"] == "Skip to content", first
        assert any(stop["id"] == "site-search-q" for stop in stops), stops
        nav_links = {stop["text"] for stop in stops if stop["region"] == "nav"}
        assert {"Home", "Policies", "Events", "Countries"} <= nav_links, nav_links
        assert any(stop["tag"] == "a" and stop["region"] == "main" for stop in stops), stops
        invisible = [stop for stop in stops
                     if not (stop["focusVisible"] and (stop["outline"] or stop["shadow"]))]
        assert not invisible, invisible

        # The skip link moves the keyboard past the header, and the search box works from the keyboard.
        open_page(tab, path, "en")
        tab.keyboard.press("Tab")
        tab.keyboard.press("Enter")
        tab.keyboard.press("Tab")
        assert tab.evaluate(FOCUS_STATE)["region"] == "main"
        tab.locator("#site-search-q").focus()
        tab.keyboard.type("electric")
        tab.keyboard.press("Enter")
        tab.wait_for_url("**/search?q=electric*")
        expect(tab.locator("ol.hits li").first).to_be_visible()
    finally:
        context.close()


HEADINGS = """() => Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
  .map(h => ({level: Number(h.tagName[1]), text: h.textContent.trim().slice(0, 60)}))"""


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_main_page_has_one_h1_and_no_skipped_heading_level(browser, live_server, language):
    context, tab = new_tab(browser, live_server, language)
    pages = dict(PUBLIC_PAGES, events="/events", event="/events/lao-ev-forum-2023", countries="/countries",
                 country="/countries/LA")
    problems = []
    try:
        for name, path in pages.items():
            open_page(tab, path, language)
            headings = tab.evaluate(HEADINGS)
            if [h["level"] for h in headings].count(1) != 1 or headings[0]["level"] != 1:
                problems.append(f"{name}: not exactly one h1 at the top: {headings}")
            for before, after in zip(headings, headings[1:]):
                if after["level"] > before["level"] + 1:
                    problems.append(f"{name}: h{before['level']} «{before['text']}» "
                                    f"then h{after['level']} «{after['text']}»")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_pages_fit_a_360_pixel_screen(browser, live_server, artifacts, language):
    context, tab = new_tab(browser, live_server, language, width=360, height=780)
    wide = []
    try:
        for name, path in {**PUBLIC_PAGES, "events": "/events", "event": "/events/lao-ev-forum-2023"}.items():
            open_page(tab, path, language)
            width = tab.evaluate("document.scrollingElement.scrollWidth")
            tab.screenshot(path=artifacts / f"360-{name}-{language}.png", full_page=True)
            if width > 360:
                wide.append(f"{name}: {width} px")
        log_in(tab)
        open_page(tab, "/policies/new", language)
        tab.screenshot(path=artifacts / f"360-new-policy-{language}.png", full_page=True)
        if tab.evaluate("document.scrollingElement.scrollWidth") > 360:
            wide.append("new-policy")
    finally:
        context.close()
    assert not wide, wide


def first_visit_weight(browser, live_server, path: str, language: str) -> tuple[int, dict[str, int]]:
    """Bytes received (headers and bodies, as Chromium's network stack counts them) on a first visit with an
    empty cache, fonts included, and the size of each response body by URL."""
    context, tab = new_tab(browser, live_server, language)
    try:
        cdp = context.new_cdp_session(tab)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        received: dict[str, float] = {}
        cdp.on("Network.loadingFinished",
               lambda event: received.__setitem__(event["requestId"], event["encodedDataLength"]))
        bodies: dict[str, int] = {}
        tab.on("response", lambda response: bodies.__setitem__(response.url.removeprefix(live_server),
                                                                len(response.body())))
        open_page(tab, path, language)
        tab.evaluate("document.fonts.ready.then(() => document.fonts.size)")
        tab.wait_for_load_state("networkidle")
        assert received and len(received) == len(bodies), (received, bodies)
        return int(sum(received.values())), bodies
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_home_list_and_policy_pages_weigh_under_300_kb_on_a_first_visit(browser, live_server, language):
    heavy = []
    for name in ("home", "policies", "policy"):
        total, bodies = first_visit_weight(browser, live_server, PUBLIC_PAGES[name], language)
        fonts = {url: size for url, size in bodies.items() if url.split("?")[0].endswith(".woff2")}
        print(f"weight {language} {name}: {total} bytes transferred, {len(bodies)} responses, "
              f"bodies {sum(bodies.values())} bytes, fonts {sorted(fonts.items())}")
        assert len(bodies) >= 2 and any(url.endswith(".css") for url in bodies), bodies
        if language == "lo":
            assert fonts, "a Lao page draws its text with the bundled Lao font"
        if total >= WEIGHT_LIMIT:
            heavy.append(f"{name}: {total} bytes")
    assert not heavy, heavy


def test_a_repeat_visit_revalidates_the_page_and_reuses_static_files(browser, live_server):
    context, tab = new_tab(browser, live_server, "en")
    try:
        # What went over the wire, as Chromium's network stack saw it (cache hits never reach it).
        cdp = context.new_cdp_session(tab)
        cdp.send("Network.enable")
        urls: dict[str, str] = {}
        answers: list[tuple[str, int]] = []
        cdp.on("Network.requestWillBeSent", lambda event: urls.__setitem__(
            event["requestId"], event["request"]["url"].removeprefix(live_server)))
        # The "extra info" event may come before the request's own event, so the URL is looked up later.
        cdp.on("Network.responseReceivedExtraInfo",
               lambda event: answers.append((event["requestId"], event["statusCode"])))

        def on_the_wire() -> list[tuple[str, int]]:
            return [(urls.get(request_id, "?"), status) for request_id, status in answers]

        path = f"/policies/{POLICY}"
        open_page(tab, path, "en")
        tab.wait_for_load_state("networkidle")
        first = on_the_wire()
        assert (path, 200) in first and any(url.endswith(".css") for url, _ in first), first
        answers.clear()
        tab.goto("/policies")
        tab.wait_for_load_state("networkidle")
        tab.goto(path)
        tab.wait_for_load_state("networkidle")
        # The pages come back as 304s when already seen, and no stylesheet, font or icon is asked for again.
        assert on_the_wire() == [("/policies", 200), (path, 304)], on_the_wire()
        expect(tab.get_by_role("heading", level=1)).to_contain_text("Government resolution approving")
    finally:
        context.close()


LINE_STARTS = """container => {
  const starts = [];
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let offset = 0, lastTop = null;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect && rect.width > 0 && (lastTop === null || rect.top > lastTop + rect.height / 2)) {
        starts.push(offset + i);
        lastTop = rect.top;
      }
    }
    offset += node.length;
  }
  return starts;
}"""


def word_starts(text: str) -> set[int]:
    """Offsets where a laonlp word begins. laonlp knows sara am only as one character (ຳ), while Lao is
    often typed as ໍ + າ: words are found on the composed text and mapped back to the text as written."""
    composed = text.replace("\u0ECD\u0EB2", "\u0EB3")
    origin, position = [], 0
    for char in composed:
        origin.append(position)
        position += 2 if char == "\u0EB3" and text.startswith("\u0ECD\u0EB2", position) else 1
    starts, position = set(), 0
    for word in word_tokenize(composed):
        starts.add(origin[position])
        position += len(word)
    return starts


# A vowel sign or tone mark written after its consonant never begins a line: that would cut a syllable.
INSIDE_A_SYLLABLE = re.compile("[\u0EB0-\u0EBC\u0EC8-\u0ECD]")


# Where Lao text appears on the pages: prose, a source title, a search snippet, a result title, a table cell.
LAO_CONTEXTS = {
    "prose": '<p lang="lo" id="probe">{text}</p>',
    "source": '<ol class="sources"><li lang="lo" id="probe">{text}</li></ol>',
    "snippet": '<dl class="snippets"><div><dt>ຫົວຂໍ້</dt><dd lang="lo" id="probe">{text}</dd></div></dl>',
    "hit-title": '<h3 class="hit-title" lang="lo" id="probe">{text}</h3>',
    "table": '<div class="table-scroll"><table class="policies"><tbody><tr>'
             '<td class="title" lang="lo" id="probe">{text}</td><td>2021</td></tr></tbody></table></div>',
}
PROBE = """([markup, width]) => {
    document.querySelector('#lao-probe')?.remove();
    const box = document.createElement('div');
    box.id = 'lao-probe';
    box.style.width = width + 'px';
    box.innerHTML = markup;
    document.querySelector('main').prepend(box);
}"""


def mid_word_line_starts(tab, markup: str, width: int, starts: set[int]) -> list[int]:
    tab.evaluate(PROBE, [markup, width])
    lines = tab.locator("#probe").evaluate(LINE_STARTS)
    assert len(lines) > 3, (markup[:80], width, lines)
    text = tab.locator("#probe").evaluate("element => element.textContent")
    return [start for start in lines if start not in starts or INSIDE_A_SYLLABLE.match(text, start)]


# Elements holding Lao text whose computed style would let a line end inside a word.
FORCED_BREAKS = """() => Array.from(document.querySelectorAll('body *'))
  .filter(element => Array.from(element.childNodes)
    .some(node => node.nodeType === 3 && /[\\u0E80-\\u0EFF]/.test(node.textContent)))
  .map(element => [element, getComputedStyle(element)])
  .filter(([, style]) => style.wordBreak === 'break-all' || style.overflowWrap === 'anywhere'
                         || style.lineBreak === 'anywhere')
  .map(([element, style]) => `${element.tagName}: ${style.wordBreak}, ${style.overflowWrap}`)
"""


def test_lao_lines_break_between_words_never_inside_one(browser, live_server, artifacts):
    context, tab = new_tab(browser, live_server, "lo", width=360, height=780)
    starts = word_starts(LAO_PARAGRAPH)
    kept = str(keep_lao_words(LAO_PARAGRAPH))
    assert kept != LAO_PARAGRAPH and "<span" in kept
    cuts, icu_alone = [], set()
    try:
        # Nothing on the real Lao pages asks for breaks inside words.
        for path in ("/", "/policies", "/search?q=ລົດໄຟຟ້າ", f"/policies/{POLICY}"):
            open_page(tab, path, "lo")
            assert not tab.evaluate(FORCED_BREAKS), (path, tab.evaluate(FORCED_BREAKS))
        tab.evaluate("document.fonts.ready")
        for name, template in LAO_CONTEXTS.items():
            for width in (120, 170, 230, 300):
                for start in mid_word_line_starts(tab, template.format(text=kept), width, starts):
                    cuts.append(f"{name} at {width}px: «{LAO_PARAGRAPH[max(0, start - 6):start]}|"
                                f"{LAO_PARAGRAPH[start:start + 6]}»")
                if width == 170:
                    tab.locator("#lao-probe").screenshot(path=artifacts / f"lao-line-breaks-{name}.png")
                # For the record: where the browser's own dictionary alone would end lines.
                alone = mid_word_line_starts(tab, template.format(text=LAO_PARAGRAPH), width, starts)
                icu_alone.update(f"{LAO_PARAGRAPH[max(0, s - 4):s]}|{LAO_PARAGRAPH[s:s + 4]}" for s in alone)
        # The check can see a cut: with break-all, lines do start inside words.
        assert mid_word_line_starts(tab, '<p lang="lo" id="probe" style="word-break: break-all">'
                                    f"{LAO_PARAGRAPH}</p>", 170, starts)
    finally:
        context.close()
    print(f"Without lao_words, Chromium's ICU dictionary ends lines inside words at: {sorted(icu_alone)}")
    assert not cuts, "\n".join(cuts)


FORCING = re.compile(r"word-break:\s*break-all|overflow-wrap:\s*anywhere|line-break:\s*anywhere")


def test_the_stylesheets_never_force_breaks_inside_words_except_for_tokens(live_server):
    import urllib.request

    def get(path: str) -> str:
        with urllib.request.urlopen(f"{live_server}{path}") as response:
            return response.read().decode()

    stylesheets = {href for page in ("/", "/dashboard", "/api")
                   for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', get(page))}
    assert len(stylesheets) >= 3, stylesheets
    forcing = []
    for href in sorted(stylesheets):
        css = re.sub(r"/\*.*?\*/", "", get(href), flags=re.S)
        forcing += [selector.strip() for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)
                    if FORCING.search(body)]
    # An API token is one long Latin string, never Lao text.
    assert forcing == ["code.token"], forcing
