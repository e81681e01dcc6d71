"""Replies and return values: what a client sees for each, through the real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.responses import PlainTextResponse

from porch import (
    content_type,
    cookie,
    download,
    file,
    get,
    header,
    json,
    redirect,
    render,
    run,
    send,
    status,
)
from porch.context import Context

HTML = "text/html; charset=utf-8"


def reply(value: Any) -> Any:
    """A route at '/' answering with ``value``."""
    return get("/", lambda ctx: value)


# --- return values ---


async def test_a_returned_str_is_html() -> None:
    async with run(reply("<h1>Hi</h1>")) as api:
        response = await api.get("/")
    assert response.status == 200
    assert response.headers["content-type"] == HTML
    assert response.body == "<h1>Hi</h1>"


async def test_a_returned_dict_or_list_is_json() -> None:
    routes = [
        get("/dict", lambda ctx: {"name": "ana", "tags": ["a"], "n": None}),
        get("/list", lambda ctx: [1, "two", {"three": 3}]),
    ]
    async with run(routes) as api:
        data = await api.get("/dict")
        items = await api.get("/list")
    assert data.status == 200
    assert data.headers["content-type"] == "application/json"
    assert data.body == {"name": "ana", "tags": ["a"], "n": None}
    assert items.headers["content-type"] == "application/json"
    assert items.body == [1, "two", {"three": 3}]


async def test_a_returned_int_is_that_status_with_its_reason_phrase() -> None:
    routes = [
        get("/404", lambda ctx: 404),
        get("/201", lambda ctx: 201),
        get("/418", lambda ctx: 418),
    ]
    async with run(routes) as api:
        not_found = await api.get("/404")
        created = await api.get("/201")
        teapot = await api.get("/418")
    assert (not_found.status, not_found.body) == (404, "Not Found")
    assert (created.status, created.body) == (201, "Created")
    assert (teapot.status, teapot.body) == (418, "I'm a Teapot")


async def test_returned_bytes_are_an_octet_stream() -> None:
    async with run(reply(b"\x00\x01binary")) as api:
        response = await api.get("/")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.raw.content == b"\x00\x01binary"


async def test_a_returned_starlette_response_passes_through() -> None:
    async with run(
        reply(PlainTextResponse("short and stout", status_code=418, headers={"X-Pot": "tea"}))
    ) as api:
        response = await api.get("/")
    assert response.status == 418
    assert response.body == "short and stout"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-pot"] == "tea"


async def test_returning_an_unsupported_type_is_a_500_naming_the_type() -> None:
    routes = [get("/set", lambda ctx: {1, 2, 3}), get("/bool", lambda ctx: True)]
    async with run(routes) as api:
        a_set = await api.get("/set")
        a_bool = await api.get("/bool")
    assert a_set.status == 500
    assert "a handler returned a set" in a_set.body
    assert a_bool.status == 500
    assert "a handler returned True" in a_bool.body


# --- status, send, json ---


async def test_status_then_send_sets_both() -> None:
    routes = [
        get("/nope", lambda ctx: status(404).send("Nope")),
        get("/bare", lambda ctx: status(403)),
    ]
    async with run(routes) as api:
        nope = await api.get("/nope")
        bare = await api.get("/bare")
    assert (nope.status, nope.body) == (404, "Nope")
    assert nope.headers["content-type"] == HTML
    assert (bare.status, bare.body) == (403, "Forbidden")


async def test_send_chooses_the_type_from_the_body() -> None:
    routes = [
        get("/text", lambda ctx: send("<p>hi</p>")),
        get("/bytes", lambda ctx: send(b"\xff\x00")),
        get("/dict", lambda ctx: send({"a": 1})),
        get("/empty", lambda ctx: send()),
        get("/none", lambda ctx: status(202).send(None)),
    ]
    async with run(routes) as api:
        text = await api.get("/text")
        raw = await api.get("/bytes")
        data = await api.get("/dict")
        empty = await api.get("/empty")
        nothing = await api.get("/none")
    assert (text.headers["content-type"], text.body) == (HTML, "<p>hi</p>")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.raw.content == b"\xff\x00"
    assert (data.headers["content-type"], data.body) == ("application/json", {"a": 1})
    assert (empty.status, empty.body) == (200, "")
    assert (nothing.status, nothing.raw.content) == (202, b"")


async def test_sending_the_context_is_a_500_not_its_repr() -> None:
    def sends_ctx(ctx: Context) -> Any:
        return send(ctx)  # type: ignore[arg-type]

    async with run(get("/", sends_ctx)) as api:
        response = await api.get("/")
    assert response.status == 500
    assert "send() got a Context" in response.body
    assert "object at 0x" not in response.body


async def test_json_sends_any_json_value_with_a_status() -> None:
    routes = [
        get("/list", lambda ctx: json([1, 2])),
        get("/str", lambda ctx: json("text")),
        get("/created", lambda ctx: status(201).json({"id": 7})),
    ]
    async with run(routes) as api:
        listed = await api.get("/list")
        text = await api.get("/str")
        created = await api.get("/created")
    assert listed.headers["content-type"] == "application/json"
    assert listed.body == [1, 2]
    assert text.body == "text"
    assert (created.status, created.body) == (201, {"id": 7})


async def test_an_invalid_status_is_a_500() -> None:
    def bad(ctx: Context) -> Any:
        return status(1000)

    async with run(get("/", bad)) as api:
        response = await api.get("/")
    assert response.status == 500
    assert "a status is a whole number from 100 to 599" in response.body


# --- redirects ---


async def test_redirect_is_a_302_by_default_or_takes_a_status_first() -> None:
    routes = [
        get("/", lambda ctx: redirect("/login")),
        get("/old", lambda ctx: redirect(301, "/new-home")),
    ]
    async with run(routes) as api:
        found = await api.get("/")
        moved = await api.get("/old")
    assert (found.status, found.headers["location"]) == (302, "/login")
    assert (moved.status, moved.headers["location"]) == (301, "/new-home")


async def test_a_client_that_follows_a_redirect_lands_on_the_target() -> None:
    def home(ctx: Context) -> Any:
        return redirect("/login") if ctx.url == "/" else None

    async with run(home, get("/login", lambda ctx: "login page")) as api:
        followed = await api.get("/", follow_redirects=True)
    assert (followed.status, followed.body) == (200, "login page")


async def test_a_redirect_keeps_the_cookies_set_on_it() -> None:
    async with run(reply(cookie("seen", "yes").redirect("/next"))) as api:
        response = await api.get("/")
    assert response.status == 302
    assert response.headers.get_list("set-cookie") == ["seen=yes; Path=/; SameSite=Lax"]


# --- files and downloads ---


async def test_file_sends_a_file_relative_to_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "cat.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "files" / "notes.txt").write_text("plain notes")
    routes = [
        get("/cat", lambda ctx: file("files/cat.png")),
        get("/notes", lambda ctx: file(Path("files") / "notes.txt")),
    ]
    async with run(routes) as api:
        image = await api.get("/cat")
        notes = await api.get("/notes")
    assert image.status == 200
    assert image.headers["content-type"] == "image/png"
    assert image.raw.content == b"\x89PNG fake"
    assert "content-disposition" not in image.headers
    assert notes.headers["content-type"] == "text/plain; charset=utf-8"
    assert notes.body == "plain notes"


async def test_file_with_a_status_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "gone.html").write_text("<h1>Gone</h1>")
    async with run(reply(status(410).file("gone.html"))) as api:
        response = await api.get("/")
    assert (response.status, response.body) == (410, "<h1>Gone</h1>")


async def test_a_missing_file_or_a_folder_is_a_404(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    routes = [
        get("/missing", lambda ctx: file("nowhere/missing.txt")),
        get("/folder", lambda ctx: file("folder")),
    ]
    async with run(routes) as api:
        missing = await api.get("/missing")
        folder = await api.get("/folder")
    assert (missing.status, missing.body) == (404, "Not Found")
    assert folder.status == 404


async def test_file_refuses_paths_outside_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secret.txt").write_text("the keys")
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.chdir(site)

    asked: list[str] = []

    def from_url(ctx: Context) -> Any:
        asked.append(ctx.params["*"])
        return file(ctx.params["*"])

    routes = [
        get("/up", lambda ctx: file("../secret.txt")),
        get("/absolute", lambda ctx: file(str(tmp_path / "secret.txt"))),
        get("/files/*", from_url),
    ]
    async with run(routes) as api:
        up = await api.get("/up")
        absolute = await api.get("/absolute")
        encoded = await api.get("/files/..%2Fsecret.txt")
    assert asked == ["../secret.txt"]
    for response in (up, absolute, encoded):
        assert response.status == 404
        assert "the keys" not in response.text


async def test_download_names_the_file_by_its_basename_or_another_name(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "report.csv").write_text("a,b\n1,2\n")
    routes = [
        get("/basename", lambda ctx: download("data/report.csv")),
        get("/renamed", lambda ctx: download("data/report.csv", "name.csv")),
    ]
    async with run(routes) as api:
        basename = await api.get("/basename")
        renamed = await api.get("/renamed")
    assert basename.status == 200
    assert basename.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert basename.headers["content-type"].startswith("text/csv")
    assert basename.body == "a,b\n1,2\n"
    assert renamed.headers["content-disposition"] == 'attachment; filename="name.csv"'
    assert renamed.body == "a,b\n1,2\n"


async def test_download_encodes_a_non_ascii_name(tmp_path: Path) -> None:
    (tmp_path / "cv.pdf").write_bytes(b"%PDF")
    async with run(reply(download("cv.pdf", "résumé 2024.pdf"))) as api:
        response = await api.get("/")
    assert response.headers["content-disposition"] == (
        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%202024.pdf"
    )
    assert response.headers["content-type"] == "application/pdf"


async def test_download_of_a_missing_file_is_a_404() -> None:
    async with run(reply(download("missing.csv", "name.csv"))) as api:
        response = await api.get("/")
    assert response.status == 404
    assert "content-disposition" not in response.headers


# --- cookies ---


async def test_cookie_sets_every_attribute_asked_for() -> None:
    answer = cookie(
        "theme",
        "dark",
        max_age=3600,
        httponly=True,
        secure=True,
        samesite="strict",
        path="/app",
        domain="example.com",
    ).send("ok")
    async with run(reply(answer)) as api:
        response = await api.get("/")
    assert response.headers.get_list("set-cookie") == [
        "theme=dark; Max-Age=3600; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=Strict"
    ]


async def test_cookie_defaults_to_path_root_and_samesite_lax() -> None:
    async with run(reply(cookie("theme", "dark").send("ok"))) as api:
        response = await api.get("/")
    assert response.headers["set-cookie"] == "theme=dark; Path=/; SameSite=Lax"
    assert response.cookies == {"theme": "dark"}


async def test_cookie_value_is_percent_encoded_and_the_client_keeps_it() -> None:
    routes = [
        get("/set", lambda ctx: cookie("name", "Ana María; x=1").send("ok")),
        get("/read", lambda ctx: ctx.cookies),
    ]
    async with run(routes) as api:
        response = await api.get("/set")
        echoed = await api.get("/read")
    assert response.headers["set-cookie"].startswith("name=Ana%20Mar%C3%ADa%3B%20x=1;")
    assert echoed.body == {"name": "Ana María; x=1"}


async def test_cookie_with_expires_sends_an_http_date() -> None:
    async with run(reply(cookie("a", "1", expires=0).send("ok"))) as api:
        response = await api.get("/")
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in response.headers["set-cookie"]


async def test_several_cookies_chain_then_json() -> None:
    answer = cookie("a", "1").cookie("b", "2", httponly=True).json({"ok": True})
    async with run(reply(answer)) as api:
        response = await api.get("/")
    assert response.body == {"ok": True}
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get_list("set-cookie") == [
        "a=1; Path=/; SameSite=Lax",
        "b=2; Path=/; HttpOnly; SameSite=Lax",
    ]
    assert response.cookies == {"a": "1", "b": "2"}


# --- headers and content types ---


async def test_header_sets_one_header_or_several_from_a_dict() -> None:
    routes = [
        get("/one", lambda ctx: header("X-A", "1").send("ok")),
        get("/dict", lambda ctx: header({"X-A": "1", "X-B": "2"}).json([])),
    ]
    async with run(routes) as api:
        one = await api.get("/one")
        several = await api.get("/dict")
    assert (one.headers["x-a"], one.body) == ("1", "ok")
    assert (several.headers["x-a"], several.headers["x-b"]) == ("1", "2")
    assert several.body == []


async def test_setting_a_header_again_replaces_it() -> None:
    async with run(reply(header("X-A", "1").header("x-a", "2").header({"X-A": "3"}))) as api:
        response = await api.get("/")
    assert response.headers.get_list("x-a") == ["3"]


async def test_header_replaces_a_header_the_reply_would_set(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(b"%PDF")
    answer = download("report.pdf").header("Content-Disposition", "inline")
    async with run(reply(answer)) as api:
        response = await api.get("/")
    assert response.headers.get_list("content-disposition") == ["inline"]


async def test_header_content_type_sets_the_type() -> None:
    async with run(reply(header("Content-Type", "text/csv").send("a,b"))) as api:
        response = await api.get("/")
    assert response.headers.get_list("content-type") == ["text/csv; charset=utf-8"]


async def test_a_header_with_a_newline_is_a_500_and_no_header_is_injected() -> None:
    def in_value(ctx: Context) -> Any:
        return header("X-Name", "ana\r\nSet-Cookie: admin=1").send("ok")

    def in_name(ctx: Context) -> Any:
        return header("X-Name\r\nSet-Cookie: admin=1", "ana").send("ok")

    async with run(get("/value", in_value), get("/name", in_name)) as api:
        value = await api.get("/value")
        name = await api.get("/name")
    for response in (value, name):
        assert response.status == 500
        assert "x-name" not in response.headers
        assert "set-cookie" not in response.headers
    assert "a header value is a single-line string" in value.body
    assert "a header name is a word" in name.body


async def test_a_cookie_that_would_inject_a_header_is_a_500() -> None:
    routes = [
        get("/path", lambda ctx: cookie("a", "1", path="/\r\nX-Evil: 1").send("ok")),
        get("/name", lambda ctx: cookie("a=b; Path", "1").send("ok")),
    ]
    async with run(routes) as api:
        path = await api.get("/path")
        name = await api.get("/name")
    for response in (path, name):
        assert response.status == 500
        assert "x-evil" not in response.headers
        assert "set-cookie" not in response.headers
    assert "may not hold ';' or a line break" in path.body
    assert "a cookie name is a word" in name.body


async def test_an_unknown_samesite_is_a_500_naming_the_accepted_values() -> None:
    def bad_samesite(ctx: Context) -> Any:
        return cookie("a", "1", samesite="sometimes").send("ok")

    async with run(get("/", bad_samesite)) as api:
        response = await api.get("/")
    assert response.status == 500
    assert "'lax', 'strict', 'none'" in response.body


async def test_content_type_takes_a_short_name_or_a_full_media_type() -> None:
    routes = [
        get("/png", lambda ctx: content_type("png").send(b"\x89PNG")),
        get("/xml", lambda ctx: content_type("application/xml").send("<a/>")),
        get("/txt", lambda ctx: content_type("text").send("plain")),
        get("/json", lambda ctx: content_type("json").send('{"a": 1}')),
    ]
    async with run(routes) as api:
        png = await api.get("/png")
        xml = await api.get("/xml")
        text = await api.get("/txt")
        data = await api.get("/json")
    assert png.headers["content-type"] == "image/png"
    assert png.raw.content == b"\x89PNG"
    assert (xml.headers["content-type"], xml.body) == ("application/xml", "<a/>")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert (data.headers["content-type"], data.body) == ("application/json", {"a": 1})


async def test_an_unknown_short_content_type_is_a_500_that_says_what_to_do() -> None:
    def unknown(ctx: Context) -> Any:
        return content_type("nonsense").send("x")

    async with run(get("/", unknown)) as api:
        response = await api.get("/")
    assert response.status == 500
    assert "give a full media type" in response.body


# --- templates ---


async def test_render_fills_a_template_from_views_and_escapes_values(tmp_path: Path) -> None:
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "index.html").write_text("<p>Hello {{ name }} at {{ ctx.path }}</p>")
    async with run(get("/home", lambda ctx: render("index.html", name="<b>x</b>"))) as api:
        response = await api.get("/home")
    assert response.status == 200
    assert response.headers["content-type"] == HTML
    assert response.body == "<p>Hello &lt;b&gt;x&lt;/b&gt; at /home</p>"


async def test_render_finds_a_template_without_its_suffix(tmp_path: Path) -> None:
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "index.html").write_text("index {{ n }}")
    routes = [
        get("/", lambda ctx: render("index", n=3)),
        get("/missing", lambda ctx: render("missing.html")),
    ]
    async with run(routes) as api:
        found = await api.get("/")
        missing = await api.get("/missing")
    assert found.body == "index 3"
    assert missing.status == 500
    assert "missing.html" in missing.body


async def test_render_reads_the_views_option(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("from templates")
    async with run(reply(status(202).render("page")), views="templates") as api:
        response = await api.get("/")
    assert (response.status, response.body) == (202, "from templates")


def test_replies_work_with_the_sync_form_of_run(tmp_path: Path) -> None:
    (tmp_path / "report.csv").write_text("1,2\n")
    routes = [
        get("/created", lambda ctx: status(201).json({"id": 1})),
        get("/report", lambda ctx: download("report.csv")),
    ]
    with run(routes) as api:
        created = api.get("/created")
        report = api.get("/report")
    assert (created.status, created.body) == (201, {"id": 1})
    assert report.headers["content-disposition"] == 'attachment; filename="report.csv"'
