"""HttpJsonConnector against a real local HTTP server (tests/data/conftest.py's ``api``)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pyarrow as pa
import pytest

from passline.data.connectors.http import HttpJsonConnector, safe_url
from passline.errors import InvalidInput, Unavailable
from passline.settings import Settings

from .conftest import API_KEY, BEARER, RECORDS, Api, free_port

FAST = {"backoff_s": 0.001}


def read(connector: HttpJsonConnector) -> pa.Table:
    return pa.Table.from_batches(list(connector.batches()))


def ids(table: pa.Table) -> list[int]:
    return table.column("id").to_pylist()


ALL_IDS = [r["id"] for r in RECORDS]


@pytest.mark.parametrize(
    ("route", "options", "pages"),
    [
        ("/page", {"pagination": "page", "page_size": 10}, 4),  # 10 + 10 + 5 + empty
        ("/offset", {"pagination": "offset", "page_size": 10, "records_path": "items"}, 3),
        ("/cursor", {"pagination": "cursor", "cursor_path": "meta.next"}, 3),
        ("/link", {"pagination": "link", "records_path": ""}, 3),
    ],
)
def test_each_pagination_style_returns_every_record_exactly_once(
    api: Api, route: str, options: dict[str, Any], pages: int
) -> None:
    table = read(HttpJsonConnector(api.url + route, **options))
    assert ids(table) == ALL_IDS
    assert api.log.hits[route] == pages


def test_batches_hold_batch_records_and_share_one_schema(api: Api) -> None:
    connector = HttpJsonConnector(
        api.url + "/page", pagination="page", page_size=7, batch_records=10
    )
    batches = list(connector.batches())
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert len({b.schema for b in batches}) == 1
    # Nested objects stay Arrow structs.
    assert batches[0].schema.field("meta").type == pa.struct(
        [("score", pa.float64()), ("tag", pa.string())]
    )


def test_429_with_retry_after_and_500_are_retried(api: Api) -> None:
    for route in ("/flaky429", "/flaky500"):
        table = read(HttpJsonConnector(api.url + route, **FAST))
        assert ids(table) == [1, 2, 3]
        assert api.log.hits[route] == 3  # two failures, then the answer


def test_retry_after_is_honoured(api: Api) -> None:
    read(HttpJsonConnector(api.url + "/busy", backoff_s=0.001))
    first, second = api.log.arrivals["/busy"]
    assert second - first >= 0.9  # the server asked for 1 s; backoff alone is 1 ms


def test_persistent_500_is_unavailable_naming_status_and_attempts(api: Api) -> None:
    connector = HttpJsonConnector(api.url + "/down", max_retries=2, **FAST)
    with pytest.raises(Unavailable, match=r"after 3 attempts; last: HTTP 500"):
        read(connector)
    assert api.log.hits["/down"] == 3


def test_connection_errors_are_retried_then_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing"
    with pytest.raises(Unavailable, match=r"after 2 attempts; last: ConnectError"):
        read(HttpJsonConnector(url, max_retries=1, **FAST))


def test_rate_limit_spaces_requests_as_seen_by_the_server(api: Api) -> None:
    rate = 20.0
    connector = HttpJsonConnector(
        api.url + "/rate", pagination="page", page_size=4, rate_limit=rate
    )
    assert ids(read(connector)) == ALL_IDS
    arrivals = api.log.arrivals["/rate"]
    assert len(arrivals) == 8  # 7 pages and the empty one
    # The span of all arrivals, not single gaps: one request delayed in transit (a loaded
    # machine) shortens the gap after it without the client having sent early.
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) / rate - 0.05


def test_html_answer_is_invalid_input_with_content_type_and_start(api: Api) -> None:
    with pytest.raises(InvalidInput) as caught:
        read(HttpJsonConnector(api.url + "/html?session=abc&token=hidden-value"))
    message = str(caught.value)
    assert "text/html" in message
    assert "<!doctype html><html><body><h1>Please log in</h1>" in message
    assert "x" * 40 not in message  # only the first 80 characters
    assert "/html" in message and "hidden-value" not in message


def test_body_that_is_not_json_is_invalid_input(api: Api) -> None:
    with pytest.raises(InvalidInput, match=r"did not answer JSON .*\{not json"):
        read(HttpJsonConnector(api.url + "/badjson"))


def test_bearer_token_comes_from_a_secret_ref(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("API_TOKEN", BEARER.removeprefix("Bearer "))
    connector = HttpJsonConnector(api.url + "/secure", auth_value_ref="env:API_TOKEN")
    assert ids(read(connector)) == [1, 2]
    assert "tok-0123456789" not in caplog.text
    assert "tok-0123456789" not in str(connector.describe())


def test_refused_credentials_say_so_without_the_secret(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "wrong-token-value-123")
    connector = HttpJsonConnector(api.url + "/secure", auth_value_ref="env:API_TOKEN")
    with pytest.raises(InvalidInput, match=r"refused the credentials \(from env:API_TOKEN\)"):
        read(connector)
    with pytest.raises(InvalidInput) as caught:
        read(connector)
    assert "wrong-token-value-123" not in str(caught.value)
    assert api.log.hits["/secure"] == 2  # 401 is not retried


def test_secret_in_a_query_parameter(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", API_KEY)
    connector = HttpJsonConnector(
        api.url + "/keyed",
        auth_param="api_key",
        auth_template="{secret}",
        auth_value_ref="env:API_KEY",
        settings=Settings(),
    )
    assert ids(read(connector)) == [1, 2]
    monkeypatch.setenv("API_KEY", "not-the-key-000")
    with pytest.raises(InvalidInput) as caught:
        read(connector)
    assert "refused the credentials" in str(caught.value)
    assert "not-the-key-000" not in str(caught.value)


def test_later_batch_that_does_not_fit_names_the_column(api: Api) -> None:
    connector = HttpJsonConnector(
        api.url + "/typed", pagination="page", page_size=2, batch_records=2
    )
    with pytest.raises(InvalidInput, match=r"records 3-3: column 'id' .* int64"):
        read(connector)


def test_missing_records_path_names_the_keys(api: Api) -> None:
    with pytest.raises(InvalidInput, match=r"no 'rows' in its JSON body \(it has \['data'\]\)"):
        read(HttpJsonConnector(api.url + "/page?page=1&page_size=2", records_path="rows"))


def test_max_pages_is_an_error_not_a_truncation(api: Api) -> None:
    connector = HttpJsonConnector(api.url + "/page", pagination="page", page_size=5, max_pages=2)
    with pytest.raises(InvalidInput, match="max_pages=2"):
        read(connector)


def test_describe_hides_credentials() -> None:
    connector = HttpJsonConnector(
        "https://user:pw@api.example.com/v1/items?api_key=abc123&sort=id", pagination="cursor"
    )
    assert connector.describe() == {
        "kind": "http",
        "url": "https://api.example.com/v1/items?api_key=***&sort=id",
        "pagination": "cursor",
    }
    assert safe_url("http://h/x?page=2") == "http://h/x?page=2"


def test_bad_pagination_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"'pagination' parameter .* Got 'pages' instead"):
        HttpJsonConnector("http://h/x", pagination="pages")


def test_credentials_do_not_follow_a_next_link_to_another_site() -> None:
    connector = HttpJsonConnector(
        "https://api.example.com/items", pagination="link", auth_value_ref="env:TOKEN"
    )
    response = httpx.Response(
        200,
        headers={"Link": '<https://elsewhere.example/items?p=2>; rel="next"'},
        request=httpx.Request("GET", "https://api.example.com/items"),
    )
    with pytest.raises(InvalidInput, match="leads to another site"):
        connector._next("https://api.example.com/items", {}, response, [], 1)
