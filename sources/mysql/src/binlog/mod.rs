//! Binlog event bodies that need hand parsing: MariaDB's GTID family and
//! ROTATE events that may still carry their checksum.

pub mod mariadb;
pub mod rotate;
