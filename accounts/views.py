"""Browser pages for accounts: sign up, log in, password reset (rate limited), and Django's
own views, whose password change and reset also sign out every other device."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render

from accounts.forms import PasswordResetForm, SignupForm, ThrottledAuthenticationForm
from accounts.services import user_credentials_revoke


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


class PasswordChangeView(auth_views.PasswordChangeView):
    """Other sessions, API tokens and sockets end; this browser stays signed in."""

    def form_valid(self, form):
        session_key = self.request.session.session_key  # before Django cycles it
        response = super().form_valid(form)
        user_credentials_revoke(user=form.user, keep_session_key=session_key)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Whoever knew the old password is signed out everywhere."""

    def form_valid(self, form):
        response = super().form_valid(form)
        user_credentials_revoke(user=form.user)
        return response
