//! Figures of the report (plotters, SVG and PNG with a bundled font).

use crate::store::{NetworkRecord, Store};

/// Renders every figure the store supports; returns (title, relative path) pairs.
pub fn render_all(
    _store: &Store,
    _records: &[NetworkRecord],
) -> Result<Vec<(String, String)>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Vec::new())
}
