"""A URL under /api/ that no route matches is a JSON 404 like the API's own, not the HTML page:
a negative id (which `<int:>` refuses), a plan name that is not a slug, an unknown path."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/queues/-1/",
        "/api/v1/reviews/-5/undo/",
        "/api/v1/plans/not%20a%20slug/",
        "/api/v1/no-such-thing/",
    ],
)
def test_an_unrouted_api_url_is_a_json_404(token_client, url):
    answer = token_client.get(url)
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "There is no such API URL."}


def test_a_routed_api_404_keeps_its_own_message(token_client):
    answer = token_client.get("/api/v1/queues/999999/")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "There is no queue 999999."}


def test_the_pages_keep_the_html_404(client, qa_lead):
    client.force_login(qa_lead)
    answer = client.get("/review/no-such-page/")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")
