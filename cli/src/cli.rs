//! The command line: global flags, subcommands and their flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "wschat",
    version,
    about = "Provision a serverless WebSocket chat on AWS from stack.yaml, or run it locally",
    propagate_version = true
)]
pub struct Args {
    /// The stack definition to read.
    #[arg(short = 'f', long = "file", global = true, default_value = "stack.yaml", value_name = "PATH")]
    pub file: PathBuf,

    /// Deployment stage: part of every physical name, so stages live side by side.
    #[arg(long, global = true, default_value = "dev", value_name = "STAGE")]
    pub stage: String,

    /// AWS region; overrides stack.yaml's `region` and the AWS config.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Named profile from ~/.aws/config to take credentials and region from.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (moto, LocalStack) instead of AWS.
    #[arg(long, global = true, value_name = "URL", env = "WSCHAT_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Print JSON on stdout instead of human output: one document (`logs`: one event per line).
    #[arg(long, global = true)]
    pub json: bool,

    /// More detail on stderr; repeat for more (-vv).
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check stack.yaml; every error names file:line:column. Makes no AWS call.
    Validate,
    /// Build each function with cargo-lambda into a reproducible zip.
    Build,
    /// Show what deploy would create, update or delete. Reads only.
    Plan(PlanArgs),
    /// Build, then create or update every resource so AWS matches stack.yaml.
    Deploy(DeployArgs),
    /// Show every resource of the stack: ok, missing or drifted, and the URLs.
    Status,
    /// Show the functions' log lines from CloudWatch Logs, interleaved by time.
    Logs(LogsArgs),
    /// Delete every resource of the stack, and nothing else.
    Destroy(DestroyArgs),
    /// Run the chat locally: the page, config.json and a WebSocket gateway with API Gateway semantics.
    Dev(DevArgs),
    /// Print the shell completion script for bash, zsh, fish or powershell
    /// (`wschat completions bash > ~/.local/share/bash-completion/completions/wschat`).
    Completions(CompletionsArgs),
    /// Print the man page, or write a page per subcommand with --dir
    /// (`wschat man --dir ~/.local/share/man/man1`).
    Man(ManArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write wschat.1 and wschat-SUBCOMMAND.1 into this folder instead of printing wschat.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Print the plan as a Graphviz DOT graph: a node per resource, labelled
    /// with what happens to it, and an edge per reference between them
    /// (`wschat plan --graph | dot -Tsvg > plan.svg`).
    #[arg(long)]
    pub graph: bool,
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Deploy the zips of the last `wschat build` instead of building first.
    #[arg(long)]
    pub no_build: bool,
    /// Wait until the CloudFront distribution is Deployed before returning.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Functions to show, by their stack.yaml names (chat, notify; authorizer
    /// with `auth: jwt`). Without one, every function of the stack.
    #[arg(value_name = "FUNCTION")]
    pub functions: Vec<String>,
    /// Keep showing new events as they arrive, until Ctrl-C (CloudWatch Logs
    /// Live Tail, else polling every 2 s).
    #[arg(long, short = 't', visible_alias = "tail")]
    pub follow: bool,
    /// Where to start: a duration before now (30s, 10m, 2h, 1d) or an RFC 3339
    /// time (2025-05-01T12:00:00Z).
    #[arg(long, default_value = "10m", value_name = "WHEN")]
    pub since: crate::logs::Since,
    /// Only events that match this CloudWatch Logs filter pattern: words that
    /// must all appear, a "quoted phrase", or a JSON pattern like
    /// '{ $.level = "ERROR" }'.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Keep connections in DynamoDB and notifications in SQS at --endpoint-url
    /// (or AWS) instead of in memory.
    #[arg(long)]
    pub aws_store: bool,
    /// Close a connection after this many seconds without a frame (API Gateway: 600).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Close every connection after this many seconds (API Gateway: 7200).
    #[arg(long, default_value_t = 7200, value_name = "SECONDS")]
    pub max_lifetime: u64,
    /// Answer for a route's handler once it has run this long: `$connect` gets
    /// 504, a message the `Endpoint request timed out` frame (API Gateway: 29,
    /// its maximum for WebSocket integrations).
    #[arg(long, default_value_t = 29, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub integration_timeout: u64,
    /// Let every connection and message through, whatever `api.throttle`
    /// and the routes' `throttle` say (for load tests).
    #[arg(long)]
    pub no_throttle: bool,
    /// Answer the Management API (`@connections`) from any address when
    /// --host is not the loopback. Without it, only clients on this machine
    /// may post to or close connections, as only signed callers may on AWS.
    #[arg(long)]
    pub open_management: bool,
    /// Turn sign-in on against a local OpenID Connect issuer at
    /// http://HOST:PORT/issuer, with its own key: any name signs in, without a
    /// password (`/issuer/login?name=NAME` gives a token at once). Without
    /// this flag, a stack with `api.auth.jwt` signs in with its own issuer.
    #[arg(long, value_enum, value_name = "ISSUER")]
    pub issuer: Option<DevIssuer>,
    /// How long the tokens of `--issuer local` last. A negative lifetime signs
    /// tokens that have expired already, to see them refused (the chat allows
    /// 60 s of clock skew).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS", allow_negative_numbers = true)]
    pub token_lifetime: i64,
}

/// `wschat dev --issuer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DevIssuer {
    /// An issuer inside `wschat dev`.
    Local,
}

/// Logs go to stderr. `-v` shows debug events of wschat itself, `-vv` everything.
pub fn init_logging(verbose: u8) {
    let filter = match verbose {
        // aws-config warns at every step of its region and credential chains
        // (IMDS off EC2, say); wschat reports what is missing itself. -v shows them.
        0 => "warn,aws_config=error,wschat=info,chat_core=info",
        1 => "warn,wschat=debug,chat_core=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WSCHAT_LOG").unwrap_or_else(|_| filter.into());
    // Colours only on a terminal: logs redirected to a file or a CI log stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}
