"""The home page sends everyone where they work: QA leads and viewers to the tier report,
reviewers to their queues. The sources overview lives at /sources/."""

import pytest

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_outsider_gets_403(client, outsider):
    client.force_login(outsider)
    assert client.get("/").status_code == 403
    assert client.get("/sources/").status_code == 403


def test_reviewer_is_sent_to_their_queues(client, reviewer):
    client.force_login(reviewer)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/review/"
    assert client.get("/sources/").status_code == 403


@pytest.mark.parametrize("role", ["viewer", "qa_lead"])
def test_viewer_and_qa_lead_land_on_the_tier_report(client, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/reports/"


@pytest.mark.parametrize("role", ["viewer", "qa_lead"])
def test_viewer_and_qa_lead_see_sources(client, request, role):
    from reviewapp.responses.models import Source

    Source.objects.create(name="prod-router")
    client.force_login(request.getfixturevalue(role))
    response = client.get("/sources/")
    assert response.status_code == 200
    assert b"prod-router" in response.content
    assert b'href="/reports/all/"' in response.content  # the menu's reports hub
    assert (b"Plans" in response.content) is (role == "qa_lead")


def test_anonymous_sources_is_sent_to_login(client):
    response = client.get("/sources/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_empty_state(client, viewer):
    client.force_login(viewer)
    assert b"No data yet" in client.get("/sources/").content
