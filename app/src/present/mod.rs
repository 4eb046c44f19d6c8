//! Pure functions that turn data into what the pages display: no views, no I/O, unit-tested.

pub mod latency_chart;
pub mod schema_rows;
