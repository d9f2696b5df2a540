//! `cluster.toml`: the local cluster `slotkv up` starts. Every field has a default (the built-in
//! default is the same cluster as the repository's `cluster.toml`); unknown fields are errors, and every
//! error names the field.

use crate::error::{Failure, Res};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Address every node and the router bind to (and announce). Default `127.0.0.1`.
    pub host: String,
    /// Where each node keeps its data dir and log (`<data_dir>/<port>/`), relative to the file's folder.
    /// Default `data`.
    pub data_dir: PathBuf,
    pub nodes: NodesConfig,
    pub router: RouterConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodesConfig {
    /// Client ports; each node's cluster bus is its port + 10000. Default `[7000, 7001, 7002]`.
    pub ports: Vec<u16>,
    /// Replicas per master: the first `len(ports) / (replicas + 1)` ports are the masters, the others
    /// their replicas (as `slotkv create --replicas`). Default `0`.
    pub replicas: usize,
    /// Persist every write to an append-only file. Default `true`.
    pub appendonly: bool,
    /// When the AOF reaches the disk: `always`, `everysec` or `no`. Default `everysec`.
    pub appendfsync: Fsync,
    /// Further `slotkv-node` settings, as `--name value` pairs (`["--maxmemory", "1gb"]`). Default `[]`.
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    Always,
    Everysec,
    No,
}

impl Fsync {
    pub fn as_str(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::No => "no",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Start `slotkv-router` in front of the nodes. Default `true`.
    pub enabled: bool,
    /// Its port. Default `7100`.
    pub port: u16,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            host: "127.0.0.1".into(),
            data_dir: PathBuf::from("data"),
            nodes: NodesConfig::default(),
            router: RouterConfig::default(),
        }
    }
}

impl Default for NodesConfig {
    fn default() -> Self {
        NodesConfig {
            ports: vec![7000, 7001, 7002],
            replicas: 0,
            appendonly: true,
            appendfsync: Fsync::Everysec,
            args: Vec::new(),
        }
    }
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig { enabled: true, port: 7100 }
    }
}

/// A loaded configuration and where relative paths start.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: ClusterConfig,
    /// The file it came from (`None`: the built-in default).
    pub file: Option<PathBuf>,
    /// The data dir, absolute.
    pub data_dir: PathBuf,
}

impl Loaded {
    /// `host:port` of every node.
    pub fn node_addrs(&self) -> Vec<String> {
        self.config.nodes.ports.iter().map(|p| format!("{}:{p}", self.config.host)).collect()
    }

    pub fn node_dir(&self, port: u16) -> PathBuf {
        self.data_dir.join(port.to_string())
    }

    pub fn router_dir(&self) -> PathBuf {
        self.data_dir.join("router")
    }
}

/// Parses and checks a configuration's text; errors name the field.
pub fn parse(text: &str) -> Result<ClusterConfig, String> {
    let config: ClusterConfig = toml::from_str(text).map_err(|e| e.to_string())?;
    validate(&config)?;
    Ok(config)
}

fn validate(c: &ClusterConfig) -> Result<(), String> {
    if c.host.trim().is_empty() {
        return Err("host: must not be empty".into());
    }
    if c.nodes.ports.is_empty() {
        return Err("nodes.ports: at least one port is needed".into());
    }
    for (i, &p) in c.nodes.ports.iter().enumerate() {
        if p == 0 || p > 55535 {
            return Err(format!(
                "nodes.ports: {p} is not usable (1-55535: the bus port, port + 10000, must exist)"
            ));
        }
        if c.nodes.ports.iter().skip(i + 1).any(|&q| q == p) {
            return Err(format!("nodes.ports: {p} is listed twice"));
        }
        if c.nodes.ports.contains(&(p + 10000)) {
            return Err(format!("nodes.ports: {} is the cluster bus port of {p}", p + 10000));
        }
    }
    let need = c.nodes.replicas.saturating_add(1);
    if c.nodes.ports.len() < need {
        return Err(format!(
            "nodes.replicas: {} replica(s) per master need at least {need} ports, nodes.ports has {}",
            c.nodes.replicas,
            c.nodes.ports.len()
        ));
    }
    if c.router.enabled {
        let r = c.router.port;
        if r == 0 {
            return Err("router.port: must not be 0".into());
        }
        if c.nodes.ports.iter().any(|&p| p == r || p + 10000 == r) {
            return Err(format!("router.port: {r} is taken by a node (or its bus port)"));
        }
    }
    if c.data_dir.as_os_str().is_empty() {
        return Err("data_dir: must not be empty".into());
    }
    Ok(())
}

/// The file given with `-c`, else `./cluster.toml` if there is one, else the built-in default (relative
/// to the current folder).
pub fn load(file: Option<&Path>) -> Res<Loaded> {
    let file = match file {
        Some(f) => Some(f.to_path_buf()),
        None => Some(PathBuf::from("cluster.toml")).filter(|p| p.is_file()),
    };
    let (config, base) = match &file {
        Some(f) => {
            let text =
                std::fs::read_to_string(f).map_err(|e| Failure::Usage(format!("{}: {e}", f.display())))?;
            let config = parse(&text).map_err(|e| Failure::Usage(format!("{}: {e}", f.display())))?;
            (config, f.parent().map(Path::to_path_buf).unwrap_or_default())
        }
        None => (ClusterConfig::default(), PathBuf::new()),
    };
    let base = if base.as_os_str().is_empty() { std::env::current_dir()? } else { base };
    let data_dir = base.join(&config.data_dir);
    Ok(Loaded { config, file, data_dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_file_is_the_default() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../cluster.toml")).unwrap();
        assert_eq!(parse(&text).unwrap(), ClusterConfig::default());
        assert_eq!(parse("").unwrap(), ClusterConfig::default());
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse("[nodes]\nportz = [1]\n").unwrap_err();
        assert!(e.contains("portz"), "{e}");
        let e = parse("[nodes]\nports = \"7000\"\n").unwrap_err();
        assert!(e.contains("ports"), "{e}");
        let e = parse("[nodes]\nappendfsync = \"sometimes\"\n").unwrap_err();
        assert!(e.contains("appendfsync") && e.contains("sometimes"), "{e}");
        let e = parse("[nodes]\nports = [7000, 7000]\n").unwrap_err();
        assert!(e.starts_with("nodes.ports"), "{e}");
        let e = parse("[nodes]\nports = [7000]\n[router]\nport = 17000\n").unwrap_err();
        assert!(e.starts_with("router.port"), "{e}");
        let e = parse("hots = \"x\"\n").unwrap_err();
        assert!(e.contains("hots"), "{e}");
        let e = parse("[nodes]\nports = []\n").unwrap_err();
        assert!(e.starts_with("nodes.ports"), "{e}");
        let e = parse("[nodes]\nports = [7000]\nreplicas = 1\n").unwrap_err();
        assert!(e.starts_with("nodes.replicas") && e.contains("at least 2 ports"), "{e}");
        let e = parse("[nodes]\nreplicas = -1\n").unwrap_err();
        assert!(e.contains("replicas"), "{e}");
        let six = parse("[nodes]\nports = [1, 2, 3, 4, 5, 6]\nreplicas = 1\n").unwrap();
        assert_eq!(six.nodes.replicas, 1);
    }
}
