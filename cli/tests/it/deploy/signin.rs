//! `api.auth: jwt`: the authorizer, its function, role, log group and
//! permission, `$connect` on CUSTOM, and config.json naming the issuer; then
//! `auth` switched to none and iam and back, each converging; and destroy.
//! Everything is read back from moto with the test's own SDK calls.

use serde_json::{Value, json};
use test_support::realism::Freeze;
use test_support::{ACCOUNT_ID, REGION};

use super::{Cloud, Ended, Inventory, Project, behaviours, changes, deploy, json, kill_at, mutating, sdk};

/// An OpenID Connect issuer's discovery document on 127.0.0.1, as deploy
/// reads it (the page's endpoints go into config.json). It runs on a thread
/// of its own: the tests block their runtime while wschat runs.
pub(super) struct Issuer {
    pub(super) url: String,
}

impl Issuer {
    pub(super) fn start() -> Issuer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let document = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/jwks.json"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "response_types_supported": ["code"],
        });
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().route(
                    "/.well-known/openid-configuration",
                    axum::routing::get(move || async move { axum::Json(document) }),
                );
                axum::serve(listener, app).await.unwrap();
            });
        });
        Issuer { url }
    }
}

/// The shipped stack with sign-in against `issuer`.
pub(super) fn with_jwt(name: &str, issuer: &str) -> String {
    let shipped = Project::shipped_stack(name);
    assert!(shipped.contains("\napi:\n  routes:\n"), "the shipped stack.yaml changed shape");
    shipped.replace(
        "\napi:\n  routes:\n",
        &format!("\napi:\n  auth:\n    jwt: {{ issuer: '{issuer}', audience: [web-client, cli-client] }}\n  routes:\n"),
    )
}

fn with_iam(name: &str) -> String {
    Project::shipped_stack(name).replace("\napi:\n  routes:\n", "\napi:\n  auth: iam\n  routes:\n")
}

/// What a signed-in stack has in AWS beside the open one's.
fn assert_signed_in(inv: &Inventory, name: &str, issuer: &str) {
    inv.assert_no_duplicates();
    let api_id = inv.api_id();
    assert_eq!(inv.authorizers.len(), 1, "{:#?}", inv.authorizers);
    let authorizer = &inv.authorizers[0];
    let function_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}-dev-authorizer");
    assert_eq!(authorizer["type"], "REQUEST");
    assert_eq!(authorizer["name"], format!("{name}-dev-jwt"));
    assert_eq!(authorizer["identity_source"], json!(["route.request.querystring.token"]));
    assert_eq!(
        authorizer["uri"],
        format!("arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
    );
    let connect = inv.route("$connect");
    assert_eq!((&connect["authorization"], &connect["authorizer_id"]), (&json!("CUSTOM"), &authorizer["id"]));
    for route in inv.routes.iter().filter(|r| r["key"] != "$connect") {
        assert_eq!(route["authorization"], "NONE", "{route}");
    }
    // The function knows the issuer, and of the stack only the table where
    // bans are (chat.limits: a person closed for flooding is refused).
    let function = &inv.functions["authorizer"];
    assert_eq!(
        function["environment"],
        json!({
            "WSCHAT_JWT_ISSUER": issuer,
            "WSCHAT_JWT_AUDIENCE": "web-client,cli-client",
            "WSCHAT_PRESENCE_TABLE": format!("{name}-dev-presence"),
        })
    );
    // Its role may read one item of that table at a time and write its log, and nothing else.
    let role = &inv.roles[&format!("{name}-dev-authorizer")];
    let policies = role["policies"].as_object().unwrap();
    assert_eq!(policies.len(), 1, "{role:#}");
    let statements = policies.values().next().unwrap()["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{statements:#?}");
    assert_eq!(statements[0]["Action"], json!(["dynamodb:GetItem"]));
    assert_eq!(
        statements[0]["Resource"],
        json!([format!("arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}-dev-presence")])
    );
    assert_eq!(statements[1]["Action"], json!(["logs:CreateLogStream", "logs:PutLogEvents"]));
    assert_eq!(
        statements[1]["Resource"],
        json!([format!("arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/{name}-dev-authorizer:*")])
    );
    // API Gateway may invoke it only as this API's authorizer.
    let permission = &inv.permissions["authorizer"];
    assert_eq!(permission.len(), 1);
    let source = &permission[0]["Condition"]["ArnLike"]["AWS:SourceArn"];
    let authorizer_id = authorizer["id"].as_str().unwrap();
    assert_eq!(
        source,
        &json!(format!("arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/authorizers/{authorizer_id}"))
    );
    assert!(inv.log_groups.iter().any(|g| g["name"] == format!("/aws/lambda/{name}-dev-authorizer")));
    // The page is told how to sign in, and may reach the token endpoint.
    let config: Value = serde_json::from_str(inv.objects["config.json"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        config["auth"],
        json!({
            "issuer": issuer,
            "clientId": "web-client",
            "authorizationEndpoint": format!("{issuer}/authorize"),
            "tokenEndpoint": format!("{issuer}/token"),
            "scope": "openid profile email",
        })
    );
    if let Some(page) = inv.objects.get("index.html") {
        let page = page["body"].as_str().unwrap();
        assert!(page.contains(&format!("wss://{api_id}.execute-api.{REGION}.amazonaws.com {issuer}\"")), "{page}");
    }
}

/// What an open stack has: no authorizer, its function, role or log group.
fn assert_open(inv: &Inventory, name: &str, connect_authorization: &str) {
    inv.assert_no_duplicates();
    assert!(inv.authorizers.is_empty(), "{:#?}", inv.authorizers);
    let connect = inv.route("$connect");
    assert_eq!(connect["authorization"], connect_authorization);
    assert_eq!(connect["authorizer_id"], Value::Null, "{connect}");
    assert!(!inv.functions.contains_key("authorizer"));
    assert!(!inv.roles.contains_key(&format!("{name}-dev-authorizer")));
    assert!(!inv.permissions.contains_key("authorizer"));
    assert!(inv.log_groups.iter().all(|g| g["name"] != format!("/aws/lambda/{name}-dev-authorizer")));
    let config: Value = serde_json::from_str(inv.objects["config.json"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(config.get("auth"), None, "{config}");
}

#[tokio::test]
async fn sign_in_deploys_and_switching_auth_converges_every_way() {
    let issuer = Issuer::start();
    let cloud = Cloud::shared();
    let name = "si-auth";
    let project = Project::new(name);
    project.write_zip("authorizer", "authorizer v1");
    let page =
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'self'; connect-src 'self'"><p>chat</p>"#;
    std::fs::write(project.path().join("wwwroot/index.html"), page).unwrap();
    let aws = sdk(&cloud).await;

    project.write_stack(&with_jwt(name, &issuer.url));
    let first = deploy(&cloud, &project);
    let kinds: Vec<&str> = first["changes"].as_array().unwrap().iter().filter_map(|c| c["kind"].as_str()).collect();
    assert!(kinds.contains(&"authorizer"), "{first:#}");
    assert_signed_in(&Inventory::read(&aws, name, "dev").await, name, &issuer.url);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0, "a second deploy changes nothing");
    assert_eq!(changes(&json(&cloud, &project, &["plan"])), Vec::<String>::new());
    let status = json(&cloud, &project, &["status"]);
    let listed = status.to_string();
    assert!(listed.contains("\"authorizer\"") && listed.contains(&format!("{name}-dev-authorizer")), "{status:#}");

    // Off: the authorizer, its function and everything of it go.
    project.write_stack(&Project::shipped_stack(name));
    let plan = changes(&json(&cloud, &project, &["plan"]));
    assert!(plan.iter().any(|c| c.contains("authorizer")), "{plan:#?}");
    deploy(&cloud, &project);
    assert_open(&Inventory::read(&aws, name, "dev").await, name, "NONE");
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);

    // IAM, then back to sign-in, then IAM again.
    let to_iam = async || {
        project.write_stack(&with_iam(name));
        deploy(&cloud, &project);
        assert_open(&Inventory::read(&aws, name, "dev").await, name, "AWS_IAM");
    };
    to_iam().await;
    project.write_stack(&with_jwt(name, &issuer.url));
    deploy(&cloud, &project);
    assert_signed_in(&Inventory::read(&aws, name, "dev").await, name, &issuer.url);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
    to_iam().await;

    project.write_stack(&with_jwt(name, &issuer.url));
    deploy(&cloud, &project);
    super::settle().await;
    let destroyed = json(&cloud, &project, &["destroy", "--yes"]);
    assert!(destroyed.to_string().contains("authorizer"), "{destroyed:#}");
    assert!(Inventory::read(&aws, name, "dev").await.is_empty(), "destroy left something");
}

#[tokio::test]
async fn a_deploy_killed_after_creating_the_authorizer_converges_with_one() {
    let issuer = Issuer::start();
    let name = "si-kill";
    let project = Project::new(name);
    project.write_zip("authorizer", "authorizer v1");
    project.write_stack(&with_jwt(name, &issuer.url));
    let cloud = Cloud::with(behaviours());
    let ended =
        kill_at(&cloud, &project, &["deploy", "--no-build"], Freeze::AfterOperation("CreateAuthorizer".into())).await;
    assert!(matches!(ended, Ended::Killed), "wschat was to be killed right after CreateAuthorizer");
    let aws = sdk(&cloud).await;
    let killed = Inventory::read(&aws, name, "dev").await;
    assert_eq!(killed.authorizers.len(), 1, "the authorizer was made before the kill");
    assert!(killed.routes.iter().all(|r| r["authorization"] != "CUSTOM"), "and $connect was not switched yet");

    deploy(&cloud, &project);
    let inv = Inventory::read(&aws, name, "dev").await;
    assert_signed_in(&inv, name, &issuer.url);
    assert_eq!(inv.authorizers[0]["id"], killed.authorizers[0]["id"], "the one made before the kill is kept");
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
    json(&cloud, &project, &["destroy", "--yes"]);
}

#[tokio::test]
async fn an_issuer_that_cannot_be_read_stops_deploy_before_any_change() {
    let cloud = Cloud::shared();
    let name = "si-noissuer";
    let project = Project::new(name);
    project.write_zip("authorizer", "authorizer v1");
    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let issuer = format!("http://{closed}");
    project.write_stack(&with_jwt(name, &issuer));
    let (output, stderr) = super::run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(!output.status.success());
    assert!(stderr.contains(&format!("api.auth.jwt.issuer `{issuer}`")), "{stderr}");
    assert!(stderr.contains("discovery document"), "{stderr}");
    assert!(Inventory::read(&sdk(&cloud).await, name, "dev").await.is_empty(), "nothing was made");
}
