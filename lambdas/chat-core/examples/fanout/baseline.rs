//! The fan-out as it was before sharding (commit 5c43572's
//! `handler::handle_sqs`), frozen here so that the benchmark measures it side
//! by side with today's: one invocation scans the whole table (a consistent,
//! paginated scan) and posts to every recipient with `fanout_concurrency`
//! posts in flight; any failed post reports its whole record back to SQS.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chat_core::event::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chat_core::notice::{Notice, Target};
use chat_core::ports::{Connection, Format, PortError, PortResult};
use chat_core::{Ports, Settings, now_millis};
use futures::StreamExt;

pub async fn handle_sqs(ports: Ports<'_>, settings: &Settings, event: &SqsEvent) -> SqsBatchResponse {
    let mut failed = BTreeSet::new();
    let mut notices = Vec::new();
    for (index, record) in event.records.iter().enumerate() {
        match Notice::from_body(&record.body) {
            Ok(notice) => notices.push((index, notice)),
            Err(_) => {
                failed.insert(index);
            }
        }
    }
    let mut everyone: Option<Vec<Connection>> = None;
    let mut rooms: HashMap<String, Vec<Connection>> = HashMap::new();
    let mut inboxes: BTreeMap<String, Inbox> = BTreeMap::new();
    for (index, notice) in &notices {
        let compat: Arc<str> = Arc::from(notice.payload.compat.as_str());
        let json: Arc<str> = Arc::from(notice.payload.json.as_str());
        let recipients: PortResult<Vec<Connection>> = match &notice.target {
            Target::All => match &everyone {
                Some(all) => Ok(all.clone()),
                None => ports.store.all().await.inspect(|all| everyone = Some(all.clone())),
            },
            Target::Room(code) => match rooms.get(code) {
                Some(members) => Ok(members.clone()),
                None => ports.store.in_room(code).await.inspect(|members| {
                    rooms.insert(code.clone(), members.clone());
                }),
            },
            Target::Connection(id) => ports.store.get(id).await.map(|row| row.into_iter().collect()),
            // Shards and digests came after it.
            Target::Segment(_) | Target::Recipients(_) | Target::Digest(_) => Ok(Vec::new()),
        };
        let Ok(recipients) = recipients else {
            failed.insert(*index);
            continue;
        };
        for recipient in recipients {
            if notice.exclude.as_deref() == Some(recipient.connection_id.as_str()) {
                continue;
            }
            let frame = match recipient.format {
                Format::Compat => compat.clone(),
                Format::Json => json.clone(),
            };
            let inbox = inboxes
                .entry(recipient.connection_id)
                .or_insert_with(|| Inbox { connected_at: recipient.connected_at, frames: Vec::new() });
            inbox.frames.push((*index, frame));
        }
    }
    let bound = settings.fanout_concurrency.max(1);
    let now = now_millis();
    let outcomes: Vec<Vec<usize>> = futures::stream::iter(inboxes)
        .map(|(connection_id, inbox)| deliver(ports, connection_id, inbox, now))
        .buffer_unordered(bound)
        .collect()
        .await;
    for outcome in &outcomes {
        failed.extend(outcome);
    }
    SqsBatchResponse {
        batch_item_failures: failed
            .into_iter()
            .map(|index| BatchItemFailure { item_identifier: event.records[index].message_id.clone() })
            .collect(),
    }
}

struct Inbox {
    connected_at: i64,
    frames: Vec<(usize, Arc<str>)>,
}

const GONE_GRACE_MILLIS: i64 = 10_000;

/// The records whose frame could not be delivered.
async fn deliver(ports: Ports<'_>, connection_id: String, inbox: Inbox, now: i64) -> Vec<usize> {
    let young = now - inbox.connected_at < GONE_GRACE_MILLIS;
    let mut failed = Vec::new();
    for (index, frame) in inbox.frames {
        match ports.poster.post(&connection_id, frame.as_bytes()).await {
            Ok(()) => {}
            Err(PortError::Gone) if young => return failed,
            Err(PortError::Gone) => {
                let _ = ports.store.delete(&connection_id).await;
                return failed;
            }
            Err(_) => failed.push(index),
        }
    }
    failed
}
