"""The one escaping path of the UI's pages: every value is text unless ``html()`` made it."""

from __future__ import annotations

from kubevents.cli.ui._html import Markup, esc, html, url


def test_values_are_escaped_for_text_and_attributes() -> None:
    assert esc("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert esc('" onmouseover="x') == "&quot; onmouseover=&quot;x"
    assert esc("a'b&c") == "a&#x27;b&amp;c"
    assert html('<a title="{}">{}</a>', '"><img src=x>', "<b>") == (
        '<a title="&quot;&gt;&lt;img src=x&gt;">&lt;b&gt;</a>'
    )


def test_control_characters_and_bidi_overrides_are_shown_not_obeyed() -> None:
    shown = esc("safe\u202egnp.exe\x1b[31m")
    assert "\u202e" not in shown
    assert "\x1b" not in shown


def test_markup_is_not_escaped_twice_and_a_plain_str_always_is() -> None:
    inner = html("<b>{}</b>", "&")
    assert html("<p>{}</p>", inner) == "<p><b>&amp;</b></p>"
    assert html("<p>{}</p>", str(inner)) == "<p>&lt;b&gt;&amp;amp;&lt;/b&gt;</p>"
    assert isinstance(inner, Markup)


def test_urls_percent_encode_their_values() -> None:
    assert url("/", [("grep", "a&b=c d"), ("for", "pod/x")]) == "/?grep=a%26b%3Dc+d&for=pod%2Fx"
    assert url("/top") == "/top"
