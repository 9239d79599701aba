//! Helpers shared by the benches: hushwire scenarios and the primitive floors.

pub(crate) mod fixtures;
pub(crate) mod floor;
