//! The `sluice` command line: argument definitions and one module per command.

pub mod args;
pub mod check;
pub mod decode;
pub mod demo;
pub mod dlq;
pub mod dlq_filter;
pub mod dlq_list;
pub mod dlq_replay;
pub mod dlq_resolve;
pub mod dlq_show;
pub mod migrate;
pub mod run;
pub mod source;
pub mod status;

pub use args::Cli;
