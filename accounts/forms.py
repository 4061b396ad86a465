"""Browser forms for sign-up, sign-in (ours and the admin's) and password resets.

Each goes through the same services, and so the same rate limits, as the API; a refusal by a
limit is shown on the form and the page answers 429 (common.ratelimit).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.urls import reverse

from accounts.services import password_reset_allow, user_authenticate, user_signup
from common.email import send_branded_email
from common.exceptions import ApplicationError
from common.links import public_url
from common.ratelimit import client_ip, page_refused


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(
        attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def save(self):
        try:
            return user_signup(email=self.cleaned_data["email"],
                               password=self.cleaned_data["password"],
                               ip=client_ip(self.request))
        except ApplicationError as error:
            if error.status_code == 429:
                page_refused(self.request, error)
                self.add_error(None, error.message)
            for field, messages in error.extra.items():
                if isinstance(messages, list):
                    for message in messages:
                        self.add_error(field if field in self.fields else None, message)
            return None


class ThrottledLoginMixin:
    """Sign-in through user_authenticate: the failure limits of the token API."""

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        try:
            self.user_cache = user_authenticate(request=self.request, email=email,
                                                password=password, ip=client_ip(self.request))
        except ApplicationError as error:
            if error.status_code == 429:
                page_refused(self.request, error)
            raise forms.ValidationError(error.message, code="invalid_login") from None
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    """Django's login form with the limits of the token API; the username is an email (phones
    show their email keyboard, password managers fill it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autocomplete": "email", "autofocus": True, "autocapitalize": "none",
                   "maxlength": self.fields["username"].max_length})


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's login form (staff only) with the same limits."""


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's reset form, rate limited, whose link points at PUBLIC_BASE_URL, never at the
    request's Host header."""

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_email(self):
        email = self.cleaned_data["email"]
        try:
            password_reset_allow(email=email, ip=client_ip(self.request))
        except ApplicationError as error:
            page_refused(self.request, error)
            raise forms.ValidationError(error.message, code="rate_limited") from None
        return email

    def save(self, **kwargs):
        public = urlsplit(settings.PUBLIC_BASE_URL)  # nothing reads the request's Host header
        kwargs.update(domain_override=public.netloc, use_https=public.scheme == "https")
        return super().save(**kwargs)

    def send_mail(self, subject_template_name, email_template_name, context, from_email,
                  to_email, html_email_template_name=None):
        """A branded Surge email (text and HTML) whose link is on PUBLIC_BASE_URL."""
        link = public_url(reverse("password_reset_confirm",
                                  kwargs={"uidb64": context["uid"], "token": context["token"]}))
        send_branded_email(to=to_email, subject="Reset your password",
                           template="emails/password_reset",
                           context={"email": to_email, "action_url": link,
                                    "action_label": "Choose a new password"})
