//! Service level objectives: the definitions (`slos/*.yml`, Sloth's format plus grouping), and
//! what they mean over a window (attainment, error budget, burn rate, status).

pub mod budget;
pub mod gauges;
pub mod generate;
pub mod history;
pub mod ledger;
pub mod recorder;
pub mod report;
pub mod spec;

pub use budget::{Budget, Status, Tally, Window, budget, burn_rate};
pub use spec::{Sli, Slo, load_slo_files};
