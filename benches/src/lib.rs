//! Bench helpers (none yet).
