"""/api/v1/tokens/: a signed-in user lists, creates and revokes their own API tokens.

The raw key appears once, in the 201 answer to the POST; afterwards only its prefix is shown.
Any authenticated user may hold tokens: a token grants exactly what its user's roles grant.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import ApiToken
from .serializers import ErrorSerializer, ValidationErrorSerializer
from .tokens import token_create, token_list, token_revoke


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TokenCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class TokenCreatedSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The key: shown this once only.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class TokenListView(APIView):
    @extend_schema(
        operation_id="tokens_list",
        responses={200: TokenSerializer(many=True), 401: ErrorSerializer},
        summary="Your API tokens (active and revoked)",
        tags=["tokens"],
    )
    def get(self, request: Request) -> Response:
        return Response(TokenSerializer(token_list(user=request.user), many=True).data)

    @extend_schema(
        request=TokenCreateInputSerializer,
        operation_id="tokens_create",
        responses={
            201: TokenCreatedSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description="A blank or long name."),
            401: ErrorSerializer,
        },
        summary="Create a token; the key is in this answer only",
        tags=["tokens"],
    )
    def post(self, request: Request) -> Response:
        body = TokenCreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, raw_key = token_create(user=request.user, name=body.validated_data["name"])
        data = TokenSerializer(token).data
        data["key"] = raw_key
        return Response(data, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    @extend_schema(
        operation_id="tokens_revoke",
        request=None,
        responses={
            204: OpenApiResponse(description="Revoked (or already revoked)."),
            401: ErrorSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such token of yours."),
        },
        summary="Revoke one of your tokens",
        tags=["tokens"],
    )
    def delete(self, request: Request, pk: int) -> Response:
        try:
            token_revoke(user=request.user, token_id=pk)
        except ApiToken.DoesNotExist:
            return Response({"detail": "No such token."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
