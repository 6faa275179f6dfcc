//! chat-core's integration tests: one binary, one module per area.
//!
//! - `handlers`: every action and error over the in-memory store, from API
//!   Gateway and SQS event fixtures;
//! - `adapters`: the DynamoDB and SQS adapters against a real moto server;
//! - `auth`: JWT verification with real keys, and the attacks it refuses;
//! - `oidc`: the issuer's keys through its discovery document, from a local issuer;
//! - `fanout`: the notify path through the real Management API adapter,
//!   against a local HTTP server that answers 410 for chosen connections;
//! - `signed_in`: connections that came through the authorizer: the name
//!   and `sub` of the token, `rename` refused, the subprotocol answered;
//! - `history`: stored messages, acks and de-duplication, `history` pages
//!   and who may read them, the history after a welcome or a join, typing
//!   and its throttle, over memory ports;
//! - `limits`: flood control, per connection and per person, refusals,
//!   the close and the cool-down, over memory ports, and the buckets in moto;
//! - `metrics`: what the handlers count, against what the gateway saw;
//! - `presence`: the count, joins and leaves with it, digests above
//!   `chat.presence`, the paged online list, over memory ports and moto;
//! - `sharding`: large notices split across the queue, per-recipient
//!   retries, the delivery ledger, pacing and deadlines, over memory ports.

mod adapters;
mod auth;
mod fanout;
mod handlers;
mod history;
mod limits;
mod metrics;
mod oidc;
mod presence;
mod sharding;
mod signed_in;
mod support;
