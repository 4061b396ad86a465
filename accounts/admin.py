"""Admin for users: search by email, no usernames; the admin's sign-in is rate limited."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    UserChangeForm,
)

from accounts.forms import ThrottledAdminAuthenticationForm
from accounts.models import User
from accounts.services import user_credentials_revoke

# /admin/login/ counts failures in the same budget as every other sign-in.
admin.site.login_form = ThrottledAdminAuthenticationForm


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class PasswordChangeAdminForm(AdminPasswordChangeForm):
    """A password set by staff signs the user out of every device, as a reset does."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            user_credentials_revoke(user=user)
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreationAdminForm
    form = UserChangeAdminForm
    change_password_form = PasswordChangeAdminForm
    ordering = ["-date_joined"]
    list_display = ["email", "is_staff", "is_active", "date_joined"]
    search_fields = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Preferences", {"fields": ["email_notifications"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups",
                                    "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]})]
