//! Where `wschat dev` keeps connections, notifications and the chat's
//! history: in memory (the default), or with `--aws-store` in the stack's
//! DynamoDB tables and SQS queue at `--endpoint-url` (or AWS), through
//! chat-core's own adapters. With `chat.history: false` there is no history.
//!
//! With `--aws-store`, the tables (connections, messages, presence), the
//! queue and its dead-letter queue are found by their physical names for
//! `--stage`, and created (as `wschat deploy` would) when missing. This process consumes the queue itself, so
//! the stage must not also be deployed with its `notify` function: that
//! function would take the notifications and post them to an API that has
//! none of these connections.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use chat_core::aws::{DynamoMessages, DynamoPresence, DynamoStore, SqsNotifier};
use chat_core::memory::{MemoryMessages, MemoryPresence, MemoryStore};
use chat_core::ports::{ConnectionStore, MessageStore, Notifier, Presence};
use tracing::info;

use super::gateway::Gateway;
use super::queue::{self, MemoryQueue, QueueSettings};
use crate::args::DevArgs;
use wschat_engine::aws::{Aws, AwsTarget};
use wschat_engine::progress::Task;
use wschat_engine::resources::{self, Clients, Env, Kind, Op, Resource};
use wschat_stack::Stack;

/// The store and queue the handlers run over, and the queue's consumer.
pub struct Backend {
    pub store: Arc<dyn ConnectionStore>,
    pub notifier: Arc<dyn Notifier>,
    /// The history; `None` with `chat.history: false`.
    pub messages: Option<Arc<dyn MessageStore>>,
    /// The count online and the presence digests.
    pub presence: Arc<dyn Presence>,
    pub consumer: Consumer,
    /// The queue's URL, as the functions get it (`WSCHAT_QUEUE_URL`): the
    /// SQS queue's, or a placeholder for the in-process queue.
    pub queue_url: String,
}

/// Hands queued notifications to the notify handler.
pub enum Consumer {
    Memory { queue: Arc<MemoryQueue>, settings: QueueSettings },
    Sqs { sqs: aws_sdk_sqs::Client, queue_url: String, settings: QueueSettings },
}

impl Consumer {
    /// Runs `settings.pollers` pollers ([`queue::POLLERS`]), each taking a
    /// batch once its last is handled, until the process ends.
    pub async fn run(self, gateway: Arc<Gateway>) {
        let pollers: Vec<_> = match self {
            Consumer::Memory { queue, settings } => (0..settings.pollers.max(1))
                .map(|_| tokio::spawn(queue::consume_memory(queue.clone(), settings.clone(), gateway.clone())))
                .collect(),
            Consumer::Sqs { sqs, queue_url, settings } => (0..settings.pollers.max(1))
                .map(|_| {
                    let (sqs, queue_url, settings) = (sqs.clone(), queue_url.clone(), settings.clone());
                    tokio::spawn(queue::consume_sqs(sqs, queue_url, settings, gateway.clone()))
                })
                .collect(),
        };
        futures::future::join_all(pollers).await;
    }
}

/// The backend `dev` asks for: memory, or the stack's AWS resources with `--aws-store`.
pub async fn open(target: &AwsTarget, dev: &DevArgs, stack: &Stack) -> Result<Backend> {
    if dev.aws_store { aws(target, stack).await } else { Ok(memory(stack)) }
}

/// The memory store and the in-process queue.
fn memory(stack: &Stack) -> Backend {
    let queue = MemoryQueue::new();
    let arn = format!("arn:aws:sqs:local:000000000000:{}", stack.queue_name());
    let settings = QueueSettings::new(stack, arn, "local".into());
    Backend {
        store: Arc::new(MemoryStore::new()),
        notifier: queue.clone(),
        messages: stack.chat.history.is_some().then(|| Arc::new(MemoryMessages::new()) as Arc<dyn MessageStore>),
        presence: Arc::new(MemoryPresence::new()),
        consumer: Consumer::Memory { queue, settings },
        queue_url: format!("https://sqs.local.amazonaws.com/000000000000/{}", stack.queue_name()),
    }
}

/// The stack's DynamoDB table and SQS queue, created when missing.
async fn aws(target: &AwsTarget, stack: &Stack) -> Result<Backend> {
    let aws = Aws::load(target).await?;
    let account = aws.account().await?;
    let env = Env::new(stack.clone(), aws.region().to_string(), account, BTreeMap::new())?;
    let clients = Clients::new(&aws);
    let task = Task::hidden();
    let op = Op { clients: &clients, env: &env, task: &task };

    let table = stack.table_name();
    if resources::table::find_table(&clients, &env).await?.is_none() {
        info!("creating DynamoDB table {table}");
        <resources::table::Table as Resource>::create(&op, &resources::table::spec(&env)).await?;
    }
    if resources::queue::find_queue(&clients, &env, Kind::DeadLetterQueue).await?.is_none() {
        info!("creating SQS queue {}", stack.dlq_name());
        <resources::queue::DeadLetterQueue as Resource>::create(&op, &resources::queue::dlq_spec(&env)).await?;
    }
    let queue_url = match resources::queue::find_queue(&clients, &env, Kind::Queue).await? {
        Some(found) => found.id,
        None => {
            info!("creating SQS queue {}", stack.queue_name());
            <resources::queue::Queue as Resource>::create(&op, &resources::queue::spec(&env)).await?
        }
    };
    let messages: Option<Arc<dyn MessageStore>> = match stack.chat.history {
        Some(_) => {
            let name = stack.messages_table_name();
            if resources::table::find_messages_table(&clients, &env).await?.is_none() {
                info!("creating DynamoDB table {name}");
                <resources::table::Table as Resource>::create(&op, &resources::table::messages_spec(&env)).await?;
            }
            info!("history in DynamoDB table {name}");
            Some(Arc::new(DynamoMessages::new(aws.dynamodb(), name)))
        }
        None => None,
    };
    // Presence at scale (docs/presence.md): the count of people online and
    // the digests, whatever `chat.presence` says.
    let presence = stack.presence_table_name();
    if resources::table::find_presence_table(&clients, &env).await?.is_none() {
        info!("creating DynamoDB table {presence}");
        <resources::table::Table as Resource>::create(&op, &resources::table::presence_spec(&env)).await?;
    }
    info!("presence in DynamoDB table {presence}");
    let where_ = aws.endpoint_url().unwrap_or("AWS");
    info!("connections in DynamoDB table {table}, notifications in SQS queue {queue_url} ({where_})");

    let settings = QueueSettings::new(stack, env.arns().queue(), aws.region().to_string());
    Ok(Backend {
        store: Arc::new(DynamoStore::new(aws.dynamodb(), table, &stack.table.ttl_attribute)),
        notifier: Arc::new(SqsNotifier::new(aws.sqs(), &queue_url)),
        messages,
        presence: Arc::new(DynamoPresence::new(aws.dynamodb(), presence)),
        consumer: Consumer::Sqs { sqs: aws.sqs(), queue_url: queue_url.clone(), settings },
        queue_url,
    })
}
