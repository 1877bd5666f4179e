//! Helpers shared by the engine tests.

pub mod windows;
