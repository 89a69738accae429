//! Auditing any server's sessions with simulated browsers: cookie attributes, id strength,
//! fixation, logout, exposure, expiry and lost updates, each finding with its evidence.

pub mod entropy;
