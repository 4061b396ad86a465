"""Browser forms for sign-up and sign-in."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.services import client_ip, user_authenticate, user_create
from common.exceptions import ApplicationError


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(
        attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}))

    def save(self):
        try:
            return user_create(email=self.cleaned_data["email"],
                               password=self.cleaned_data["password"])
        except ApplicationError as error:
            for field, messages in error.extra.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return None


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form with the same failure throttle as the token API."""

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        try:
            self.user_cache = user_authenticate(request=self.request, email=email,
                                                password=password, ip=client_ip(self.request))
        except ApplicationError as error:
            raise forms.ValidationError(error.message, code="invalid_login") from None
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
