use std::process::ExitCode;

use clap::Parser;
use wschat::{UsageError, cli::Args};
use wschat_stack::StackErrors;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    wschat::cli::init_logging(args.verbose);
    match wschat::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<StackErrors>() => {
            for line in err.to_string().lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(2)
        }
        Err(err) if err.is::<UsageError>() => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: {}", wschat_engine::aws::report(&err));
            ExitCode::FAILURE
        }
    }
}
