"""/account/tokens/: create and revoke your API tokens in the browser.

A new key is rendered in the answer to the POST that created it and nowhere else (not stored,
not put in the session, not in a redirect URL): reloading the page cannot show it again.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .models import ApiToken
from .tokens import token_create, token_list, token_revoke


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'nightly push'.")


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    created: tuple[ApiToken, str] | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            created = token_create(user=request.user, name=form.cleaned_data["name"])
            form = TokenForm()
            status = 200
        else:
            status = 400
    context = {
        "form": form,
        "tokens": token_list(user=request.user),
        "created_token": created[0] if created else None,
        "created_key": created[1] if created else None,
    }
    response = render(request, "accounts/tokens.html", context, status=status)
    # The key is in this body: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = token_revoke(user=request.user, token_id=token_id)
    except ApiToken.DoesNotExist:
        return HttpResponse("No such token.", status=404)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("account:tokens")
