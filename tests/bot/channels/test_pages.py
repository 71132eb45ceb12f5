"""The agents' and operators' pages share one token login script (bot/web/static/login.js)."""

from __future__ import annotations

import re

import pytest

from bot.channels.pages import STATIC_DIR, static_file

LOGIN_SCRIPT = "login.js"
SCRIPT_TAG = re.compile(r'<script src="(/[^"]*)/static/([^"/]+\.js)"></script>')
LOGIN_PAGES = ("copilot.html", "desk.html", "ops.html", "content.html")


def _scripts(page: str) -> list[tuple[str, str]]:
    return SCRIPT_TAG.findall((STATIC_DIR / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_a_page_with_a_token_login_loads_the_login_script_first_from_its_own_prefix(page):
    scripts = _scripts(page)
    users = [name for _, name in scripts if "posbotLogin(" in (STATIC_DIR / name).read_text()]

    assert users, f"{page} no longer logs in with login.js"
    assert scripts[0][1] == LOGIN_SCRIPT
    assert len({prefix for prefix, _ in scripts}) == 1  # served by the page's own routes


def test_every_page_script_that_logs_in_is_on_a_login_page():
    users = {p.name for p in STATIC_DIR.glob("*.js") if "posbotLogin(" in p.read_text()}
    loaded = {name for page in LOGIN_PAGES for _, name in _scripts(page)}

    assert users and users <= loaded


def test_no_page_script_keeps_its_own_token_handling():
    for script in STATIC_DIR.glob("*.js"):
        if script.name != LOGIN_SCRIPT:
            assert "sessionStorage" not in script.read_text(), script.name


def test_the_login_script_is_served_as_javascript():
    reply = static_file(LOGIN_SCRIPT)

    assert reply.status == 200
    assert reply.content_type.startswith("text/javascript")
    assert b"window.posbotLogin" in reply.body
