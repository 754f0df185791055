"""403, 404 and 500 pages for people: the menu, what happened in a sentence, and a way back."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_403_keeps_the_menu_and_offers_a_way_back(client, viewer):
    client.force_login(viewer)
    response = client.get("/review/plans/")  # QA leads only
    assert response.status_code == 403
    html = response.content.decode()
    assert '<nav aria-label="Main">' in html and 'href="/reports/all/"' in html
    assert "This page is not for your role" in html
    assert 'href="/">go to your start page</a>' in html


def test_403_for_someone_without_a_role_names_no_reports(client, outsider):
    client.force_login(outsider)
    html = client.get("/reports/").content.decode()
    assert "Your role does not allow reports." in html
    assert 'href="/reports/all/"' not in html


@override_settings(DEBUG=False)
def test_404_says_so_with_the_menu(client, qa_lead):
    client.force_login(qa_lead)
    response = client.get("/review/plans/no-such-plan/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is no such page" in html and "<code>/review/plans/no-such-plan/</code>" in html
    assert '<nav aria-label="Main">' in html
    # The API keeps its JSON 404.
    assert client.get("/api/v1/nothing-here/").json() == {"detail": "There is no such API URL."}


def test_500_page_renders_without_a_request():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html and 'href="/"' in html
