//! (being written: stub with the agreed API)
#![allow(unused)]
use std::io;
use std::path::Path;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub files: Vec<ManifestFile>,
}
impl Manifest {
    pub fn load(path: &Path) -> io::Result<Option<Manifest>> {
        Ok(None)
    }
    pub fn save(&self, path: &Path) -> io::Result<()> {
        Ok(())
    }
    pub fn base(&self) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.kind == FileKind::Base)
    }
    pub fn incrs(&self) -> impl Iterator<Item = &ManifestFile> {
        self.files.iter().filter(|f| f.kind == FileKind::Incr)
    }
}
