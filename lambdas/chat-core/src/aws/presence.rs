//! The presence table in DynamoDB: the count, the digests, the limits' buckets and bans.

use super::*;

/// The presence table in DynamoDB (see the module's docs for its items).
#[derive(Debug, Clone)]
pub struct DynamoPresence {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// The partition of the count's buckets.
pub(super) const ONLINE: &str = "online";
/// How long an item outlives the minute or window it is about.
pub(super) const PRESENCE_TTL_SECONDS: i64 = 60 * 60;

impl DynamoPresence {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoPresence { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn failed(&self, operation: &str, error: impl std::error::Error) -> PortError {
        PortError::Failed(format!("DynamoDB {operation} on table `{}`: {}", self.table, DisplayErrorContext(error)))
    }

    /// `ADD n` to the bucket of the minute `connection`'s row expires in.
    async fn add(&self, connection: &Connection, n: i64) -> PortResult<()> {
        let minute = bucket(connection.expires_at);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("key", AttributeValue::S(ONLINE.to_string()))
            .key("part", AttributeValue::N(minute.to_string()))
            .update_expression("ADD #n :n SET #expires = :expires")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((minute + BUCKET_SECONDS + PRESENCE_TTL_SECONDS).to_string()),
            )
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        Ok(())
    }

    fn window_key(window: DigestWindow) -> [(String, AttributeValue); 2] {
        [
            ("key".to_string(), AttributeValue::S(format!("digest#{}", window.seconds))),
            ("part".to_string(), AttributeValue::N(window.index.to_string())),
        ]
    }
}

/// The attribute of the `n`-th name (from 1) of a digest's joins or leaves.
pub(super) fn slot(change: Change, n: u64) -> String {
    match change {
        Change::Joined => format!("j{n}"),
        Change::Left => format!("l{n}"),
    }
}

#[async_trait]
impl Presence for DynamoPresence {
    async fn arrive(&self, connection: &Connection) -> PortResult<()> {
        self.add(connection, 1).await
    }

    async fn depart(&self, connection: &Connection) -> PortResult<()> {
        self.add(connection, -1).await
    }

    /// One Query of the buckets still to come: at most 181 items of a few
    /// dozen bytes, eventually consistent (half a read unit per 4 KB).
    async fn count(&self, now: i64) -> PortResult<u64> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#key = :online AND #part >= :from")
            .expression_attribute_names("#key", "key")
            .expression_attribute_names("#part", "part")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":online", AttributeValue::S(ONLINE.to_string()))
            .expression_attribute_values(":from", AttributeValue::N(live_from(now).to_string()))
            .projection_expression("#n")
            .into_paginator()
            .send();
        let mut sum: i64 = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("Query", e))?;
            sum += page.items().iter().filter_map(|item| item.get("n")?.as_n().ok()?.parse::<i64>().ok()).sum::<i64>();
        }
        Ok(sum.max(0) as u64)
    }

    /// One UpdateItem that counts the event and returns the window's counts,
    /// and, for the first [`DIGEST_NAMES`] of each kind, one that names it.
    async fn note(&self, window: DigestWindow, change: Change, who: &Member) -> PortResult<bool> {
        let counted = match change {
            Change::Joined => "joined",
            Change::Left => "left",
        };
        let expires = window.end_ms() / 1000 + PRESENCE_TTL_SECONDS;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::window_key(window).into()))
            .update_expression("ADD #events :one, #counted :one SET #expires = :expires")
            .expression_attribute_names("#events", "events")
            .expression_attribute_names("#counted", counted)
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        let number = |name: &str| {
            out.attributes().and_then(|a| a.get(name)?.as_n().ok()?.parse::<u64>().ok()).unwrap_or_default()
        };
        let (events, nth) = (number("events"), number(counted));
        if (1..=DIGEST_NAMES as u64).contains(&nth) {
            let member = HashMap::from([
                ("id".to_string(), AttributeValue::S(who.connection_id.clone())),
                ("name".to_string(), AttributeValue::S(who.name.clone())),
            ]);
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::window_key(window).into()))
                .update_expression("SET #slot = :who")
                .expression_attribute_names("#slot", slot(change, nth))
                .expression_attribute_values(":who", AttributeValue::M(member))
                .send()
                .await
                .map_err(|e| self.failed("UpdateItem", e))?;
        }
        Ok(events == 1)
    }

    async fn digest(&self, window: DigestWindow) -> PortResult<Digest> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::window_key(window).into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        let item = out.item.unwrap_or_default();
        let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()?.parse::<u64>().ok()).unwrap_or_default();
        let names = |change: Change| -> Vec<Member> {
            (1..=DIGEST_NAMES as u64)
                .filter_map(|n| {
                    let member = item.get(&slot(change, n))?.as_m().ok()?;
                    let text = |key: &str| member.get(key)?.as_s().ok().cloned();
                    Some(Member { connection_id: text("id")?, name: text("name")? })
                })
                .collect()
        };
        Ok(Digest {
            joined: names(Change::Joined),
            left: names(Change::Left),
            joined_count: number("joined"),
            left_count: number("left"),
        })
    }

    /// GCRA in conditional writes, without a read: a bucket at rest (its
    /// time past: full) restarts from now and clears the strikes; a running
    /// one moves on by an interval if that keeps it within its tolerance. A
    /// bucket's time only grows, so when the first condition fails the
    /// second is decided on a time that is still ahead of now, whatever runs
    /// at once. Both failing is a refusal, which counts a strike.
    async fn admit(&self, who: &str, bucket: Bucket, rate: Rate, now: i64) -> PortResult<Admission> {
        let key = || {
            HashMap::from([
                ("key".to_string(), AttributeValue::S(format!("limit#{who}"))),
                ("part".to_string(), AttributeValue::N("0".into())),
            ])
        };
        let n = |v: i64| AttributeValue::N(v.to_string());
        // Kept an hour past the last time it could matter.
        let expires = (now + rate.tolerance_ms() + rate.interval_ms()) / 1000 + PRESENCE_TTL_SECONDS;
        // DynamoDB refuses a name or value the expressions do not use.
        let names = |update: &str| {
            let mut names = HashMap::from([
                ("#at".to_string(), bucket.attribute().to_string()),
                ("#expires".to_string(), "expiresAt".to_string()),
            ]);
            if update.contains("#strikes") {
                names.insert("#strikes".to_string(), "strikes".to_string());
            }
            names
        };
        let values = |pairs: &[(&str, i64)]| {
            let expires = [(":expires", expires)];
            pairs.iter().chain(&expires).map(|(name, value)| (name.to_string(), n(*value))).collect::<HashMap<_, _>>()
        };
        let attempts = [
            // At rest (full): restart from now, and forgive the strikes.
            (
                "SET #at = :next, #strikes = :zero, #expires = :expires",
                "attribute_not_exists(#at) OR #at <= :now",
                values(&[(":next", now + rate.interval_ms()), (":zero", 0), (":now", now)]),
            ),
            // Running: one interval on, within the tolerance; the strikes stay.
            (
                "SET #at = #at + :interval, #expires = :expires",
                "#at > :now AND #at <= :latest",
                values(&[(":interval", rate.interval_ms()), (":now", now), (":latest", now + rate.tolerance_ms())]),
            ),
        ];
        for (update, condition, values) in attempts {
            let sent = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key()))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names(update)))
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(Admission::Admitted),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.failed("UpdateItem", e)),
            }
        }
        let struck = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .update_expression("ADD #strikes :one")
            .expression_attribute_names("#strikes", "strikes")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        let number = |name: &str| struck.attributes().and_then(|a| a.get(name)?.as_n().ok()?.parse::<i64>().ok());
        let strikes = number("strikes").unwrap_or(1).clamp(1, i64::from(u32::MAX)) as u32;
        let retry_after_ms = number(bucket.attribute()).map_or(0, |at| (at - now - rate.tolerance_ms()).max(0));
        Ok(Admission::Refused { strikes, retry_after_ms })
    }

    async fn ban(&self, who: &str, until: i64) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("key", AttributeValue::S(format!("ban#{who}")))
            .item("part", AttributeValue::N("0".into()))
            .item("until", AttributeValue::N(until.to_string()))
            .item("expiresAt", AttributeValue::N((until / 1000 + PRESENCE_TTL_SECONDS).to_string()))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }

    async fn banned(&self, who: &str, now: i64) -> PortResult<Option<i64>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("key", AttributeValue::S(format!("ban#{who}")))
            .key("part", AttributeValue::N("0".into()))
            // Eventually consistent, half a read unit at every `$connect`: a
            // ban is written as the flooder is closed, a second or more before
            // it can connect again.
            .consistent_read(false)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        let until = out.item().and_then(|i| i.get("until")?.as_n().ok()?.parse::<i64>().ok());
        Ok(until.filter(|until| *until > now))
    }
}
