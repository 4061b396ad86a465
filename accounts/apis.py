"""The accounts API for mobile clients: sign up, get a token, who am I, log out."""

from __future__ import annotations

from django.contrib.auth import logout
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import token_issue, token_revoke, user_authenticate, user_signup
from common.fields import StrictCharField
from common.ratelimit import client_ip
from common.schema import error_responses


class CredentialsSerializer(serializers.Serializer):
    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class SignupApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class OutputSerializer(UserOutputSerializer):
        token = serializers.CharField()

    @extend_schema(operation_id="auth_signup", request=CredentialsSerializer,
                   responses={201: OutputSerializer, **error_responses(
                       _400="Invalid email, email taken, or weak password.",
                       _429="Too many sign-ups from this address (see Retry-After).")})
    def post(self, request):
        data = CredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_signup(ip=client_ip(request), **data.validated_data)
        body = {"id": user.id, "email": user.email, "token": token_issue(user=user)}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(operation_id="auth_token", request=CredentialsSerializer,
                   responses={200: OutputSerializer, **error_responses(
                       _400="Wrong email or password.",
                       _429="Too many failed attempts for this email, or from this address "
                            "(see Retry-After).")})
    def post(self, request):
        data = CredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_authenticate(request=request, ip=client_ip(request), **data.validated_data)
        return Response({"token": token_issue(user=user)})


class LogoutApi(APIView):
    @extend_schema(operation_id="auth_logout", request=None,
                   responses={204: None, **error_responses(401)})
    def post(self, request):
        """Revoke the token this request carries (this device only; other devices keep theirs)
        and close its sockets; with a browser session, end that session."""
        if isinstance(request.auth, AuthToken):
            token_revoke(token_id=request.auth.pk, user_id=request.user.pk)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(operation_id="me", description="The signed-in user.",
                   responses={200: UserOutputSerializer, **error_responses(401)})
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)
