"""Secrets: URL redaction, ``${ENV}`` expansion in the configuration, secret files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubevents.export import ConfigError, load_export_config
from kubevents.export._secrets import (
    ExpansionError,
    SecretFile,
    expand_env,
    redact_text,
    redact_url,
    url_has_secret,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/events", "https://hooks.example/events"),
        ("https://hooks.example:8443/a/b", "https://hooks.example:8443/a/b"),
        ("https://user:pa55@hooks.example/x", "https://***@hooks.example/x"),
        ("http://tok@es:9200", "http://***@es:9200"),
        ("https://h/x?token=s3cret&sig=abc", "https://h/x?token=***&sig=***"),
        ("https://h/x?s3cret", "https://h/x?***"),
        ("https://a:b@h:1/p?k=v#frag", "https://***@h:1/p?k=***#***"),
        ("https://u:p@ss@h/", "https://***@h/"),  # an unencoded @ in the password
        ("http://u:p@[::1]:9200", "http://***@[::1]:9200"),
        ("http://u:p@h:99999/x?t=1", "http://***@h:99999/x?t=***"),  # malformed: still redacted
        ("not a url?key=v", "not a url?key=***"),
        ("", ""),
    ],
)
def test_redact_url_keeps_where_and_hides_who(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_redacts_every_url_in_a_message() -> None:
    text = "Cannot connect to https://u:pw@h:1/x?token=t (and http://k@other/)"
    assert (
        redact_text(text) == "Cannot connect to https://***@h:1/x?token=*** (and http://***@other/)"
    )


def test_url_has_secret() -> None:
    assert url_has_secret("https://u:p@h/")
    assert url_has_secret("https://h/?access_token=x")
    assert not url_has_secret("https://h/path?page=2")
    assert not url_has_secret("https://h/a@b")  # an @ in the path is not userinfo


@pytest.mark.parametrize(
    ("value", "expanded"),
    [
        ("Bearer ${TOKEN}", "Bearer t0k"),
        ("${USER_}:${TOKEN}", "me:t0k"),
        ("cost $5 and $$ and $TOKEN", "cost $5 and $$ and $TOKEN"),  # only ${...} expands
        ("literal $${TOKEN}", "literal ${TOKEN}"),
        ("no references", "no references"),
    ],
)
def test_expand_env(value: str, expanded: str) -> None:
    assert expand_env(value, {"TOKEN": "t0k", "USER_": "me"}) == expanded


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Bearer ${MISSING}", "environment variable MISSING is not set"),
        ("Bearer ${EMPTY}", "environment variable EMPTY is empty"),
        ("Bearer ${TOKEN", "without a closing"),
        ("Bearer ${1X}", "not a variable name"),
        ("Bearer ${}", "not a variable name"),
    ],
)
def test_expand_env_refuses_what_would_send_nothing(value: str, message: str) -> None:
    with pytest.raises(ExpansionError, match=message):
        expand_env(value, {"EMPTY": "", "TOKEN": "x"})


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubevents.yaml"
    path.write_text(text)
    return path


def test_the_config_expands_credentials_from_the_environment(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
sinks:
  - {type: webhook, url: "https://hooks.example/e?key=${HOOK_KEY}",
     headers: {Authorization: "Bearer ${TOKEN}", X-Literal: "$${NOT}"}}
  - {type: elasticsearch, hosts: ["https://es:9200"], username: "${ES_USER}",
     password: "${ES_PASSWORD}", headers: {X-Tenant: "${TENANT}"}}
""",
    )
    env = {"HOOK_KEY": "k1", "TOKEN": "t0k", "ES_USER": "u", "ES_PASSWORD": "p", "TENANT": "a"}
    config = load_export_config(path, environ=env)
    webhook, search = config.sinks
    assert webhook.url == "https://hooks.example/e?key=k1"  # type: ignore[union-attr]
    assert webhook.headers == {"Authorization": "Bearer t0k", "X-Literal": "${NOT}"}  # type: ignore[union-attr]
    assert (search.username, search.password) == ("u", "p")  # type: ignore[union-attr]
    assert search.headers == {"X-Tenant": "a"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        (
            '{type: webhook, url: "https://h/", headers: {Authorization: "Bearer ${TOKEN}"}}',
            "sinks[0].headers.Authorization: environment variable TOKEN is not set",
        ),
        (
            '{type: elasticsearch, hosts: ["https://es:9200"], api_key: "${KEY}"}',
            "sinks[0].api_key: environment variable KEY is not set",
        ),
        (
            '{type: webhook, url: "https://h/", headers: {X-Key: "${NEWLINE}"}}',
            "sinks[0].headers.X-Key: contains a line break",
        ),
    ],
)
def test_a_credential_that_cannot_be_expanded_is_a_config_error(
    tmp_path: Path, sink: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_export_config(_write(tmp_path, f"sinks: [{sink}]\n"), environ={"NEWLINE": "k\n"})
    assert message in str(info.value)
    assert "k\n" not in str(info.value)


def test_a_secret_file_is_read_again_when_it_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    secret = SecretFile(path, "bearer_token_file")
    assert secret.read() == "first"  # the trailing newline is never sent
    # Rotated the way kubelet does it: a new file swapped in under the same name.
    (tmp_path / "new").write_text("second")
    os.replace(tmp_path / "new", path)
    assert secret.value() == "second"


def test_a_secret_file_that_vanishes_keeps_the_last_value_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token"
    path.write_text("first")
    secret = SecretFile(path, "bearer_token_file")
    secret.read()
    path.unlink()
    assert secret.value() == "first"
    assert secret.value() == "first"
    warnings = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(warnings) == 1 and "first" not in warnings[0].getMessage()
    path.write_text("third")
    assert secret.value() == "third"


@pytest.mark.parametrize("content", ["", "  \n", "a\nb"])
def test_a_secret_file_must_hold_one_value(tmp_path: Path, content: str) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"empty|control characters"):
        SecretFile(path, "bearer_token_file").read()
