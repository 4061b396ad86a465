"""URLs of the accounts pages and API."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import apis, views

page_urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
]

api_urlpatterns = [
    path("auth/signup/", apis.SignupApi.as_view(), name="api-signup"),
    path("auth/token/", apis.TokenApi.as_view(), name="api-token"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="api-logout"),
    # me/ is routed by jobs/urls.py: its DELETE deletes the user's jobs and selfies too.
]
