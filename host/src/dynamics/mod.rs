//! Dynamics analysis of trained networks (DESIGN §5): fixed points and their linearised
//! dynamics, the topology graph between them, input-dependent fixed points, and a
//! topological distance between networks.

pub mod fixed_points;
pub mod network;
pub mod topology;

pub use fixed_points::{CandidateStatus, FixedPointAnalysis, FixedPointSettings};
pub use topology::{topology_distance, Topology, TopologySettings};
