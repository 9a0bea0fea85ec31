//! Stub of the trace commands (being built concurrently).
use crate::failure::Failure;
use clap::Args;
use std::path::PathBuf;
/// `chronicle trace`.
#[derive(Debug, Args)]
pub struct TraceArgs { /// The plugin.
    pub plugin: PathBuf }
/// `chronicle replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs { /// The trace.
    pub trace: PathBuf }
/// `chronicle audit`.
#[derive(Debug, Args)]
pub struct AuditArgs { /// The trace.
    pub trace: PathBuf }
/// `chronicle inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs { /// The trace.
    pub trace: PathBuf }
/// trace
pub fn trace(_a: &TraceArgs) -> Result<(), Failure> { Err(Failure::input("not built")) }
/// replay
pub fn replay(_a: &ReplayArgs) -> Result<(), Failure> { Err(Failure::input("not built")) }
/// audit
pub fn audit(_a: &AuditArgs) -> Result<(), Failure> { Err(Failure::input("not built")) }
/// inspect
pub fn inspect(_a: &InspectArgs) -> Result<(), Failure> { Err(Failure::input("not built")) }
