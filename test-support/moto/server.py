"""moto_server, with the one operation wschat calls that moto lacks.

API Gateway v2's GetAuthorizers (GET /v2/apis/{apiId}/authorizers) lists an
API's authorizers; moto models authorizers (Create/Get/Update/DeleteAuthorizer)
but has no handler for the listing, so it answers it as an unknown action.
This adds it, answering in the API reference's shape:
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-authorizers.html
(`items`, and no `nextToken`: every authorizer fits one page here).

API Gateway v2 custom domains (wschat's `domain:`), where moto falls short
of https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/domainnames.html:
- CreateDomainName keeps the configuration as sent; AWS adds the regional
  target (`apiGatewayDomainName`, `d-….execute-api.{region}.amazonaws.com`),
  its `hostedZoneId`, `domainNameStatus` and the default `ipAddressType`
  (ipv4). This adds them.
- DeleteDomainName of a domain with an API mapping fails in moto (it deletes
  from the dict it iterates); this deletes the mappings first.
- UpdateDomainName (PATCH /v2/domainnames/{name}) and UpdateApiMapping
  (PATCH /v2/domainnames/{name}/apimappings/{id}) are missing; these add them.

Run: .venv/bin/python test-support/moto/server.py -H 127.0.0.1 -p 0
"""

import hashlib
import json
import os
import sys

# moto serves every service's Flask app with flask-cors, whose after-request
# hook matched each response's path against its patterns: 4% of moto's time
# (py-spy, the deploy tests). Nothing in a browser calls this server: its
# clients are wschat, the realism proxies, the handlers and the tests. moto
# reads the setting when it is imported (moto/settings.py).
os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")

from moto.apigatewayv2.responses import ApiGatewayV2Response


def get_authorizers(self):
    api_id = self.path.rstrip("/").split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)
    items = [authorizer.to_json() for authorizer in api.authorizers.values()]
    return 200, {}, json.dumps({"items": items})


if not hasattr(ApiGatewayV2Response, "get_authorizers"):
    ApiGatewayV2Response.get_authorizers = get_authorizers

from moto.apigatewayv2.models import ApiGatewayV2Backend  # noqa: E402

# API Gateway's regional hosted zones (the Route 53 alias target of a
# REGIONAL domain), from the "API Gateway endpoints and quotas" table.
REGIONAL_ZONES = {"us-east-1": "Z1UJRXOUMOOFQ8", "us-west-2": "Z2OJLYMUO9EFXC", "eu-west-1": "ZLY8HYME6SFDD"}


def complete_configurations(backend, domain):
    for config in domain.domain_name_configurations:
        if "apiGatewayDomainName" not in config:
            token = hashlib.sha256(domain.domain_name.encode()).hexdigest()[:10]
            config["apiGatewayDomainName"] = f"d-{token}.execute-api.{backend.region_name}.amazonaws.com"
        config.setdefault("hostedZoneId", REGIONAL_ZONES.get(backend.region_name, "Z1UJRXOUMOOFQ8"))
        config.setdefault("domainNameStatus", "AVAILABLE")
        config.setdefault("endpointType", "REGIONAL")
        config.setdefault("securityPolicy", "TLS_1_2")
        # A domain made without an IP address type is IPv4 only ("IP address
        # types for custom domain names for WebSocket APIs": "The default IP
        # address type for API Gateway custom domain names is IPv4").
        config.setdefault("ipAddressType", "ipv4")


original_create_domain_name = ApiGatewayV2Backend.create_domain_name


def create_domain_name(self, *args, **kwargs):
    domain = original_create_domain_name(self, *args, **kwargs)
    complete_configurations(self, domain)
    return domain


def delete_domain_name(self, domain_name):
    domain = self.get_domain_name(domain_name)
    for mapping_id in [m for m, mapping in self.api_mappings.items() if mapping.domain_name == domain_name]:
        del self.api_mappings[mapping_id]
    del self.domain_names[domain.domain_name]


def update_domain_name(self):
    domain = self.apigatewayv2_backend.get_domain_name(self.path.split("/")[-1])
    params = json.loads(self.body or "{}")
    if "domainNameConfigurations" in params:
        domain.domain_name_configurations = params["domainNameConfigurations"]
        complete_configurations(self.apigatewayv2_backend, domain)
    return 200, {}, json.dumps(domain.to_json())


def update_api_mapping(self):
    parts = self.path.split("/")
    mapping = self.apigatewayv2_backend.get_api_mapping(api_mapping_id=parts[-1], domain_name=parts[-3])
    params = json.loads(self.body or "{}")
    for field, attribute in (("apiId", "api_id"), ("stage", "stage"), ("apiMappingKey", "api_mapping_key")):
        if field in params:
            setattr(mapping, attribute, params[field])
    return 200, {}, json.dumps(mapping.to_json())


ApiGatewayV2Backend.create_domain_name = create_domain_name
ApiGatewayV2Backend.delete_domain_name = delete_domain_name
if not hasattr(ApiGatewayV2Response, "update_domain_name"):
    ApiGatewayV2Response.update_domain_name = update_domain_name
if not hasattr(ApiGatewayV2Response, "update_api_mapping"):
    ApiGatewayV2Response.update_api_mapping = update_api_mapping

# ACM's ListCertificates summarizes each certificate with its names in
# `SubjectAlternativeNameSummaries` (at most 100) and says whether there are
# more in `HasAdditionalSubjectAlternativeNames` (ACM API Reference,
# CertificateSummary); moto answers with DescribeCertificate's fields instead
# (`SubjectAlternativeNames`), which no summary has. wschat reads the summaries
# to pick the few certificates it describes; this answers as AWS does.
from moto.acm.responses import AWSCertificateManagerResponse  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402


def list_certificates(self):
    summaries = []
    statuses = self._get_param("CertificateStatuses")
    includes = self._get_param("Includes")
    for bundle in self.acm_backend.list_certificates(statuses, includes):
        summary = bundle.describe()["Certificate"]
        summary["InUse"] = bool(summary.pop("InUseBy", []))
        summary["Exported"] = bundle.cert_options["Export"] == "ENABLED"
        names = summary.pop("SubjectAlternativeNames", [])
        summary["SubjectAlternativeNameSummaries"] = names[:100]
        summary["HasAdditionalSubjectAlternativeNames"] = len(names) > 100
        for detail in ("DomainValidationOptions", "Options", "Serial", "Subject", "Issuer", "SignatureAlgorithm"):
            summary.pop(detail, None)
        summaries.append(summary)
    return ActionResult(result={"CertificateSummaryList": summaries})


AWSCertificateManagerResponse.list_certificates = list_certificates


# CloudWatch's GetMetricData reads a MetricStat's metric by its namespace, name
# and dimensions (CloudWatch API Reference, Metric: "A metric is identified by
# its namespace, name and dimensions"). moto drops the namespace once a query
# names dimensions (moto/cloudwatch/models.py, `get_metric_data` filters the
# period's data by dimensions and name only), so two stacks whose metrics share
# a name and a `Function` dimension read each other's data. Each query is
# answered from its own namespace's data alone; the scope is per thread, as
# waitress serves requests on several.
import threading  # noqa: E402

from moto.cloudwatch.models import CloudWatchBackend  # noqa: E402

_namespace = threading.local()
_all_metrics = CloudWatchBackend.get_all_metrics
_get_metric_data = CloudWatchBackend.get_metric_data


def get_all_metrics(self):
    metrics = _all_metrics(self)
    namespace = getattr(_namespace, "value", None)
    return metrics if namespace is None else [m for m in metrics if m.namespace == namespace]


def get_metric_data(self, queries, start_time, end_time, *args, **kwargs):
    if not all("MetricStat" in q for q in queries):
        return _get_metric_data(self, queries, start_time, end_time, *args, **kwargs)
    results = []
    try:
        for query in queries:
            _namespace.value = query["MetricStat"]["Metric"]["Namespace"]
            results += _get_metric_data(self, [query], start_time, end_time, *args, **kwargs)
    finally:
        _namespace.value = None
    return results


CloudWatchBackend.get_all_metrics = get_all_metrics
CloudWatchBackend.get_metric_data = get_metric_data

# Two answers moto's server works out again on every request, though they never
# change while it runs (found with yappi, profiling the server under the deploy
# tests): the list of its service modules, read from the file system
# (`DomainDispatcherApplication.get_backend_for_host` calls
# `backends.list_of_moto_modules` for every request), and a response class's
# methods, listed with `inspect.getmembers` (`BaseResponse.call_action` calls
# `method_names_from_class`). Both are kept after the first time.
import functools  # noqa: E402

import moto.backends  # noqa: E402
import moto.core.responses  # noqa: E402

MOTO_MODULES = frozenset(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: MOTO_MODULES
moto.core.responses.method_names_from_class = functools.cache(moto.core.responses.method_names_from_class)

# moto's response serializer works out, for every field of every object it
# writes, which attribute holds the field's value: it asks six alias rules
# (`AttributePicker.get_possible_keys`, moto/core/serialize.py), each made
# anew, and puts each name through botocore's `xform_name`. The answer depends
# only on the picker, the object's class, the field's shape (and its parent)
# and the field's name, so it is kept after the first time. That was most of
# the serializer's time, and the serializer half of moto's (py-spy, the deploy
# tests): a ListDistributions of a dozen distributions took 33 ms.
import moto.core.serialize as serialize  # noqa: E402

POSSIBLE_KEYS = {}
uncached_possible_keys = serialize.AttributePicker.get_possible_keys
xformed_possible_keys = serialize.XFormedAttributePicker.get_possible_keys


def cached_possible_keys(uncached):
    def get_possible_keys(self, context):
        shape = context.shape
        parent = getattr(shape, "parent", None)
        key = (uncached, tuple(self.alias_providers), type(context.obj), id(shape), id(parent), context.key)
        found = POSSIBLE_KEYS.get(key)
        if found is None:
            # The shapes are kept with the answer, so that their ids are not reused.
            found = (shape, parent, tuple(uncached(self, context)))
            POSSIBLE_KEYS[key] = found
        return found[2]

    return get_possible_keys


serialize.AttributePicker.get_possible_keys = cached_possible_keys(uncached_possible_keys)
serialize.XFormedAttributePicker.get_possible_keys = cached_possible_keys(xformed_possible_keys)

# DynamoDB's items go through the same serializer: each attribute value is a
# structure of ten members (S, N, B, SS, NS, BS, M, L, NULL, BOOL), and every
# member is looked up through the value picker, present or not. A Scan page
# of 500 connection rows took about 270 ms of moto's CPU, most of it there
# (cProfile: 240,000 lookups for 8 pages). A scalar value (a string, a number
# or a boolean, already `{type: value}` by `dynamo_to_dict`) is written as
# the generic path would write it; sets, lists, maps and binary take that path.
SCALAR_TYPES = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
generic_json_structure = serialize.BaseJSONSerializer._serialize_type_structure


def json_structure(self, serialized, value, shape, key):
    if key and shape.name == "AttributeValue" and isinstance(value, dict) and len(value) == 1:
        ((kind, scalar),) = value.items()
        if isinstance(scalar, SCALAR_TYPES.get(kind, ())):
            serialized[self.get_serialized_name(shape, key)] = {kind: scalar}
            return
    generic_json_structure(self, serialized, value, shape, key)


serialize.BaseJSONSerializer._serialize_type_structure = json_structure
generic_json_map = serialize.BaseJSONSerializer._serialize_type_map


def scalar(value):
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        return isinstance(inner, SCALAR_TYPES.get(kind, ()))
    return False


def json_map(self, serialized, value, shape, key):
    # An item (a map of attribute values) all of whose values are scalars is
    # written whole: the map's own walk costs as much as the values'.
    if shape.value.name == "AttributeValue" and isinstance(value, dict) and all(map(scalar, value.values())):
        serialized[self.get_serialized_name(shape, key)] = {name: dict(v) for name, v in value.items()}
        return
    generic_json_map(self, serialized, value, shape, key)


serialize.BaseJSONSerializer._serialize_type_map = json_map

# moto makes a new 2048-bit RSA key for every certificate ACM's RequestCertificate
# issues (moto/acm/models.py, `CertBundle.generate_cert`): 50 to 200 ms of CPU
# each, a twentieth of moto's time in the domain tests. The certificates are
# self-signed stand-ins nobody verifies, so one key per size serves them all.
import cryptography.hazmat.primitives.asymmetric.rsa as rsa  # noqa: E402

rsa.generate_private_key = functools.cache(rsa.generate_private_key)

# Each certificate's bundle then loads its key back from PEM to validate it
# (`CertBundle.validate_pk`), and loading checks the RSA key: 45 to 90 ms a
# certificate. With one key, its PEM is always the same bytes: loaded once.
import moto.acm.models  # noqa: E402

moto.acm.models.serialization.load_pem_private_key = functools.cache(
    moto.acm.models.serialization.load_pem_private_key
)

# moto's `moto_server` serves with werkzeug's development server, which closes
# the connection after every response (werkzeug/serving.py: "Always close the
# connection. This disables HTTP/1.1 keep-alive"), starts a thread for each
# one, and logs every request to stderr. A `wschat` run makes about 100 calls
# and the suite about 100,000, so each paid a TCP handshake and a thread on
# both sides. waitress serves the same WSGI application with keep-alive and a
# pool of threads: about 30% less of moto's CPU a request (measured
# side by side in docs/dev/testing.md). Threads are many because an SQS
# ReceiveMessage with WaitTimeSeconds holds one while it waits, as on AWS;
# connections are many because every client (the realism proxies, the `wschat`
# processes, the tests' own SDK clients) keeps its idle ones open, and waitress
# stops accepting past its limit (100 by default).
import argparse  # noqa: E402

import waitress  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402


# `WSCHAT_MOTO_SWITCH_INTERVAL` (seconds) sets how long a thread may run
# Python before another thread waiting for the interpreter lock takes it
# (`sys.setswitchinterval`; 5 ms by default). DynamoDB serves the segments of
# a parallel scan side by side, each page in about a page's time; one moto
# process serves them on one lock, taking turns every 5 ms, so eight pages
# asked for at once all come back at the end of the eighth. With a turn
# longer than a page (50 ms), moto serves them one after another: the first
# page comes back after one page's time, as on AWS. The real-process fan-out
# benchmark sets it; the tests keep the default, which favours their short
# calls beside long ones.
def main():
    switch = os.environ.get("WSCHAT_MOTO_SWITCH_INTERVAL")
    if switch:
        sys.setswitchinterval(float(switch))
    parser = argparse.ArgumentParser(prog="moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    # As moto's own main: the port moto writes into the URLs it returns.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    server = waitress.create_server(
        app, host=args.host, port=args.port, threads=64, connection_limit=10_000, asyncore_use_poll=True
    )
    # The line test-support reads the port from, as werkzeug prints it.
    print(f" * Running on http://{args.host}:{server.effective_port}", file=sys.stderr, flush=True)
    server.run()


if __name__ == "__main__":
    main()
