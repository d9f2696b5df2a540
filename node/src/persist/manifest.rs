//! The AOF manifest: the small text file that says which files make up the append-only file, in Redis 7's
//! multi-part AOF format, so that an AOF directory written by slotkv reads like one written by Redis.
//!
//! The manifest `<appendfilename>.manifest` lives in `appenddirname` beside the files it names. One line
//! per file, `\n`-terminated, space-separated key/value pairs:
//!
//! ```text
//! file appendonly.aof.2.base.rdb seq 2 type b
//! file appendonly.aof.1.base.rdb seq 1 type h
//! file appendonly.aof.3.incr.aof seq 3 type i
//! file appendonly.aof.4.incr.aof seq 4 type i
//! ```
//!
//! - `type b`: the base snapshot (at most one), `appendonly.aof.<seq>.base.rdb`, loaded first;
//!   `type h`: history, a former base or incr file no longer needed, waiting to be deleted;
//!   `type i`: an incremental file, `appendonly.aof.<seq>.incr.aof`, replayed after the base in `seq` order.
//! - Base and incr files count their `seq` separately; incr `seq`s must strictly increase down the file.
//! - A name that needs it (spaces, quotes, control or non-ASCII bytes) is written in double quotes with
//!   `\\ \" \n \r \t \a \b \xHH` escapes, and read back with the inline-command quoting rules, as Redis does.
//! - On reading, as in Redis: lines starting with `#` are comments; keys are case-insensitive; unknown keys
//!   are ignored (a newer writer may add some); a blank line, an odd number of words, fewer than six words,
//!   a missing `file`/`seq`/`type`, a name with a `/`, a second base or a non-increasing incr `seq` is an
//!   error naming the line. We also refuse a `seq` that is not a positive decimal, an unknown type, a line
//!   over 1024 bytes and a name listed twice.
//!
//! The manifest is replaced atomically ([`fsutil::write_atomically`]), so a crash leaves the old or the new.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::persist::fsutil;

/// The longest manifest line Redis reads.
const MAX_LINE: usize = 1024;

/// What a file listed in the manifest is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The snapshot the incr files apply to (`type b`).
    Base,
    /// No longer part of the data set; kept only until it is deleted (`type h`).
    History,
    /// Write commands in RESP, replayed in order after the base (`type i`).
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// A bare file name in the AOF directory.
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// The files making up the AOF, in manifest order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub files: Vec<ManifestFile>,
}

/// `<prefix>.manifest`, the manifest's name for `appendfilename` `prefix`.
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// `<prefix>.<seq>.base.rdb`: the base file is in slotkv's snapshot format.
pub fn base_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.base.rdb")
}

/// `<prefix>.<seq>.incr.aof`.
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

impl Manifest {
    /// Parses and validates a manifest; errors name the 1-based line.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        if text.is_empty() {
            return Err("empty AOF manifest".into());
        }
        let mut manifest = Manifest::default();
        let mut max_incr_seq = 0;
        let text = text.strip_suffix('\n').unwrap_or(text);
        for (index, raw) in text.split('\n').enumerate() {
            let at = |msg: &str| format!("line {}: {msg}", index + 1);
            if raw.starts_with('#') {
                continue;
            }
            if raw.len() > MAX_LINE {
                return Err(at("line too long"));
            }
            let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r'));
            if line.is_empty() {
                return Err(at("blank line"));
            }
            let mut words = Vec::new();
            slotkv_proto::request::split_args(line.as_bytes(), &mut words)
                .ok_or_else(|| at("unbalanced quotes"))?;
            if words.len() < 6 || words.len() % 2 != 0 {
                return Err(at("expected 'file NAME seq N type T'"));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks_exact(2) {
                let [key, value] = pair else { continue };
                if key.eq_ignore_ascii_case(b"file") {
                    let n = String::from_utf8(value.clone()).map_err(|_| at("file name is not UTF-8"))?;
                    if n.is_empty() || n == "." || n == ".." || n.contains('/') || n.contains('\0') {
                        return Err(at("file can't be a path, just a file name"));
                    }
                    name = Some(n);
                } else if key.eq_ignore_ascii_case(b"seq") {
                    let s = std::str::from_utf8(value)
                        .ok()
                        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse::<u64>().ok())
                        .filter(|&s| s > 0)
                        .ok_or_else(|| at("seq must be a positive integer"))?;
                    seq = Some(s);
                } else if key.eq_ignore_ascii_case(b"type") {
                    kind = Some(match value.as_slice() {
                        b"b" => FileKind::Base,
                        b"h" => FileKind::History,
                        b"i" => FileKind::Incr,
                        _ => return Err(at("unknown AOF file type")),
                    });
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(at("missing file, seq or type"));
            };
            match kind {
                FileKind::Base if manifest.base().is_some() => return Err(at("second base file")),
                FileKind::Incr if seq <= max_incr_seq => return Err(at("incr seq not increasing")),
                FileKind::Incr => max_incr_seq = seq,
                _ => {}
            }
            if manifest.files.iter().any(|f| f.name == name) {
                return Err(at("file listed twice"));
            }
            manifest.files.push(ManifestFile { name, seq, kind });
        }
        Ok(manifest)
    }

    /// The manifest text: base first, then history, then incr files, as Redis orders them.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for kind in [FileKind::Base, FileKind::History, FileKind::Incr] {
            for f in self.files.iter().filter(|f| f.kind == kind) {
                let _ = writeln!(out, "file {} seq {} type {}", quote(&f.name), f.seq, kind.letter());
            }
        }
        out
    }

    /// Reads the manifest at `path`; `None` if there is none (a fresh AOF directory).
    pub fn load(path: &Path) -> io::Result<Option<Manifest>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
        let text = String::from_utf8(bytes).map_err(|e| {
            invalid(format!("{}: not UTF-8 (byte {})", path.display(), e.utf8_error().valid_up_to()))
        })?;
        Manifest::parse(&text).map(Some).map_err(|e| invalid(format!("{}: {e}", path.display())))
    }

    /// Replaces the manifest at `path` atomically and durably.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        fsutil::write_atomically(path, self.render().as_bytes())
    }

    pub fn base(&self) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.kind == FileKind::Base)
    }

    /// The incr files to replay after the base, in `seq` order.
    pub fn incrs(&self) -> impl Iterator<Item = &ManifestFile> {
        // `parse` guarantees increasing seqs; files pushed by hand are sorted here all the same.
        let mut v: Vec<&ManifestFile> = self.files.iter().filter(|f| f.kind == FileKind::Incr).collect();
        v.sort_by_key(|f| f.seq);
        v.into_iter()
    }

    /// Files that may be deleted.
    pub fn history(&self) -> impl Iterator<Item = &ManifestFile> {
        self.files.iter().filter(|f| f.kind == FileKind::History)
    }

    /// The seq the next base gets (base and incr files count separately; history keeps its old seq).
    pub fn next_base_seq(&self) -> u64 {
        self.max_seq(&[FileKind::Base]) + 1
    }

    /// The seq the next incr file gets: history counts too, so that a name is never reused while an old
    /// file of that name may still be on disk.
    pub fn next_incr_seq(&self) -> u64 {
        let incr_names =
            self.files.iter().filter(|f| f.kind != FileKind::Base && f.name.ends_with(".incr.aof"));
        let history = incr_names.map(|f| f.seq).max().unwrap_or(0);
        history.max(self.max_seq(&[FileKind::Incr])) + 1
    }

    fn max_seq(&self, kinds: &[FileKind]) -> u64 {
        self.files.iter().filter(|f| kinds.contains(&f.kind)).map(|f| f.seq).max().unwrap_or(0)
    }

    /// Adds a new incr file (where writes go from now on), as at start-up or when a rewrite begins.
    /// Returns the new manifest and the file's entry.
    pub fn with_new_incr(&self, prefix: &str) -> (Manifest, ManifestFile) {
        let seq = self.next_incr_seq();
        let file = ManifestFile { name: incr_name(prefix, seq), seq, kind: FileKind::Incr };
        let mut m = self.clone();
        m.files.push(file.clone());
        (m, file)
    }

    /// Installs a new base after a rewrite: the old base and every incr file with `seq < first_kept_incr`
    /// (the ones the new base already contains) become history; incr files from `first_kept_incr` on (opened
    /// when the rewrite began) stay. Returns the new manifest and the new base's entry.
    pub fn with_new_base(&self, prefix: &str, first_kept_incr: u64) -> (Manifest, ManifestFile) {
        let seq = self.next_base_seq();
        let base = ManifestFile { name: base_name(prefix, seq), seq, kind: FileKind::Base };
        let mut m = Manifest { files: vec![base.clone()] };
        for f in &self.files {
            let retire = f.kind == FileKind::Base || (f.kind == FileKind::Incr && f.seq < first_kept_incr);
            let kind = if retire { FileKind::History } else { f.kind };
            m.files.push(ManifestFile { kind, ..f.clone() });
        }
        (m, base)
    }

    /// The manifest without its history lines, once those files are deleted.
    pub fn without_history(&self) -> Manifest {
        Manifest { files: self.files.iter().filter(|f| f.kind != FileKind::History).cloned().collect() }
    }
}

/// Writes a name bare if it can be, otherwise quoted with Redis's `sdscatrepr` escapes.
fn quote(name: &str) -> String {
    let needs = name.is_empty()
        || name.bytes().any(|b| b == b'\\' || b == b'"' || b == b'\'' || !b.is_ascii_graphic());
    if !needs {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for b in name.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            b' '..=b'~' => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(name: &str, seq: u64, kind: FileKind) -> ManifestFile {
        ManifestFile { name: name.into(), seq, kind }
    }

    #[test]
    fn parses_what_redis_writes() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.base.rdb seq 1 type h\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n\
                    file appendonly.aof.4.incr.aof seq 4 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base(), Some(&file("appendonly.aof.2.base.rdb", 2, FileKind::Base)));
        let incrs: Vec<u64> = m.incrs().map(|f| f.seq).collect();
        assert_eq!(incrs, vec![3, 4]);
        assert_eq!(m.history().count(), 1);
        assert_eq!(m.render(), text);
        assert_eq!(m.next_base_seq(), 3);
        assert_eq!(m.next_incr_seq(), 5);
    }

    #[test]
    fn comments_unknown_keys_case_and_crlf_are_accepted() {
        let text = "# written by hand\nFILE a seq 1 TYPE i startoffset 0 endoffset 9\r\nfile b seq 2 type i";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.files, vec![file("a", 1, FileKind::Incr), file("b", 2, FileKind::Incr)]);
    }

    #[test]
    fn rejects_bad_manifests_naming_the_line() {
        let bad = [
            ("", "empty"),
            ("file a seq 1 type i\n\nfile b seq 2 type i\n", "line 2: blank"),
            ("file a seq 1 type\n", "line 1: expected"),
            ("file a seq 1\n", "line 1: expected"),
            ("file a seq 1 type b\nfile b seq 2 type b\n", "line 2: second base"),
            ("file a seq 2 type i\nfile b seq 2 type i\n", "line 2: incr seq not increasing"),
            ("file a seq 0 type i\n", "line 1: seq"),
            ("file a seq -1 type i\n", "line 1: seq"),
            ("file a seq +1 type i\n", "line 1: seq"),
            ("file a seq 99999999999999999999 type i\n", "line 1: seq"),
            ("file a seq 1 type x\n", "line 1: unknown AOF file type"),
            ("file a seq 1 type bb\n", "line 1: unknown AOF file type"),
            ("file ../a seq 1 type i\n", "line 1: file can't be a path"),
            ("file .. seq 1 type i\n", "line 1: file can't be a path"),
            ("file \"\" seq 1 type i\n", "line 1: file can't be a path"),
            ("file \"a seq 1 type i\n", "line 1: unbalanced"),
            ("name a seq 1 type i\n", "line 1: missing"),
            ("file a seq 1 type i\nfile a seq 2 type i\n", "line 2: file listed twice"),
            ("file \"\\xff\" seq 1 type i\n", "line 1: file name is not UTF-8"),
        ];
        for (text, want) in bad {
            let err = Manifest::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let long = format!("file {} seq 1 type i\n", "a".repeat(1100));
        assert!(Manifest::parse(&long).unwrap_err().contains("too long"));
    }

    #[test]
    fn names_with_spaces_and_escapes_are_quoted() {
        let m = Manifest {
            files: vec![
                file("my aof.1.base.rdb", 1, FileKind::Base),
                file("q\"\\\n\t\u{7}é'x", 1, FileKind::Incr),
            ],
        };
        let text = m.render();
        assert!(text.starts_with("file \"my aof.1.base.rdb\" seq 1 type b\n"), "{text}");
        assert!(text.contains("\"q\\\"\\\\\\n\\t\\a\\xc3\\xa9'x\""), "{text}");
        assert_eq!(Manifest::parse(&text).unwrap(), m);
    }

    #[test]
    fn rewrite_helpers_move_old_files_to_history() {
        let m = Manifest::default();
        assert_eq!(m.next_base_seq(), 1);
        let (m, i1) = m.with_new_incr("appendonly.aof");
        assert_eq!(i1.name, "appendonly.aof.1.incr.aof");
        // A rewrite begins: new incr file 2; it ends: base 1 holds everything up to incr 1.
        let (m, i2) = m.with_new_incr("appendonly.aof");
        let (m, b1) = m.with_new_base("appendonly.aof", i2.seq);
        assert_eq!(b1.name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.base(), Some(&b1));
        assert_eq!(m.incrs().cloned().collect::<Vec<_>>(), vec![i2.clone()]);
        assert_eq!(
            m.history().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            vec!["appendonly.aof.1.incr.aof"]
        );
        let (m, b2) = m.with_new_base("appendonly.aof", i2.seq);
        assert_eq!(b2.seq, 2);
        assert_eq!(m.history().count(), 2);
        let clean = m.without_history();
        assert_eq!(clean.files, vec![b2, i2]);
        assert_eq!(Manifest::parse(&m.render()).unwrap().files.len(), 4);
        // History incr names are not reused even when the manifest no longer lists live incr files.
        assert_eq!(m.next_incr_seq(), 3);
    }

    #[test]
    fn load_and_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(manifest_name("appendonly.aof"));
        assert_eq!(Manifest::load(&path).unwrap(), None);
        let (m, _) = Manifest::default().with_new_incr("appendonly.aof");
        m.save(&path).unwrap();
        assert_eq!(Manifest::load(&path).unwrap(), Some(m));
        std::fs::write(&path, "file a seq 1 type z\n").unwrap();
        let err = Manifest::load(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("appendonly.aof.manifest: line 1"), "{err}");
    }

    fn kind() -> impl Strategy<Value = FileKind> {
        prop_oneof![Just(FileKind::Base), Just(FileKind::History), Just(FileKind::Incr)]
    }

    proptest! {
        #[test]
        fn random_text_never_panics(text in ".{0,300}") {
            let _ = Manifest::parse(&text);
        }

        #[test]
        fn render_parse_round_trip(
            entries in proptest::collection::vec(("[^/\u{0}]{1,20}", 1u64..1000, kind()), 0..8)
        ) {
            let mut m = Manifest::default();
            let mut incr_seq = 0;
            for (name, seq, kind) in entries {
                if name == "." || name == ".." || m.files.iter().any(|f| f.name == name) {
                    continue;
                }
                if kind == FileKind::Base && m.base().is_some() {
                    continue;
                }
                let seq = if kind == FileKind::Incr { incr_seq += seq; incr_seq } else { seq };
                m.files.push(ManifestFile { name, seq, kind });
            }
            // `render` orders by kind, so compare against the same order.
            let mut want = m.clone();
            want.files.sort_by_key(|f| match f.kind { FileKind::Base => 0, FileKind::History => 1, FileKind::Incr => 2 });
            let text = m.render();
            if m.files.is_empty() {
                prop_assert!(Manifest::parse(&text).is_err());
            } else {
                prop_assert_eq!(Manifest::parse(&text).unwrap(), want);
            }
        }
    }
}
