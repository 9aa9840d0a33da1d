//! Integration tests against the real MariaDB (and Postgres, tansu for the
//! Kafka mode). One binary, one module per area; every test uses its own
//! database `sluice_t_<random>`.

mod it;
