//! `wschat dev`'s own flags: the binary flattens them into its `dev` subcommand.

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
    /// and the routes' `throttle` say, and let the fan-out post as fast as it
    /// can (`chat.post_rate` paces it under the account's Management API
    /// throttle, which dev has not): for load tests.
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
    /// Print what each handler call counted on stderr, one embedded-metric-
    /// format line a call, as the deployed functions write them to their logs
    /// for CloudWatch.
    #[arg(long)]
    pub metrics: bool,
    /// Rebuild a function of your own crate when a file under it (or under a
    /// path crate it depends on) changes, and swap its process without
    /// dropping a connection: new invocations go to the new code, those in
    /// flight finish on the old. A build that fails keeps the old code serving.
    #[arg(long)]
    pub watch: bool,
    /// Run wschat's own `chat` and `notify` handlers as processes too, built
    /// from their crates for this machine, as Lambda runs them: each reaches
    /// dev's tables and queue over HTTP and posts through its Management
    /// API. Without it they run inside dev, which starts at once.
    #[arg(long)]
    pub processes: bool,
    /// Build the functions dev runs as processes with optimizations (`cargo
    /// build --release`), as deploy builds them: slower to build, faster to run.
    #[arg(long)]
    pub release: bool,
}

/// `wschat dev --issuer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DevIssuer {
    /// An issuer inside `wschat dev`.
    Local,
}
