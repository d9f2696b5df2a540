//! The snapshot file: a point-in-time copy of the keyspace (see also `docs/snapshot-format.md`).
//!
//! It is written incrementally: the engine feeds entries to an [`Encoder`] slot by slot, in any order,
//! over many event-loop ticks, and ships each finished block to a writer thread; nothing needs the whole
//! file in memory. It is loaded block by block, each block's checksum verified before any of its records
//! is used, so a damaged file never puts a damaged value into the keyspace.
//!
//! ```text
//! file    = header  block*  footer
//! header  = "SLOTKVSN"  version:u16le  created_ms:i64le  aux_len:u32le  aux  crc:u64le
//!           aux = (name_len:varint name  value_len:varint value)*   (aux_len bytes, at most 64 KiB)
//!           crc = CRC-64 of every header byte before it
//! block   = 'B'  len:u64le  crc:u64le  payload        payload = record* (len bytes), crc = CRC-64(payload)
//! record  = type:u8  expire:varint  key_len:varint key  body_len:varint body
//!           type   = serialize.rs's numbers (0 string, 1 list, 2 set, 3 zset, 4 hash)
//!           expire = absolute Unix ms, 0 = none
//!           body   = serialize.rs's body for the type (a DUMP payload without type byte and footer)
//! footer  = 'E'  records:u64le  blocks:u64le  chain:u64le  crc:u64le
//!           chain = CRC-64 of the blocks' crc fields (u64le each) in file order
//!           crc   = CRC-64 of the footer's first 25 bytes
//! ```
//! CRC-64 is Redis's (CRC-64/Jones, `crc::CRC_64_REDIS`), computed slice-by-16. Varints are LEB128.
//!
//! Invariants: a block holds whole records (a record is never split), so a block is at most
//! [`BLOCK_TARGET`] bytes plus one record; the file ends exactly after the footer. The aux fields written
//! are `slotkv-ver` and `redis-ver`, and on a replica `repl-id` and `repl-offset`; unknown aux names are
//! ignored, so later versions can add some.
//!
//! Why these choices: per-block checksums let the loader verify 64 KiB at a time from a reused buffer
//! (fast, bounded memory) and name the block at fault; the explicit `body_len` lets a record be skipped
//! (an expired key) without parsing its body, and gives the body decoder exact bounds; the block length is
//! 64 bits because one record (a large hash) may exceed 4 GiB; the footer's counts and `chain` make a
//! missing, repeated or reordered block an error, and a file without a footer is a truncated file.
//!
//! Loading never trusts a length: the header's aux section is bounded, a block's payload buffer grows only
//! as its bytes actually arrive, and every record field is checked against the block it sits in.

use crate::config::Config;
use crate::db::entry::{Entry, Kind};
use crate::db::serialize;
use crate::types::pack::write_varint;
use crc::{Crc, Digest, Table, CRC_64_REDIS};
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The first eight bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"SLOTKVSN";
/// The format this code writes, and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// The block size the caller aims at: call [`Encoder::take_block`] once `pending()` reaches it.
pub const BLOCK_TARGET: usize = 64 * 1024;
/// The `redis_version` this node reports, recorded in the header for tools.
const REDIS_VERSION: &str = "7.2.4";

const BLOCK_TAG: u8 = b'B';
const END_TAG: u8 = b'E';
/// Tag, length and checksum in front of a block's payload.
const BLOCK_HEADER: usize = 1 + 8 + 8;
/// The footer after its tag: records, blocks, chain, crc.
const FOOTER_REST: usize = 8 + 8 + 8 + 8;
/// Magic, version, created_ms, aux_len.
const HEADER_FIXED: usize = 8 + 2 + 8 + 4;
/// The aux section is a few short strings; anything larger is damage, refused before allocating.
const MAX_AUX: u32 = 64 * 1024;
/// The file reader's buffer.
const READ_BUFFER: usize = 1 << 20;
/// A payload buffer's first size: a whole normal block. After that it at most doubles per read, and only
/// once the bytes before have arrived.
const FIRST_CHUNK: usize = 2 * BLOCK_TARGET;
/// The reused payload buffer is dropped after a block larger than this, not kept for the whole load.
const KEEP_BUFFER: usize = 8 << 20;

/// Slice-by-16 tables: several times faster than the byte-wise default on the load path.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// What the header records about a snapshot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotMeta {
    /// When the snapshot's point in time was taken (Unix ms).
    pub created_ms: i64,
    /// A replica's replication id and offset at that point (aux `repl-id`, `repl-offset`): after a
    /// restart it asks its primary to resume from there.
    pub repl: Option<(String, u64)>,
}

/// Incremental encoder: records accumulate into the current block; the caller takes finished blocks
/// and writes them (possibly on another thread) in the order taken.
pub struct Encoder {
    /// `BLOCK_HEADER` bytes reserved for the frame, then records: `take_block` fills the frame in place
    /// and hands the buffer over without copying.
    block: Vec<u8>,
    /// A collection's body before its length is known; reused across records.
    scratch: Vec<u8>,
    records: u64,
    blocks: u64,
    chain: Digest<'static, u64, Table<16>>,
}

fn new_block() -> Vec<u8> {
    let mut b = Vec::with_capacity(BLOCK_TARGET + BLOCK_TARGET / 4);
    b.resize(BLOCK_HEADER, 0);
    b
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_varint(out, b.len());
    out.extend_from_slice(b);
}

impl Encoder {
    /// The encoder and the header bytes to write first.
    pub fn new(meta: &SnapshotMeta) -> (Encoder, Vec<u8>) {
        let mut aux = Vec::new();
        let offset = meta.repl.as_ref().map(|(_, o)| o.to_string());
        let repl = meta.repl.as_ref().map(|(id, _)| id.as_str()).zip(offset.as_deref());
        let fields = [("slotkv-ver", env!("CARGO_PKG_VERSION")), ("redis-ver", REDIS_VERSION)]
            .into_iter()
            .chain(repl.into_iter().flat_map(|(id, off)| [("repl-id", id), ("repl-offset", off)]));
        for (name, value) in fields {
            put_bytes(&mut aux, name.as_bytes());
            put_bytes(&mut aux, value.as_bytes());
        }
        let mut header = Vec::with_capacity(HEADER_FIXED + aux.len() + 8);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&meta.created_ms.to_le_bytes());
        header.extend_from_slice(&(aux.len() as u32).to_le_bytes());
        header.extend_from_slice(&aux);
        let crc = CRC64.checksum(&header);
        header.extend_from_slice(&crc.to_le_bytes());
        let encoder =
            Encoder { block: new_block(), scratch: Vec::new(), records: 0, blocks: 0, chain: CRC64.digest() };
        (encoder, header)
    }

    /// Appends one entry's record (skip nothing: the caller decides).
    pub fn push(&mut self, entry: &Entry) {
        let out = &mut self.block;
        let kind = serialize::type_byte(entry);
        out.push(kind);
        // A negative expiry is not something the keyspace holds; if it ever did, the key is long expired,
        // and 1 keeps it expired rather than turning it into 0 (no expiry).
        let expire = match entry.expire_at() {
            e if e < 0 => 1,
            e => e as u64,
        };
        write_varint(out, expire as usize);
        put_bytes(out, entry.key());
        if kind == serialize::T_STRING {
            put_bytes(out, entry.as_str().unwrap_or_default());
        } else {
            self.scratch.clear();
            serialize::encode_body(entry, &mut self.scratch);
            put_bytes(out, &self.scratch);
            if self.scratch.capacity() > KEEP_BUFFER {
                self.scratch = Vec::new();
            }
        }
        self.records += 1;
    }

    /// Bytes in the current (unfinished) block.
    pub fn pending(&self) -> usize {
        self.block.len() - BLOCK_HEADER
    }

    /// The current block framed (tag, len, crc, records), or None if it is empty. Call when `pending()`
    /// is large enough (>= [`BLOCK_TARGET`]) or at the end.
    pub fn take_block(&mut self) -> Option<Vec<u8>> {
        if self.pending() == 0 {
            return None;
        }
        let mut block = std::mem::replace(&mut self.block, new_block());
        let payload = block.get(BLOCK_HEADER..).unwrap_or_default();
        let crc = CRC64.checksum(payload);
        let mut frame = [0u8; BLOCK_HEADER];
        frame[0] = BLOCK_TAG;
        frame[1..9].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        frame[9..].copy_from_slice(&crc.to_le_bytes());
        if let Some(head) = block.get_mut(..BLOCK_HEADER) {
            head.copy_from_slice(&frame);
        }
        self.blocks += 1;
        self.chain.update(&crc.to_le_bytes());
        Some(block)
    }

    /// The last block (if any) plus the footer.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = self.take_block().unwrap_or_default();
        let start = out.len();
        out.push(END_TAG);
        out.extend_from_slice(&self.records.to_le_bytes());
        out.extend_from_slice(&self.blocks.to_le_bytes());
        out.extend_from_slice(&self.chain.finalize().to_le_bytes());
        let crc = CRC64.checksum(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// Why a snapshot could not be loaded, and where.
#[derive(Debug)]
pub struct LoadError {
    pub file: PathBuf,
    /// The start of the part at fault: the header (0), a block, a record, the footer, or where the file
    /// ends if it ends early between blocks.
    pub offset: u64,
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}: {}", self.file.display(), self.offset, self.reason)
    }
}

impl std::error::Error for LoadError {}

/// What a load found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadStats {
    /// Entries handed to `insert`.
    pub keys: u64,
    /// Records skipped because their key had expired at `now_ms`.
    pub expired_skipped: u64,
    /// The file's size.
    pub bytes: u64,
    pub created_ms: i64,
    pub blocks: u64,
    pub version: u16,
    /// The `slotkv-ver` aux field (empty if absent).
    pub slotkv_version: String,
    /// The `repl-id` and `repl-offset` aux fields, when both are present and valid.
    pub repl: Option<(String, u64)>,
}

/// Reads and verifies a snapshot, calling `insert` for every entry not expired at `now_ms`, and
/// `progress` with bytes read so far after every block. Every block's CRC is checked before its records
/// are used; a bad CRC, bad record, truncated file or missing footer is a [`LoadError`] naming the offset
/// of the block/record at fault.
pub fn load(
    path: &Path,
    config: &Config,
    now_ms: i64,
    progress: &mut dyn FnMut(u64),
    insert: &mut dyn FnMut(Entry),
) -> Result<LoadStats, LoadError> {
    let file = std::fs::File::open(path).map_err(|e| LoadError {
        file: path.to_path_buf(),
        offset: 0,
        reason: format!("can't open: {e}"),
    })?;
    let reader = io::BufReader::with_capacity(READ_BUFFER, file);
    load_from(reader, path, config, now_ms, progress, insert)
}

/// The same from any reader (`name` is used in errors). Give it a buffered reader: it reads block frames
/// a few bytes at a time.
pub fn load_from(
    reader: impl Read,
    name: &Path,
    config: &Config,
    now_ms: i64,
    progress: &mut dyn FnMut(u64),
    insert: &mut dyn FnMut(Entry),
) -> Result<LoadStats, LoadError> {
    read_snapshot(reader, name, config, now_ms, progress, insert, true)
}

/// The same from a stream that goes on after the snapshot (a replication link): stops right after the
/// footer, reading nothing beyond it.
pub fn load_stream(
    reader: impl Read,
    name: &Path,
    config: &Config,
    now_ms: i64,
    progress: &mut dyn FnMut(u64),
    insert: &mut dyn FnMut(Entry),
) -> Result<LoadStats, LoadError> {
    read_snapshot(reader, name, config, now_ms, progress, insert, false)
}

fn read_snapshot(
    reader: impl Read,
    name: &Path,
    config: &Config,
    now_ms: i64,
    progress: &mut dyn FnMut(u64),
    insert: &mut dyn FnMut(Entry),
    until_eof: bool,
) -> Result<LoadStats, LoadError> {
    let mut src = Source { r: reader, pos: 0, name };
    let mut stats = read_header(&mut src)?;
    let mut chain = CRC64.digest();
    let mut records = 0u64;
    let mut buf = Vec::new();
    loop {
        let at = src.pos;
        let mut tag = [0u8];
        if src.fill(&mut tag)? == 0 {
            let reason = format!("truncated: the file ends after {} blocks, without a footer", stats.blocks);
            return Err(src.error(at, reason));
        }
        match tag[0] {
            BLOCK_TAG => {
                let mut frame = [0u8; 16];
                src.exact(&mut frame, at, "block header")?;
                let (len, crc) = (le64(&frame[..8]), le64(&frame[8..]));
                let got = read_payload(&mut src, len, &mut buf)?;
                if got < len {
                    let reason = format!(
                        "truncated: the block claims {len} bytes, the file ends at offset {} after {got}",
                        src.pos
                    );
                    return Err(src.error(at, reason));
                }
                let actual = CRC64.checksum(&buf);
                if actual != crc {
                    let reason =
                        format!("block checksum mismatch (stored {crc:016x}, computed {actual:016x})");
                    return Err(src.error(at, reason));
                }
                chain.update(&crc.to_le_bytes());
                let payload_at = at + BLOCK_HEADER as u64;
                records += read_records(&buf, payload_at, &src, config, now_ms, &mut stats, insert)?;
                stats.blocks += 1;
                if buf.capacity() > KEEP_BUFFER {
                    buf = Vec::new();
                }
                progress(src.pos);
            }
            END_TAG => {
                let mut rest = [0u8; FOOTER_REST];
                src.exact(&mut rest, at, "footer")?;
                let mut signed = [0u8; 1 + 24];
                signed[0] = END_TAG;
                signed[1..].copy_from_slice(&rest[..24]);
                let (n_records, n_blocks) = (le64(&rest[..8]), le64(&rest[8..16]));
                let (stored_chain, crc) = (le64(&rest[16..24]), le64(&rest[24..]));
                if CRC64.checksum(&signed) != crc {
                    return Err(src.error(at, "footer checksum mismatch".into()));
                }
                if (n_records, n_blocks) != (records, stats.blocks) {
                    let reason = format!(
                        "the footer counts {n_records} records in {n_blocks} blocks, the file holds {records} \
                         in {}",
                        stats.blocks
                    );
                    return Err(src.error(at, reason));
                }
                if stored_chain != chain.finalize() {
                    return Err(
                        src.error(at, "blocks missing, repeated or out of order (chain mismatch)".into())
                    );
                }
                let end = src.pos;
                if until_eof && src.fill(&mut [0u8])? != 0 {
                    return Err(src.error(end, "unexpected bytes after the footer".into()));
                }
                stats.bytes = end;
                return Ok(stats);
            }
            other => {
                let reason = format!("expected a block ('B') or the footer ('E'), found byte 0x{other:02x}");
                return Err(src.error(at, reason));
            }
        }
    }
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    if let Some(src) = b.get(..8) {
        a.copy_from_slice(src);
    }
    u64::from_le_bytes(a)
}

/// A reader that knows its position, for error offsets.
struct Source<'n, R> {
    r: R,
    pos: u64,
    name: &'n Path,
}

impl<R: Read> Source<'_, R> {
    fn error(&self, offset: u64, reason: String) -> LoadError {
        LoadError { file: self.name.to_path_buf(), offset, reason }
    }

    /// Reads until `buf` is full or the input ends; the number of bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, LoadError> {
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            match self.r.read(rest) {
                Ok(0) => break,
                Ok(n) => {
                    done += n;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(self.pos, format!("read error: {e}"))),
            }
        }
        Ok(done)
    }

    /// Fills `buf` completely, or fails as a truncated `what` starting at `at`.
    fn exact(&mut self, buf: &mut [u8], at: u64, what: &str) -> Result<(), LoadError> {
        if self.fill(buf)? < buf.len() {
            let reason = format!("truncated: the file ends at offset {} inside the {what}", self.pos);
            return Err(self.error(at, reason));
        }
        Ok(())
    }
}

/// Reads up to `len` bytes into `buf` (cleared first): the number read, less than `len` if the input
/// ends. The buffer holds at most twice the bytes that actually arrived (or [`FIRST_CHUNK`]), so a forged
/// length cannot make us allocate more than the file holds.
fn read_payload<R: Read>(src: &mut Source<'_, R>, len: u64, buf: &mut Vec<u8>) -> Result<u64, LoadError> {
    buf.clear();
    let mut left = len;
    while left > 0 {
        let chunk = left.min(buf.len().max(FIRST_CHUNK) as u64) as usize;
        let start = buf.len();
        buf.resize(start + chunk, 0);
        let got = src.fill(buf.get_mut(start..).unwrap_or_default())?;
        buf.truncate(start + got);
        left -= got as u64;
        if got < chunk {
            break;
        }
    }
    Ok(len - left)
}

fn read_header<R: Read>(src: &mut Source<'_, R>) -> Result<LoadStats, LoadError> {
    let mut fixed = [0u8; HEADER_FIXED];
    src.exact(&mut fixed, 0, "header")?;
    if &fixed[..8] != MAGIC {
        return Err(src.error(0, "not a slotkv snapshot (bad magic)".into()));
    }
    let version = u16::from_le_bytes([fixed[8], fixed[9]]);
    if version == 0 || version > FORMAT_VERSION {
        let reason = format!("format version {version} is not one this slotkv reads (1..={FORMAT_VERSION})");
        return Err(src.error(0, reason));
    }
    let created_ms = le64(&fixed[10..18]) as i64;
    let aux_len = u32::from_le_bytes([fixed[18], fixed[19], fixed[20], fixed[21]]);
    if aux_len > MAX_AUX {
        return Err(src.error(0, format!("header aux section of {aux_len} bytes (at most {MAX_AUX})")));
    }
    let mut aux = vec![0u8; aux_len as usize];
    src.exact(&mut aux, 0, "header")?;
    let mut crc = [0u8; 8];
    src.exact(&mut crc, 0, "header")?;
    let mut digest = CRC64.digest();
    digest.update(&fixed);
    digest.update(&aux);
    if digest.finalize() != u64::from_le_bytes(crc) {
        return Err(src.error(0, "header checksum mismatch".into()));
    }
    let mut stats = LoadStats { created_ms, version, ..LoadStats::default() };
    let mut r = Cursor { buf: &aux, pos: 0 };
    let (mut repl_id, mut repl_offset) = (None, None);
    while !r.at_end() {
        let pair = r.bytes().zip(r.bytes());
        let Some((name, value)) = pair else {
            return Err(src.error(0, "malformed header aux field".into()));
        };
        let text = String::from_utf8_lossy(value).into_owned();
        match name {
            b"slotkv-ver" => stats.slotkv_version = text,
            b"repl-id" => repl_id = Some(text),
            b"repl-offset" => repl_offset = text.parse::<u64>().ok(),
            _ => {}
        }
    }
    stats.repl = repl_id.filter(|id| id.len() == 40).zip(repl_offset);
    Ok(stats)
}

/// Reads fields off a checksummed block payload, refusing anything that runs past it.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.buf.get(self.pos).copied()?;
        self.pos += 1;
        Some(b)
    }

    /// A LEB128 u64; `None` if it runs out, is longer than 10 bytes or overflows.
    fn varint(&mut self) -> Option<u64> {
        let rest = self.buf.get(self.pos..)?;
        let mut n = 0u64;
        for (i, &b) in rest.iter().enumerate().take(10) {
            let part = (b & 0x7f) as u64;
            if i == 9 && part > 1 {
                return None;
            }
            n |= part << (7 * i);
            if b & 0x80 == 0 {
                self.pos += i + 1;
                return Some(n);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }
}

/// A key for an error message: at most 32 bytes, escaped (keys may be long, binary or private).
fn show_key(key: &[u8]) -> String {
    let shown: String =
        key.iter().take(32).flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect();
    if key.len() > 32 {
        format!("'{shown}...' ({} bytes)", key.len())
    } else {
        format!("'{shown}'")
    }
}

/// Decodes a verified block's records; the number of records it held.
fn read_records<R: Read>(
    payload: &[u8],
    payload_at: u64,
    src: &Source<'_, R>,
    config: &Config,
    now_ms: i64,
    stats: &mut LoadStats,
    insert: &mut dyn FnMut(Entry),
) -> Result<u64, LoadError> {
    let mut r = Cursor { buf: payload, pos: 0 };
    let mut n = 0;
    while !r.at_end() {
        let at = payload_at + r.pos as u64;
        let bad = |reason: String| src.error(at, format!("bad record: {reason}"));
        let (Some(kind), Some(expire), Some(key), Some(body)) = (r.byte(), r.varint(), r.bytes(), r.bytes())
        else {
            return Err(bad("a field runs past the end of its block".into()));
        };
        if kind > serialize::T_HASH {
            return Err(bad(format!("unknown type {kind}")));
        }
        let Ok(expire) = i64::try_from(expire) else {
            return Err(bad(format!("expire time {expire} out of range")));
        };
        n += 1;
        if expire != 0 && expire <= now_ms {
            stats.expired_skipped += 1;
            continue;
        }
        match serialize::decode_entry(kind, body, key, expire, config) {
            Ok(entry) => insert(entry),
            Err(_) => return Err(bad(format!("malformed value of type {kind} for key {}", show_key(key)))),
        }
        stats.keys += 1;
    }
    Ok(n)
}

/// `slotkv-node check-snapshot FILE`: verifies everything, prints a summary (keys by type, blocks, bytes,
/// created time) or the error with its offset, and returns the exit code (0 ok, 1 bad). `args` are the
/// words after `check-snapshot`.
pub fn check_cli(args: &[String]) -> ExitCode {
    let [file] = args else {
        eprintln!("Usage: slotkv-node check-snapshot FILE");
        return ExitCode::from(1);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    match check(Path::new(file), now) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("snapshot is NOT valid");
            ExitCode::from(1)
        }
    }
}

/// What `check-snapshot` reports about a valid file.
struct Summary {
    file: PathBuf,
    stats: LoadStats,
    /// Keys by type, in [`KINDS`] order.
    by_kind: [u64; 5],
    volatile: u64,
    /// Keys whose expiry is already past: a load now would skip them.
    expired: u64,
}

const KINDS: [Kind; 5] = [Kind::String, Kind::List, Kind::Set, Kind::Zset, Kind::Hash];

/// Verifies a snapshot file (every byte, every record); for `check-aof` on a manifest's base file.
pub fn check_file(path: &Path) -> Result<u64, LoadError> {
    check(path, 0).map(|s| s.stats.keys)
}

/// Verifies every byte and decodes every record, including expired ones.
fn check(path: &Path, now_ms: i64) -> Result<Summary, LoadError> {
    let mut by_kind = [0u64; 5];
    let (mut volatile, mut expired) = (0, 0);
    let mut count = |e: Entry| {
        if let Some(slot) = KINDS.iter().position(|&k| k == e.kind()).and_then(|i| by_kind.get_mut(i)) {
            *slot += 1;
        }
        if e.expire_at() != 0 {
            volatile += 1;
            if e.expire_at() <= now_ms {
                expired += 1;
            }
        }
    };
    // `now_ms` 0: nothing counts as expired while loading, so every record is decoded and checked.
    let stats = load(path, &Config::default(), 0, &mut |_| {}, &mut count)?;
    Ok(Summary { file: path.to_path_buf(), stats, by_kind, volatile, expired })
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(f, "{}: OK", self.file.display())?;
        let by = if s.slotkv_version.is_empty() {
            String::new()
        } else {
            format!(" by slotkv {}", s.slotkv_version)
        };
        writeln!(f, "format version {}, created {} ({} ms){by}", s.version, utc(s.created_ms), s.created_ms)?;
        writeln!(f, "{} bytes in {} blocks", s.bytes, s.blocks)?;
        let kinds: Vec<String> =
            KINDS.iter().zip(self.by_kind).map(|(k, n)| format!("{} {n}", k.name())).collect();
        writeln!(f, "{} keys: {}", s.keys, kinds.join(", "))?;
        writeln!(f, "{} with an expiry, {} of them already expired", self.volatile, self.expired)
    }
}

/// A Unix time in ms as `YYYY-MM-DD HH:MM:SS.mmm UTC` (proleptic Gregorian calendar).
fn utc(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Days since 1970-01-01 to a civil date, counting in 400-year eras that start on March 1st.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, sec, milli) =
        (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{sec:02}.{milli:03} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::entry::Value;
    use crate::types::hash::{Hash, HashLimits};
    use crate::types::list::List;
    use crate::types::set::{Set, SetLimits};
    use crate::types::zset::{Zset, ZsetLimits};
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000;

    /// Everything observable about an entry, in an order-independent form.
    fn fingerprint(e: &Entry) -> (Vec<u8>, i64, Kind, &'static str, Vec<Vec<u8>>) {
        let (encoding, mut items): (&str, Vec<Vec<u8>>) = match e.value() {
            Some(Value::Hash(h)) => (h.encoding(), h.iter().map(|(f, v)| [f, b"=", v].concat()).collect()),
            Some(Value::List(l)) => {
                (l.encoding(), l.iter().enumerate().map(|(i, x)| [&i.to_le_bytes(), x].concat()).collect())
            }
            Some(Value::Set(s)) => (s.encoding(), s.iter().map(|m| m.to_vec()).collect()),
            Some(Value::Zset(z)) => {
                (z.encoding(), z.iter().map(|(m, s)| [m, &s.to_le_bytes()].concat()).collect())
            }
            _ => ("string", vec![e.as_str().unwrap_or_default().to_vec()]),
        };
        items.sort();
        (e.key().to_vec(), e.expire_at(), e.kind(), encoding, items)
    }

    fn members(prefix: &str, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("{prefix}{i}").into_bytes()).collect()
    }

    /// One entry of every type in every encoding, with and without an expiry.
    fn every_kind() -> Vec<Entry> {
        let config = Config::default();
        let mut out = Vec::new();
        for (i, expire) in [0, NOW + 60_000].into_iter().enumerate() {
            let k = |name: &str| format!("{name}:{i}").into_bytes();
            let big = vec![b'x'; 200_000];
            for (name, v) in
                [("empty", &b""[..]), ("int", b"12345"), ("neg", b"-1"), ("short", b"hello"), ("big", &big)]
            {
                out.push(Entry::string(&k(name), v, expire));
            }
            out.push(Entry::string(b"", b"empty key", expire));
            for n in [3, 3000] {
                let limits =
                    HashLimits { max_entries: config.hash_max_entries, max_value: config.hash_max_value };
                let mut h = Hash::default();
                for m in members("f", n) {
                    h.set(&m, &[&m[..], b"-value"].concat(), limits);
                }
                out.push(Entry::collection(&k(&format!("hash{n}")), h, expire));
                let items = members("e", n);
                let list =
                    List::from_elements(items.iter().map(Vec::as_slice), config.list_max_listpack_size);
                out.push(Entry::collection(&k(&format!("list{n}")), list, expire));
                let lim = SetLimits { max_intset: 512, max_entries: 128, max_value: 64 };
                let ints: Vec<Vec<u8>> =
                    (0..n).map(|i| (i as i64 * 7 - 3).to_string().into_bytes()).collect();
                for (tag, m) in [("s", &items), ("i", &ints)] {
                    let set = Set::from_members(m.iter().map(Vec::as_slice), &lim).unwrap();
                    out.push(Entry::collection(&k(&format!("set{tag}{n}")), set, expire));
                }
                let mut pairs: Vec<(&[u8], f64)> =
                    items.iter().enumerate().map(|(j, m)| (m.as_slice(), j as f64 * -0.25)).collect();
                pairs.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
                let z = Zset::from_sorted(&pairs, ZsetLimits { max_entries: 128, max_value: 64 });
                out.push(Entry::collection(&k(&format!("zset{n}")), z, expire));
            }
        }
        out
    }

    /// A whole file, taking a block whenever `block_every` records have been pushed (or at the target).
    fn write(entries: &[Entry], block_every: usize) -> Vec<u8> {
        let (mut enc, mut file) = Encoder::new(&SnapshotMeta { created_ms: NOW, ..SnapshotMeta::default() });
        for (i, e) in entries.iter().enumerate() {
            enc.push(e);
            if (i + 1) % block_every == 0 || enc.pending() >= BLOCK_TARGET {
                file.extend(enc.take_block().unwrap());
            }
        }
        file.extend(enc.finish());
        file
    }

    fn read(file: &[u8], now: i64) -> Result<(LoadStats, Vec<Entry>), LoadError> {
        let mut out = Vec::new();
        let stats =
            load_from(file, Path::new("snap"), &Config::default(), now, &mut |_| {}, &mut |e| out.push(e))?;
        Ok((stats, out))
    }

    fn fail(file: &[u8], now: i64) -> LoadError {
        match read(file, now) {
            Ok((stats, _)) => panic!("loaded: {stats:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_type_round_trips() {
        let entries = every_kind();
        let file = write(&entries, usize::MAX);
        let (stats, back) = read(&file, NOW).unwrap();
        assert_eq!(back.len(), entries.len());
        for (a, b) in entries.iter().zip(&back) {
            assert_eq!(fingerprint(a), fingerprint(b));
        }
        let encodings: Vec<_> = back.iter().map(|e| fingerprint(e).3).collect();
        for want in ["listpack", "hashtable", "quicklist", "intset", "skiplist"] {
            assert!(encodings.contains(&want), "no {want} in {encodings:?}");
        }
        assert_eq!(stats.keys, entries.len() as u64);
        assert_eq!((stats.bytes, stats.created_ms, stats.version), (file.len() as u64, NOW, FORMAT_VERSION));
        assert_eq!(stats.slotkv_version, env!("CARGO_PKG_VERSION"));
        assert!(stats.blocks >= 2, "the 200 KB strings fill blocks of their own");
    }

    #[test]
    fn expired_keys_are_skipped_and_counted() {
        let entries: Vec<Entry> = [0, NOW - 1, NOW, NOW + 1]
            .iter()
            .enumerate()
            .map(|(i, &t)| Entry::string(format!("k{i}").as_bytes(), b"v", t))
            .collect();
        let file = write(&entries, 2);
        let (stats, back) = read(&file, NOW).unwrap();
        let keys: Vec<&[u8]> = back.iter().map(Entry::key).collect();
        assert_eq!(keys, [&b"k0"[..], b"k3"]);
        assert_eq!((stats.keys, stats.expired_skipped), (2, 2));
        assert_eq!(read(&file, 0).unwrap().0.keys, 4);
    }

    #[test]
    fn empty_snapshot_and_empty_blocks() {
        let (mut enc, mut file) = Encoder::new(&SnapshotMeta { created_ms: -5, ..SnapshotMeta::default() });
        assert_eq!(enc.pending(), 0);
        assert!(enc.take_block().is_none());
        file.extend(enc.finish());
        let (stats, back) = read(&file, NOW).unwrap();
        assert_eq!((stats.keys, stats.blocks, stats.created_ms, back.len()), (0, 0, -5, 0));
    }

    #[test]
    fn many_blocks_in_any_order() {
        let mut entries: Vec<Entry> =
            (0..20_000).map(|i| Entry::string(format!("key:{i}").as_bytes(), &[b'v'; 100], 0)).collect();
        fastrand::seed(7);
        fastrand::shuffle(&mut entries);
        let file = write(&entries, usize::MAX);
        let mut seen = Vec::new();
        let mut got = Vec::new();
        let stats =
            load_from(&file[..], Path::new("s"), &Config::default(), NOW, &mut |p| seen.push(p), &mut |e| {
                got.push(e.key().to_vec())
            })
            .unwrap();
        assert!(stats.blocks > 25, "{} blocks", stats.blocks);
        assert_eq!(seen.len() as u64, stats.blocks);
        assert!(seen.windows(2).all(|w| w[0] < w[1]) && *seen.last().unwrap() < file.len() as u64);
        let want: Vec<Vec<u8>> = entries.iter().map(|e| e.key().to_vec()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn blocks_stay_near_the_target() {
        let (mut enc, _) = Encoder::new(&SnapshotMeta { created_ms: 0, ..SnapshotMeta::default() });
        let mut sizes = Vec::new();
        for i in 0..5000 {
            enc.push(&Entry::string(format!("{i}").as_bytes(), &[0; 100], 0));
            if enc.pending() >= BLOCK_TARGET {
                sizes.push(enc.take_block().unwrap().len());
            }
        }
        assert!(sizes.iter().all(|&s| (BLOCK_TARGET..BLOCK_TARGET + 200).contains(&s)), "{sizes:?}");
    }

    /// The start of each part of a file: header, blocks, footer.
    fn parts(file: &[u8]) -> Vec<u64> {
        let mut starts = vec![0];
        let aux = u32::from_le_bytes(file[18..22].try_into().unwrap()) as usize;
        let mut at = HEADER_FIXED + aux + 8;
        while file[at] == BLOCK_TAG {
            starts.push(at as u64);
            at += BLOCK_HEADER + le64(&file[at + 1..]) as usize;
        }
        starts.push(at as u64);
        assert_eq!(at + 1 + FOOTER_REST, file.len());
        starts
    }

    fn small_file() -> Vec<u8> {
        let mut h = Hash::default();
        h.set(b"f", b"v", HashLimits::default());
        let entries = vec![
            Entry::string(b"a", b"1", 0),
            Entry::string(b"b", b"two", NOW + 5),
            Entry::collection(b"h", h, 0),
            Entry::string(b"c", b"", 0),
            Entry::string(b"d", b"four", 0),
        ];
        write(&entries, 2)
    }

    #[test]
    fn a_flipped_byte_is_found_in_its_part() {
        let file = small_file();
        let starts = parts(&file);
        assert_eq!(starts.len(), 5, "header, three blocks, footer");
        for i in 0..file.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bad = file.clone();
                bad[i] ^= mask;
                let err =
                    read(&bad, NOW).err().unwrap_or_else(|| panic!("flip {mask:#x} at {i} not detected"));
                let part = *starts.iter().rfind(|&&s| s <= i as u64).unwrap();
                assert_eq!(err.offset, part, "flip {mask:#x} at {i}: {err}");
            }
        }
    }

    #[test]
    fn truncation_at_every_offset_is_detected() {
        let file = small_file();
        let starts = parts(&file);
        for len in 0..file.len() {
            let err = read(&file[..len], NOW).err().unwrap_or_else(|| panic!("cut at {len} not detected"));
            let part = *starts.iter().rfind(|&&s| s <= len as u64).unwrap();
            assert!(err.offset == part, "cut at {len}: {err}");
            assert!(err.reason.contains("truncated"), "cut at {len}: {err}");
        }
        let mut longer = file.clone();
        longer.push(0);
        let err = fail(&longer, NOW);
        assert_eq!(err.offset, file.len() as u64);
    }

    #[test]
    fn errors_name_file_and_offset() {
        let mut file = small_file();
        let starts = parts(&file);
        let second = starts[2] as usize;
        file[second + BLOCK_HEADER + 1] ^= 1;
        let err = fail(&file, NOW);
        assert_eq!(err.to_string(), format!("snap at offset {second}: {}", err.reason));
        assert!(err.reason.contains("checksum"), "{err}");
    }

    /// A block whose checksum is right but whose records are not: the record at fault is named.
    #[test]
    fn bad_records_are_named() {
        let (mut enc, header) = Encoder::new(&SnapshotMeta { created_ms: 0, ..SnapshotMeta::default() });
        enc.push(&Entry::string(b"ok", b"v", 0));
        let good = enc.pending();
        let cases: [(&[u8], &str); 4] = [
            (&[9, 0, 1, b'k', 0], "unknown type"),
            (&[0, 0, 5, b'k'], "runs past"),
            (&[1, 0, 1, b'k', 1, 0x05], "malformed"),
            (&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, b'k', 0], "out of range"),
        ];
        for (record, reason) in cases {
            let mut payload = {
                let (mut e, _) = Encoder::new(&SnapshotMeta { created_ms: 0, ..SnapshotMeta::default() });
                e.push(&Entry::string(b"ok", b"v", 0));
                e.block[BLOCK_HEADER..].to_vec()
            };
            payload.extend_from_slice(record);
            let mut file = header.clone();
            file.push(BLOCK_TAG);
            file.extend((payload.len() as u64).to_le_bytes());
            file.extend(CRC64.checksum(&payload).to_le_bytes());
            file.extend(&payload);
            let err = fail(&file, 0);
            assert_eq!(err.offset as usize, header.len() + BLOCK_HEADER + good, "{err}");
            assert!(err.reason.contains(reason), "{err}");
        }
    }

    #[test]
    fn a_huge_length_does_not_allocate() {
        let (_, mut file) = Encoder::new(&SnapshotMeta { created_ms: 0, ..SnapshotMeta::default() });
        let header = file.len() as u64;
        file.push(BLOCK_TAG);
        file.extend((1u64 << 50).to_le_bytes());
        file.extend(0u64.to_le_bytes());
        file.extend([1, 2, 3]);
        let err = fail(&file, 0);
        assert_eq!(err.offset, header);
        assert!(err.reason.contains("truncated"), "{err}");
        // The payload buffer grew with the bytes that arrived, not with the claim.
        let mut src = Source { r: &[7u8; 10][..], pos: 0, name: Path::new("x") };
        let mut buf = Vec::new();
        assert_eq!(read_payload(&mut src, u64::MAX, &mut buf).unwrap(), 10);
        assert!(buf.capacity() <= FIRST_CHUNK, "{}", buf.capacity());
        let data = vec![7u8; 1_000_000];
        let mut src = Source { r: &data[..], pos: 0, name: Path::new("x") };
        assert_eq!(read_payload(&mut src, 1 << 40, &mut buf).unwrap(), 1_000_000);
        assert!(buf.capacity() <= 2_000_000, "{}", buf.capacity());
        assert_eq!(buf, data);
        // A header claiming a huge aux section is refused before reading it.
        let (_, mut file) = Encoder::new(&SnapshotMeta { created_ms: 0, ..SnapshotMeta::default() });
        file[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(fail(&file, 0).reason.contains("aux"));
    }

    #[test]
    fn other_versions_and_files_are_refused() {
        let file = small_file();
        let mut newer = file.clone();
        newer[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert!(fail(&newer, 0).reason.contains("version"));
        let err = fail(b"REDIS0011\xfa\x09redis-ver\x057.0.0 and more bytes", 0);
        assert_eq!(err.offset, 0);
        assert!(err.reason.contains("not a slotkv snapshot"), "{err}");
    }

    #[test]
    fn check_reports_types_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.snap");
        let mut entries = every_kind();
        entries.push(Entry::string(b"gone", b"v", NOW - 1));
        std::fs::write(&path, write(&entries, 3)).unwrap();
        let s = check(&path, NOW).unwrap();
        assert_eq!(s.stats.keys, entries.len() as u64);
        assert_eq!(s.by_kind, [13, 4, 8, 4, 4]);
        assert_eq!((s.volatile, s.expired), (entries.len() as u64 / 2 + 1, 1));
        let text = s.to_string();
        assert!(text.contains("created 2023-11-14 22:13:20.000 UTC"), "{text}");
        assert!(text.contains("string 13, list 4, set 8, zset 4, hash 4"), "{text}");
        assert_eq!(check_cli(&[path.display().to_string()]), ExitCode::SUCCESS);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 4;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(check_cli(&[path.display().to_string()]), ExitCode::from(1));
        assert_eq!(check_cli(&[]), ExitCode::from(1));
        assert_eq!(check_cli(&[dir.path().join("missing").display().to_string()]), ExitCode::from(1));
    }

    #[test]
    fn the_encoder_can_move_to_another_thread() {
        fn send<T: Send>(_: &T) {}
        let (enc, _) = Encoder::new(&SnapshotMeta { created_ms: 0, ..SnapshotMeta::default() });
        send(&enc);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(utc(951_782_400_000 + 1), "2000-02-29 00:00:00.001 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59.999 UTC");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert!(read(&bytes, NOW).is_err());
            // The same bytes behind a valid header, to reach the block and record parsers.
            let (_, mut file) = Encoder::new(&SnapshotMeta { created_ms: 0, ..SnapshotMeta::default() });
            file.extend(&bytes);
            prop_assert!(read(&file, NOW).is_err());
        }

        #[test]
        fn damaged_files_never_panic(at in any::<prop::sample::Index>(), junk in proptest::collection::vec(any::<u8>(), 1..20)) {
            let file = small_file();
            let i = at.index(file.len());
            let mut bad = file.clone();
            bad.splice(i..(i + junk.len()).min(file.len()), junk.iter().copied());
            if bad != file {
                prop_assert!(read(&bad, NOW).is_err());
            }
        }

        #[test]
        fn random_strings_round_trip(
            items in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(any::<u8>(), 0..80), 0i64..3), 0..60),
            every in 1usize..10,
        ) {
            let entries: Vec<Entry> = items
                .iter()
                .map(|(k, v, t)| Entry::string(k, v, if *t == 0 { 0 } else { NOW + t }))
                .collect();
            let (_, back) = read(&write(&entries, every), NOW).unwrap();
            prop_assert_eq!(back.len(), entries.len());
            for (a, b) in entries.iter().zip(&back) {
                prop_assert_eq!(fingerprint(a), fingerprint(b));
            }
        }
    }
}
