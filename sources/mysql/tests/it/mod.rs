mod common;
mod debezium;
mod kafka;
mod snapshot;
mod store;
mod stream_tx;
mod stream_types;
