use super::*;

/// The shipped stack.yaml, with its crates, schemas and page, as an `Env`.
pub(crate) fn shipped() -> Env {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let stack = wschat_stack::load(&root.join("stack.yaml"), "dev").unwrap();
    let account = Account { id: "123456789012".into(), partition: "aws".into() };
    Env::new(stack, "us-east-1".into(), account, BTreeMap::new()).unwrap()
}

fn all_known() -> Ids {
    let mut ids = Ids::default();
    ids.record(&Address::new(Kind::Api, "api"), "a1");
    ids.record(&Address::new(Kind::Queue, &shipped().stack.queue.name), "https://q");
    ids.record(&Address::new(Kind::Integration, "chat"), "i1");
    ids.record(&Address::new(Kind::MockIntegration, "ping"), "m1");
    ids.record(&Address::new(Kind::Route, "ping"), "r1");
    ids.record(&Address::new(Kind::OriginAccessControl, "site"), "E1");
    ids.record(&Address::new(Kind::Distribution, "site"), "D1");
    ids
}

#[test]
fn every_reference_is_to_a_kind_the_table_lists_first() {
    let mut known = all_known();
    known.record(&Address::new(Kind::Authorizer, "jwt"), "au1");
    for (env, ids) in [(shipped(), Ids::default()), (shipped(), all_known()), (shipped_with_sign_in(), known)] {
        for want in desired(&env, &ids) {
            for reference in references(&want.spec) {
                let kind = want.address.kind;
                assert!(
                    kind.after().contains(&reference.to.kind),
                    "{} references {}, but the table does not list {} before {kind}",
                    want.address,
                    reference.to,
                    reference.to.kind
                );
                assert!(
                    desired(&env, &ids).iter().any(|d| d.address == reference.to),
                    "{} references {}, which the stack does not have",
                    want.address,
                    reference.to
                );
            }
        }
    }
}

/// The shipped stack with `domain:` (chat.example.com, ws.chat.example.com),
/// in the hosted zone `zone` (id `Z1`) if given.
pub(crate) fn shipped_with_domain(zone: Option<&str>) -> Env {
    let mut env = shipped();
    env.stack.domain = Some(wschat_stack::Domain {
        name: "chat.example.com".into(),
        websocket: Some("ws.chat.example.com".into()),
        zone: zone.map(str::to_string),
    });
    env.zone = zone.map(|name| Zone { id: "Z1".into(), name: name.into() });
    env
}

/// Every id and read value a stack with a domain needs, known.
fn domain_known(env: &Env) -> Ids {
    let mut ids = all_known();
    ids.record(&Address::new(Kind::Authorizer, "jwt"), "au1");
    for w in certificate::wanted(env) {
        ids.record(&Address::new(Kind::Certificate, &w.name), "arn:aws:acm:us-east-1:1:certificate/c1");
    }
    let ws = env.stack.domain.as_ref().unwrap().websocket_name().to_string();
    ids.record(&Address::new(Kind::ApiDomain, &ws), &ws);
    ids
}

#[test]
fn a_domain_adds_its_kinds_in_order_and_keeps_the_management_endpoint_on_execute_api() {
    let env = shipped_with_domain(Some("example.com"));
    let ids = domain_known(&env);
    let wants = desired(&env, &ids);
    let kinds = |kind: Kind| wants.iter().filter(|w| w.address.kind == kind).count();
    assert_eq!(
        [Kind::Certificate, Kind::ValidationRecord, Kind::ApiDomain, Kind::ApiMapping, Kind::DnsRecord].map(kinds),
        [1, 1, 1, 1, 4]
    );
    for want in &wants {
        for reference in references(&want.spec) {
            assert!(want.address.kind.after().contains(&reference.to.kind), "{} -> {}", want.address, reference.to);
            assert!(wants.iter().any(|d| d.address == reference.to), "{} -> {}", want.address, reference.to);
        }
    }
    let spec = |kind: Kind, name: &str| {
        wants.iter().find(|w| w.address == Address::new(kind, name)).map(|w| w.spec.clone()).unwrap()
    };
    // The page and the printed URL are on the custom name...
    let Spec::Site(site) = spec(Kind::Site, "site") else { panic!("site") };
    let files = site.files.known().unwrap();
    let site::Source::Generated(text) = &files["config.json"].source else { panic!("config.json is generated") };
    let config: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(config["websocketUrl"], "wss://ws.chat.example.com");
    // ...and notify posts to @connections on the execute-api host, which
    // the custom domain does not serve.
    let Spec::Function(notify) = spec(Kind::Function, "notify") else { panic!("notify") };
    let endpoint = notify.assigned["WSCHAT_MANAGEMENT_ENDPOINT"].known().unwrap().clone();
    assert_eq!(endpoint, "https://a1.execute-api.us-east-1.amazonaws.com/dev");
    let Spec::Distribution(d) = spec(Kind::Distribution, "site") else { panic!("distribution") };
    assert_eq!(d.aliases, ["chat.example.com"]);
    assert!(d.certificate.is_some() && d.validation.is_some());
}

/// The shipped stack with `auth: jwt`.
pub(crate) fn shipped_with_sign_in() -> Env {
    let mut env = shipped();
    env.stack.api.auth = wschat_stack::Auth::Jwt(wschat_stack::Jwt {
        issuer: "https://issuer.example".into(),
        audience: vec!["client".into()],
        name_claim: None,
    });
    env.stack.functions.insert(wschat_stack::AUTHORIZER_FUNCTION.into(), wschat_stack::Function::authorizer());
    env
}

#[test]
fn sign_in_adds_the_authorizer_and_keeps_its_function_to_itself() {
    let env = shipped_with_sign_in();
    let mut ids = all_known();
    ids.record(&Address::new(Kind::Authorizer, "jwt"), "au1");
    let wants = desired(&env, &ids);
    let spec =
        |kind: Kind, name: &str| wants.iter().find(|w| w.address == Address::new(kind, name)).map(|w| w.spec.clone());
    let Some(Spec::Authorizer(authorizer)) = spec(Kind::Authorizer, "jwt") else { panic!("no authorizer") };
    assert_eq!(authorizer.identity_source, ["route.request.querystring.token"]);
    assert_eq!(
        authorizer.uri,
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:wschat-dev-authorizer/invocations"
    );
    let Some(Spec::Route(connect)) = spec(Kind::Route, "$connect") else { panic!("no $connect") };
    assert_eq!(
        (connect.authorization.as_str(), connect.authorizer.unwrap().known().map(String::as_str)),
        ("CUSTOM", Some("au1"))
    );
    // API Gateway calls the authorizer and the chat function for $connect:
    // the route comes after both may be invoked, not in the same wave.
    let permissions = |route: &super::route::Spec| -> Vec<String> {
        super::route::Route::references(route)
            .into_iter()
            .filter(|r| r.to.kind == Kind::Permission)
            .map(|r| r.to.name)
            .collect()
    };
    let Some(Spec::Route(connect)) = spec(Kind::Route, "$connect") else { panic!("no $connect") };
    assert_eq!(permissions(&connect), ["chat", "authorizer"]);
    let Some(Spec::Route(send)) = spec(Kind::Route, "send") else { panic!("no send") };
    assert_eq!(permissions(&send), ["chat"]);
    let Some(Spec::Route(ping)) = spec(Kind::Route, "ping") else { panic!("no ping") };
    assert!(permissions(&ping).is_empty(), "a mock route invokes nothing");
    assert_eq!((send.authorization.as_str(), send.authorizer), ("NONE", None));
    // API Gateway may invoke the function only as this API's authorizer.
    let Some(Spec::Permission(permission)) = spec(Kind::Permission, "authorizer") else { panic!("no permission") };
    assert_eq!(permission.source_arn.known().unwrap(), "arn:aws:execute-api:us-east-1:123456789012:a1/authorizers/au1");
    // It may read bans and write its log, and nothing else.
    let Some(Spec::RolePolicy(policy)) = spec(Kind::RolePolicy, "authorizer") else { panic!("no policy") };
    let statements = policy.document.known().unwrap()["Statement"].as_array().unwrap().clone();
    assert_eq!(statements.len(), 2, "{statements:?}");
    assert_eq!(statements[0]["Action"], serde_json::json!(["dynamodb:GetItem"]));
    assert_eq!(statements[1]["Action"], serde_json::json!(["logs:CreateLogStream", "logs:PutLogEvents"]));
    // It knows the issuer, and of the chat only where bans are.
    let Some(Spec::Function(function)) = spec(Kind::Function, "authorizer") else { panic!("no function") };
    let names: Vec<&str> = function.environment.keys().map(String::as_str).collect();
    assert_eq!(names, ["WSCHAT_JWT_AUDIENCE", "WSCHAT_JWT_ISSUER", "WSCHAT_PRESENCE_TABLE"]);
    assert!(function.assigned.is_empty());
    assert!(spec(Kind::Integration, "authorizer").is_none(), "it serves no route");
    assert!(spec(Kind::LogGroup, "authorizer").is_some());
}

#[test]
fn the_table_lists_after_a_kind_only_the_kinds_its_specs_reference() {
    let mut ids = all_known();
    ids.record(&Address::new(Kind::Authorizer, "jwt"), "au1");
    let mut wants = desired(&shipped(), &ids);
    wants.extend(desired(&shipped_with_sign_in(), &ids));
    let with_domain = shipped_with_domain(Some("example.com"));
    wants.extend(desired(&with_domain, &domain_known(&with_domain)));
    let mut with_email = shipped();
    with_email.stack.observability.alarm_email = Some("ops@example.com".into());
    wants.extend(desired(&with_email, &ids));
    for kind in Kind::ALL {
        for after in kind.after() {
            let used = wants
                .iter()
                .filter(|w| w.address.kind == *kind)
                .any(|w| references(&w.spec).iter().any(|r| r.to.kind == *after));
            assert!(
                used,
                "the table lists {after} before {kind}, but no {kind} of the shipped stack (with or without sign-in) references one"
            );
        }
    }
}

#[test]
fn a_mock_route_gets_its_mock_integration_integration_response_and_route_response() {
    let env = shipped();
    let wants = desired(&env, &all_known());
    let spec =
        |kind: Kind, name: &str| wants.iter().find(|w| w.address == Address::new(kind, name)).map(|w| w.spec.clone());
    let Some(Spec::Route(ping)) = spec(Kind::Route, "ping") else { panic!("no route ping") };
    let refs: Vec<Address> = references(&Spec::Route(ping.clone())).into_iter().map(|r| r.to).collect();
    assert!(refs.contains(&Address::new(Kind::MockIntegration, "ping")), "{refs:?}");
    assert!(refs.contains(&Address::new(Kind::IntegrationResponse, "ping")), "{refs:?}");
    assert_eq!(ping.target.known().map(String::as_str), Some("integrations/m1"));
    assert_eq!(ping.response_selection.as_deref(), Some("$default"));
    assert_eq!((ping.model, ping.authorization.as_str()), (None, "NONE"));
    // A function's route is one-way, as before.
    let Some(Spec::Route(send)) = spec(Kind::Route, "send") else { panic!("no route send") };
    assert_eq!((send.target.known().map(String::as_str), send.response_selection), (Some("integrations/i1"), None));

    let Some(Spec::IntegrationResponse(response)) = spec(Kind::IntegrationResponse, "ping") else {
        panic!("no integration response")
    };
    assert_eq!(
        (response.body.as_str(), response.integration_id.known().map(String::as_str)),
        (r#"{"type":"pong"}"#, Some("m1"))
    );
    let Some(Spec::RouteResponse(route_response)) = spec(Kind::RouteResponse, "ping") else {
        panic!("no route response")
    };
    assert_eq!(route_response.route_id.known().map(String::as_str), Some("r1"));
    assert!(spec(Kind::MockIntegration, "ping").is_some());
    // One of each, for the one mock route; no function serves it.
    let count = |kind: Kind| wants.iter().filter(|w| w.address.kind == kind).count();
    assert_eq!(
        [Kind::MockIntegration, Kind::IntegrationResponse, Kind::RouteResponse, Kind::Integration].map(count),
        [1, 1, 1, 1]
    );
}

#[test]
fn values_aws_assigns_are_known_after_apply_until_then() {
    let env = shipped();
    let unknown = desired(&env, &Ids::default());
    let route = unknown.iter().find(|d| d.address == Address::new(Kind::Route, "send")).unwrap();
    let Spec::Route(spec) = &route.spec else { panic!("a route") };
    assert_eq!(spec.target.shown(), KNOWN_AFTER_APPLY);
    assert_eq!(spec.target.get().unwrap_err(), Unresolved { needs: Address::new(Kind::Integration, "chat") });
    let pending: Vec<&Reference> = Vec::new();
    assert!(references(&route.spec).iter().any(|r| !r.known), "{pending:?}");
    // Everything known: nothing is left to resolve, and a change renders alone.
    let known = all_known();
    for want in desired(&env, &known) {
        assert!(references(&want.spec).iter().all(|r| r.known), "{}", want.address);
        assert_eq!(desired_one(&env, &known, &want.address), Some(want.spec));
    }
}

#[test]
fn waves_put_dependencies_first() {
    for kind in Kind::ALL {
        for after in kind.after() {
            assert!(after.wave() < kind.wave(), "{kind} comes after {after}");
        }
    }
    // A route comes after the invoke permissions of what it calls.
    assert_eq!(Kind::Route.wave(), 6);
    assert_eq!(Kind::RouteResponse.wave(), 7);
    // The stage's route settings name routes.
    assert_eq!(Kind::Stage.wave(), 7);
    assert_eq!(Kind::last_wave(), 9);
}

#[test]
fn a_spec_and_a_found_of_different_kinds_are_an_internal_error_not_a_replace() {
    let spec = Spec::Table(table::spec(&shipped()));
    let found = Found::Role(role::Found {
        name: "r".into(),
        arn: "arn:aws:iam::1:role/r".into(),
        trust_policy: serde_json::json!({}),
        tags: Tags::new(),
    });
    let err = diff(&spec, &found).unwrap_err();
    assert!(err.to_string().contains("internal error"), "{err}");
}

#[test]
fn a_found_item_answers_to_the_kind_of_what_was_found() {
    let found = Found::Role(role::Found {
        name: "r".into(),
        arn: "arn".into(),
        trust_policy: serde_json::json!({}),
        tags: Tags::new(),
    });
    assert_eq!(FoundItem::new("chat", "r", None, found).address, Address::new(Kind::Role, "chat"));
}

#[test]
fn a_kind_reads_only_kinds_the_table_lists_before_it_so_discovery_reads_every_kind() {
    for (i, kind) in Kind::ALL.iter().enumerate() {
        for read in kind.reads() {
            assert!(Kind::ALL[..i].contains(read), "{kind} reads {read}, which the table lists after it");
        }
    }
}

#[test]
fn found_instances_are_picked_by_their_kinds_type() {
    let mut found = FoundSet::default();
    let api = api::Found {
        id: "a1".into(),
        name: "wschat-dev".into(),
        route_selection: "$request.body.action".into(),
        tags: Tags::new(),
        created: 0,
        arn: "arn:aws:apigateway:us-east-1::/apis/a1".into(),
    };
    found.items.push(api.clone().into_item());
    assert_eq!(found.of::<api::Api>().map(|(item, f)| (item.id.as_str(), f)).collect::<Vec<_>>(), [("a1", &api)]);
    assert_eq!(found.of::<site::Site>().count(), 0);
    assert_eq!(<api::Api as OfKind>::KIND, Kind::Api);
}
