//! The trace header: provenance (who recorded what, under which policy and
//! limits) and the embedded module and source, so that a trace needs no
//! other file to be replayed, audited or shown.
//!
//! On disk the header is a sequence of tagged fields in increasing tag order
//! (see `docs/TRACE_FORMAT.md`, "Header"), so that a later version can add
//! optional metadata that older readers skip.

use super::effect::{code_map, ExecMap};
use super::error::{TraceError, TraceErrorKind};
use super::wire::{put_bytes, put_varint, unzigzag, zigzag, Bytes, Slice};
pub use crate::caps::Decision;
use crate::format;
use crate::limits::Limits;
use crate::module::Module;
use crate::types::Version;
use crate::verify::{verify, VerifiedModule};

/// A BLAKE3 hash.
pub type Hash = [u8; 32];

/// The provenance of a recording. Build it with [`TraceHeader::new`] and set
/// the fields the caller knows; the reader gives it back as written.
///
/// The hashes of the module, the source and the policy are not fields: they
/// are computed from the bytes ([`TraceHeader::module_hash`], ...), written
/// beside them and checked by the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceHeader {
    /// The version of the tool that recorded, e.g. `chronicle 0.1.0`.
    pub tool_version: String,
    /// The plugin's name (typically its file name).
    pub plugin_name: String,
    /// The module that ran, in the `.cbc` format ([`format::encode`]).
    pub module: Vec<u8>,
    /// The plugin's source text, when it was compiled from source.
    pub source: Option<String>,
    /// The policy text the capabilities were negotiated under, if any.
    pub policy: Option<String>,
    /// The negotiated capability table, one entry per import.
    pub capabilities: Vec<NegotiatedEntry>,
    /// The limits the run was bounded by (replay runs under the same).
    pub limits: Limits,
    /// A description of the host (e.g. `chronicle-cli 0.1.0 on linux`).
    pub host: String,
    /// When the recording started, in milliseconds since the Unix epoch.
    /// Metadata only: never an input to execution or replay.
    pub recorded_at_ms: i64,
}

/// One row of the negotiated capability table, as the caller's negotiation
/// decided it. The trace only stores and returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiatedEntry {
    /// The import's capability name, e.g. `fs.read`.
    pub name: String,
    /// The version the plugin requested.
    pub requested: Version,
    /// The version the host offered, if it offered the capability.
    pub offered: Option<Version>,
    /// What the policy decided.
    pub decision: Decision,
    /// The decision's scope or mock values, as text (e.g.
    /// `paths = ["examples/data/**"]`); empty when there is none.
    pub scope: String,
}

/// The wire code of a decision in the capability table.
fn decision_code(d: Decision) -> u8 {
    match d {
        Decision::Grant => 1,
        Decision::Mock => 2,
        Decision::Deny => 3,
    }
}

fn decision_from_code(c: u8) -> Option<Decision> {
    Some(match c {
        1 => Decision::Grant,
        2 => Decision::Mock,
        3 => Decision::Deny,
        _ => return None,
    })
}

impl TraceHeader {
    /// A header for running `module`, with empty provenance, default limits
    /// and no source, policy or capability table.
    pub fn new(module: &Module) -> Self {
        TraceHeader {
            tool_version: String::new(),
            plugin_name: String::new(),
            module: format::encode(module),
            source: None,
            policy: None,
            capabilities: Vec::new(),
            limits: Limits::DEFAULT,
            host: String::new(),
            recorded_at_ms: 0,
        }
    }

    /// BLAKE3 of [`TraceHeader::module`].
    pub fn module_hash(&self) -> Hash {
        *blake3::hash(&self.module).as_bytes()
    }

    /// BLAKE3 of the source text, if there is one.
    pub fn source_hash(&self) -> Option<Hash> {
        self.source
            .as_ref()
            .map(|s| *blake3::hash(s.as_bytes()).as_bytes())
    }

    /// BLAKE3 of the policy text, if there is one.
    pub fn policy_hash(&self) -> Option<Hash> {
        self.policy
            .as_ref()
            .map(|s| *blake3::hash(s.as_bytes()).as_bytes())
    }

    /// The bytecode format version of the embedded module (its bytes 4..6),
    /// 0 if the bytes are too short to say.
    pub fn module_format_version(&self) -> u16 {
        match self.module.get(4..6) {
            Some(&[a, b]) => u16::from_le_bytes([a, b]),
            _ => 0,
        }
    }

    /// The negotiated entry for capability `name` requested at `version`.
    pub fn negotiated(&self, name: &str, version: Version) -> Option<&NegotiatedEntry> {
        self.capabilities
            .iter()
            .find(|e| e.name == name && e.requested == version)
    }
}

/// Header field tags, in the order they appear.
mod field {
    pub const TOOL_VERSION: u64 = 1;
    pub const PLUGIN_NAME: u64 = 2;
    pub const RECORDED_AT: u64 = 3;
    pub const HOST: u64 = 4;
    pub const MODULE_FORMAT_VERSION: u64 = 5;
    pub const MODULE_HASH: u64 = 6;
    pub const MODULE: u64 = 7;
    pub const SOURCE_HASH: u64 = 8;
    pub const SOURCE: u64 = 9;
    pub const POLICY_HASH: u64 = 10;
    pub const POLICY: u64 = 11;
    pub const LIMITS: u64 = 12;
    pub const CAPABILITIES: u64 = 13;
    pub const CODE_MAP: u64 = 14;
}

/// Encodes the header fields of `h`; `code_map` is the module's code map.
pub(super) fn encode(h: &TraceHeader, code_map: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(h.module.len() * 2 + 256);
    let mut field = |tag: u64, payload: &[u8]| {
        put_varint(&mut out, tag);
        put_bytes(&mut out, payload);
    };
    field(field::TOOL_VERSION, h.tool_version.as_bytes());
    field(field::PLUGIN_NAME, h.plugin_name.as_bytes());
    let mut tmp = Vec::new();
    put_varint(&mut tmp, zigzag(h.recorded_at_ms));
    field(field::RECORDED_AT, &tmp);
    field(field::HOST, h.host.as_bytes());
    tmp.clear();
    put_varint(&mut tmp, h.module_format_version().into());
    field(field::MODULE_FORMAT_VERSION, &tmp);
    field(field::MODULE_HASH, &h.module_hash());
    field(field::MODULE, &h.module);
    if let (Some(text), Some(hash)) = (&h.source, h.source_hash()) {
        field(field::SOURCE_HASH, &hash);
        field(field::SOURCE, text.as_bytes());
    }
    if let (Some(text), Some(hash)) = (&h.policy, h.policy_hash()) {
        field(field::POLICY_HASH, &hash);
        field(field::POLICY, text.as_bytes());
    }
    tmp.clear();
    let l = &h.limits;
    for v in [
        l.instructions,
        l.call_depth,
        l.registers,
        l.array_len,
        l.string_bytes,
        l.alloc_bytes,
    ] {
        put_varint(&mut tmp, v);
    }
    field(field::LIMITS, &tmp);
    tmp.clear();
    put_varint(&mut tmp, h.capabilities.len() as u64);
    for e in &h.capabilities {
        put_bytes(&mut tmp, e.name.as_bytes());
        put_varint(&mut tmp, e.requested.major.into());
        put_varint(&mut tmp, e.requested.minor.into());
        match e.offered {
            None => tmp.push(0),
            Some(v) => {
                tmp.push(1);
                put_varint(&mut tmp, v.major.into());
                put_varint(&mut tmp, v.minor.into());
            }
        }
        tmp.push(decision_code(e.decision));
        put_bytes(&mut tmp, e.scope.as_bytes());
    }
    field(field::CAPABILITIES, &tmp);
    field(field::CODE_MAP, code_map);
    out.push(0);
    out
}

/// A decoded header with everything derived from it.
pub(super) struct Parsed {
    pub header: TraceHeader,
    pub module: VerifiedModule,
}

/// Decodes the header fields in `bytes` (which start at file offset `base`)
/// of a trace in format `version`, checks the embedded hashes, decodes and
/// verifies the module and checks the code map.
pub(super) fn decode(bytes: &[u8], base: u64, version: u16) -> Result<Parsed, TraceError> {
    let mut s = Slice::new(bytes, base);
    let mut last_tag = 0;
    let mut h = TraceHeader {
        tool_version: String::new(),
        plugin_name: String::new(),
        module: Vec::new(),
        source: None,
        policy: None,
        capabilities: Vec::new(),
        limits: Limits::DEFAULT,
        host: String::new(),
        recorded_at_ms: 0,
    };
    let mut seen = [false; 15];
    let mut hashes: [Option<Hash>; 3] = [None; 3];
    let mut module_version = None;
    let mut stored_map = None;
    let bad = |s: &Slice<'_>, what| s.error(TraceErrorKind::BadHeader { what });
    loop {
        let at = s.pos;
        let tag = s.varint()?;
        if tag == 0 {
            break;
        }
        if tag <= last_tag {
            s.pos = at;
            return Err(bad(&s, "fields out of order or repeated"));
        }
        last_tag = tag;
        let len = s.varint()?;
        if len > s.remaining() as u64 {
            return Err(s.error(TraceErrorKind::Truncated));
        }
        let payload_at = s.base + s.pos as u64;
        let payload = s.take(len as usize)?;
        let mut p = Slice::new(payload, payload_at);
        let text = |p: &Slice<'_>, what| {
            String::from_utf8(payload.to_vec())
                .map_err(|_| p.error(TraceErrorKind::InvalidUtf8 { what }))
        };
        let hash = |p: &Slice<'_>| -> Result<Hash, TraceError> {
            payload
                .try_into()
                .map_err(|_| bad(p, "a hash field is not 32 bytes"))
        };
        match tag {
            field::TOOL_VERSION => h.tool_version = text(&p, "tool version")?,
            field::PLUGIN_NAME => h.plugin_name = text(&p, "plugin name")?,
            field::RECORDED_AT => h.recorded_at_ms = unzigzag(p.varint()?),
            field::HOST => h.host = text(&p, "host description")?,
            field::MODULE_FORMAT_VERSION => {
                module_version = Some(p.index("module format version")?)
            }
            field::MODULE_HASH => hashes[0] = Some(hash(&p)?),
            field::MODULE => h.module = payload.to_vec(),
            field::SOURCE_HASH => hashes[1] = Some(hash(&p)?),
            field::SOURCE => h.source = Some(text(&p, "source text")?),
            field::POLICY_HASH => hashes[2] = Some(hash(&p)?),
            field::POLICY => h.policy = Some(text(&p, "policy text")?),
            field::LIMITS => {
                // Version 1 has no `alloc_bytes`: its runs were not bounded by it.
                let mut v = [u64::MAX; 6];
                let count = if version == 1 { 5 } else { 6 };
                for x in &mut v[..count] {
                    *x = p.varint()?;
                }
                h.limits = Limits {
                    instructions: v[0],
                    call_depth: v[1],
                    registers: v[2],
                    array_len: v[3],
                    string_bytes: v[4],
                    alloc_bytes: v[5],
                };
            }
            field::CAPABILITIES => h.capabilities = capabilities(&mut p)?,
            field::CODE_MAP => stored_map = Some(payload),
            // Unknown fields are optional metadata of a later writer.
            _ => {}
        }
        let parsed = matches!(
            tag,
            field::RECORDED_AT | field::MODULE_FORMAT_VERSION | field::LIMITS | field::CAPABILITIES
        );
        if !parsed {
            // The payload is the field's value as a whole.
            p.pos = p.bytes.len();
        }
        if let Some(flag) = seen.get_mut(tag as usize) {
            *flag = true;
        }
        if p.remaining() != 0 {
            return Err(bad(&p, "a field has bytes left over"));
        }
    }
    if s.remaining() != 0 {
        return Err(bad(&s, "bytes after the end of the fields"));
    }
    let end = s.base + s.pos as u64;
    let at_end = |what| TraceError::new(TraceErrorKind::BadHeader { what }, end);
    for (tag, what) in [
        (field::TOOL_VERSION, "the tool version is missing"),
        (field::PLUGIN_NAME, "the plugin name is missing"),
        (field::RECORDED_AT, "the recording time is missing"),
        (field::HOST, "the host description is missing"),
        (
            field::MODULE_FORMAT_VERSION,
            "the module format version is missing",
        ),
        (field::MODULE_HASH, "the module hash is missing"),
        (field::MODULE, "the module is missing"),
        (field::LIMITS, "the limits are missing"),
        (field::CAPABILITIES, "the capability table is missing"),
        (field::CODE_MAP, "the code map is missing"),
    ] {
        if !seen[tag as usize] {
            return Err(at_end(what));
        }
    }
    if seen[field::SOURCE as usize] != seen[field::SOURCE_HASH as usize]
        || seen[field::POLICY as usize] != seen[field::POLICY_HASH as usize]
    {
        return Err(at_end(
            "a text without its hash, or a hash without its text",
        ));
    }
    let content = |what| TraceError::new(TraceErrorKind::ContentHashMismatch { what }, base);
    if hashes[0] != Some(h.module_hash()) {
        return Err(content("module"));
    }
    if hashes[1] != h.source_hash() {
        return Err(content("source"));
    }
    if hashes[2] != h.policy_hash() {
        return Err(content("policy"));
    }
    let found = module_version.unwrap_or_default();
    if found != format::FORMAT_VERSION || h.module_format_version() != found {
        return Err(TraceError::new(
            TraceErrorKind::UnsupportedModuleVersion {
                found,
                supported: format::FORMAT_VERSION,
            },
            base,
        ));
    }
    let module = format::decode(&h.module)
        .map_err(|e| TraceError::new(TraceErrorKind::BadModule(Box::new(e)), base))?;
    let module = verify(module)
        .map_err(|e| TraceError::new(TraceErrorKind::UnverifiableModule(Box::new(e)), base))?;
    let map = ExecMap::new(module.module());
    if stored_map != Some(&code_map(module.module(), &map)[..]) {
        return Err(TraceError::new(TraceErrorKind::CodeMapMismatch, base));
    }
    Ok(Parsed { header: h, module })
}

fn capabilities(p: &mut Slice<'_>) -> Result<Vec<NegotiatedEntry>, TraceError> {
    let n = p.varint()?;
    // Every entry takes at least 6 bytes.
    let mut out = Vec::with_capacity((n as usize).min(p.remaining() / 6));
    for _ in 0..n {
        let name = p.string("capability name")?;
        let requested = Version::new(p.index("version")?, p.index("version")?);
        let offered = match p.byte()? {
            0 => None,
            1 => Some(Version::new(p.index("version")?, p.index("version")?)),
            tag => {
                return Err(p.error(TraceErrorKind::BadTag {
                    what: "offered version",
                    tag: tag.into(),
                }))
            }
        };
        let code = p.byte()?;
        let decision = decision_from_code(code).ok_or_else(|| {
            p.error(TraceErrorKind::BadTag {
                what: "decision",
                tag: code.into(),
            })
        })?;
        let scope = p.string("capability scope")?;
        out.push(NegotiatedEntry {
            name,
            requested,
            offered,
            decision,
            scope,
        });
    }
    Ok(out)
}
