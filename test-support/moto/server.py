"""moto_server, with the one operation wschat calls that moto lacks.

API Gateway v2's GetAuthorizers (GET /v2/apis/{apiId}/authorizers) lists an
API's authorizers; moto models authorizers (Create/Get/Update/DeleteAuthorizer)
but has no handler for the listing, so it answers it as an unknown action.
This adds it, answering in the API reference's shape:
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-authorizers.html
(`items`, and no `nextToken`: every authorizer fits one page here).

Run: .venv/bin/python test-support/moto/server.py -H 127.0.0.1 -p 0
"""

import json
import sys

from moto.apigatewayv2.responses import ApiGatewayV2Response


def get_authorizers(self):
    api_id = self.path.rstrip("/").split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)
    items = [authorizer.to_json() for authorizer in api.authorizers.values()]
    return 200, {}, json.dumps({"items": items})


if not hasattr(ApiGatewayV2Response, "get_authorizers"):
    ApiGatewayV2Response.get_authorizers = get_authorizers

from moto.server import main  # noqa: E402  (after the patch, which it serves)

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
