//! `wschat`: provision a serverless WebSocket chat on AWS from a declarative `stack.yaml`.
//!
//! The binary in `main.rs` only parses arguments and maps results to exit
//! codes; every command lives here so that integration tests drive the same
//! code.

pub mod build;
pub mod cli;
pub mod cost;
pub mod deploy;
pub mod logs;
pub mod policy;
pub mod shell;
pub mod status_metrics;

use anyhow::Result;
use wschat_stack as stack;
pub use wschat_stack::UsageError;

/// `plan --detailed-exitcode` found changes: exit 2, as Terraform's does.
#[derive(Debug)]
pub struct PlanHasChanges;

impl std::fmt::Display for PlanHasChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the plan has changes")
    }
}

impl std::error::Error for PlanHasChanges {}

/// Runs one parsed command line.
pub async fn run(args: cli::Args) -> Result<()> {
    use cli::Command;
    match &args.command {
        Command::Validate => {
            let stack = stack::load(&args.file, &args.stage)?;
            eprintln!(
                "{}: ok: stack `{}`, stage `{}`, {} functions, {} routes",
                args.file.display(),
                stack.name,
                stack.stage,
                stack.functions.len(),
                stack.api.routes.len()
            );
            Ok(())
        }
        Command::Build => {
            let stack = stack::load(&args.file, &args.stage)?;
            let artifacts = build::build(&stack)?;
            if args.json {
                println!("{}", build::report(&stack, &artifacts));
            }
            Ok(())
        }
        Command::Plan(plan_args) => deploy::plan(&args, plan_args).await,
        Command::Deploy(deploy_args) => deploy::deploy(&args, deploy_args).await,
        Command::Status(status) if status.metrics => status_metrics::run(&args, status).await,
        Command::Status(_) => deploy::status(&args).await,
        Command::Logs(logs_args) => logs::run(&args, logs_args).await,
        Command::Destroy(destroy_args) => deploy::destroy(&args, destroy_args).await,
        Command::Cost(cost_args) => cost::run(&args, cost_args).await,
        Command::Policy(policy_args) => policy::run(&args, policy_args).await,
        Command::Dev(dev_args) => {
            let stack = stack::load(&args.file, &args.stage)?;
            wschat_dev::run(&stack, &args.aws.for_stack(&stack), dev_args, args.json).await
        }
        Command::Completions(c) => shell::completions(c.shell, &mut std::io::stdout().lock()),
        Command::Man(man) => match &man.dir {
            None => shell::man(&mut std::io::stdout().lock()),
            Some(dir) => {
                for page in shell::man_pages(dir)? {
                    eprintln!("wrote {}", page.display());
                }
                Ok(())
            }
        },
    }
}
