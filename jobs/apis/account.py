"""/me/: who am I (accounts' view), and deleting the account with everything in it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.apis import MeApi
from common.fields import StrictCharField
from common.ratelimit import client_ip
from common.schema import error_responses
from jobs.services.deletion import account_delete


class AccountApi(MeApi):
    """GET is accounts' MeApi; DELETE lives here because it deletes the user's jobs, selfies
    and videos too, which accounts (below jobs) cannot see."""

    class DeleteInputSerializer(serializers.Serializer):
        password = StrictCharField(max_length=4096, trim_whitespace=False,
                                   help_text="The account's current password.")

    @extend_schema(
        operation_id="me_delete", request=DeleteInputSerializer,
        description="Delete the account: running jobs are canceled; every selfie, video, "
                    "notification and token is deleted; every device is signed out and every "
                    "socket closes (code 4401); a confirmation email is sent.",
        responses={204: None, **error_responses(
            401, _400="The password is missing or incorrect.",
            _429="Too many wrong passwords (see Retry-After).")})
    def delete(self, request):
        data = self.DeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account_delete(user=request.user, password=data.validated_data["password"],
                       ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
