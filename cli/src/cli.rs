//! The command line: global flags, subcommands and their flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use wschat_dev::DevArgs;
use wschat_engine::aws::AwsTarget;

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

    /// Where AWS calls go: --region, --profile and --endpoint-url.
    #[command(flatten)]
    pub aws: AwsTarget,

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
    /// Show what deploy would create, update or delete, and how it moves the monthly estimate. Reads only.
    Plan(PlanArgs),
    /// Build, then create or update every resource so AWS matches stack.yaml.
    Deploy(DeployArgs),
    /// Show every resource of the stack: ok, missing or drifted, and the URLs;
    /// with --metrics, how the live chat is doing.
    Status(StatusArgs),
    /// Show the functions' log lines from CloudWatch Logs, interleaved by time.
    Logs(LogsArgs),
    /// Delete every resource of the stack, and nothing else.
    Destroy(DestroyArgs),
    /// Estimate the stack's monthly AWS bill, line by line at list prices, for a usage you state
    /// (no AWS call) or the one its metrics measured (--measured).
    Cost(CostArgs),
    /// Print the IAM policy a CI role needs to run plan, deploy, status, logs
    /// and destroy for this stack and stage, and nothing more.
    Policy(PolicyArgs),
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
pub struct StatusArgs {
    /// Show how the chat is doing instead: people online now, messages and
    /// posts a second, failed posts, fan-out p99, errors, throttles, the
    /// dead-letter queue and the alarms in ALARM.
    #[arg(long)]
    pub metrics: bool,
    /// With --metrics: read again every 5 s and redraw, until Ctrl-C.
    #[arg(long, requires = "metrics")]
    pub watch: bool,
    /// With --metrics: the window the rates are over, a duration before now
    /// (30s, 10m, 2h, 1d) or an RFC 3339 time.
    #[arg(long, default_value = "15m", requires = "metrics", value_name = "WHEN")]
    pub since: String,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Print the plan as a Graphviz DOT graph: a node per resource, labelled
    /// with what happens to it, and an edge per reference between them
    /// (`wschat plan --graph | dot -Tsvg > plan.svg`).
    #[arg(long)]
    pub graph: bool,
    /// Exit 0 when there is nothing to change, 2 when there are changes and
    /// 1 on any error (Terraform's `plan -detailed-exitcode`): for a nightly
    /// drift check.
    #[arg(long)]
    pub detailed_exitcode: bool,
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
pub struct PolicyArgs {
    /// Only what `plan`, `status` (and `status --metrics`) and `logs` read:
    /// for a role that may look but not change.
    #[arg(long)]
    pub read_only: bool,
    /// The account the stack is in; without it, the caller's
    /// (sts:GetCallerIdentity).
    #[arg(long, value_name = "ID", value_parser = account_id)]
    pub account: Option<String>,
}

/// Twelve digits, as AWS writes an account id.
fn account_id(text: &str) -> Result<String, String> {
    if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text.to_string())
    } else {
        Err(format!("`{text}` is not an AWS account id (12 digits)"))
    }
}

#[derive(Debug, clap::Args)]
pub struct CostArgs {
    /// People online at once, on average: the connections API Gateway holds.
    #[arg(long, value_name = "N", value_parser = in_range(1.0, 100_000_000.0), required_unless_present = "measured")]
    pub connections: Option<f64>,
    /// Hours a day each person is online. 24: the same people round the
    /// clock; 2: twelve times as many people take turns.
    #[arg(long, default_value_t = crate::cost::HOURS_ONLINE, value_name = "HOURS", value_parser = in_range(0.1, 24.0), conflicts_with = "measured")]
    pub hours_online: f64,
    /// Chat messages each person sends a day.
    #[arg(long, default_value_t = crate::cost::MESSAGES_PER_USER_DAY, value_name = "N", value_parser = in_range(0.0, 100_000.0), conflicts_with = "measured")]
    pub messages_per_user_day: f64,
    /// Recipients of each message: the size of the rooms people talk in.
    /// Without it, every message goes to everyone online.
    #[arg(long, value_name = "N", value_parser = in_range(1.0, 100_000_000.0), conflicts_with = "measured")]
    pub room_size: Option<f64>,
    /// Bytes of text in a chat message.
    #[arg(long, default_value_t = crate::cost::MESSAGE_BYTES, value_name = "BYTES", value_parser = in_range(1.0, 32_768.0))]
    pub message_bytes: f64,
    /// Price the usage the deployed stack's metrics measured instead (people
    /// online, connections, messages and who they went to), over the last
    /// --days.
    #[arg(long, conflicts_with = "connections")]
    pub measured: bool,
    /// With --measured: the days of metrics to read [default: 7].
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=14), requires = "measured")]
    pub days: Option<u32>,
}

/// A clap value parser for a number in `min..=max`.
fn in_range(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text: &str| {
        let n: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
        if n.is_finite() && (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} is out of range; it takes {min}..={max}"))
        }
    }
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
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}
