//! The router's settings: command-line flags (clap), optionally on top of a TOML file with the same names
//! (`port = 7100`, `seeds = ["127.0.0.1:7000"]`, `backend-password = "..."`, `read-from = "prefer-replica"`).
//! A flag given on the command line wins over the file.

use clap::{Parser, ValueEnum};
use serde::Deserialize;
use slotkv_client::ReadFrom;
use std::path::PathBuf;

#[derive(Parser, Debug, Clone, Default)]
#[command(name = "slotkv-router", version, about = "Makes a slotkv cluster look like one Redis")]
pub struct Args {
    /// TCP port to listen on (default 7100).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on (default 127.0.0.1).
    #[arg(long)]
    pub bind: Option<String>,
    /// Cluster nodes to learn the slot map from: HOST:PORT,HOST:PORT...
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<String>,
    /// Worker threads (default: the cores this process may run on).
    #[arg(long)]
    pub threads: Option<usize>,
    /// A TOML file with the same settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Password clients must give with AUTH (or HELLO ... AUTH).
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Password the router gives the cluster nodes.
    #[arg(long)]
    pub backend_password: Option<String>,
    /// Most clients connected at once (default 10000).
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Which nodes serve read-only commands (default primary): replicas serve reads only when asked.
    #[arg(long, value_enum)]
    pub read_from: Option<ReadFromArg>,
}

/// `--read-from`: the client crate's [`ReadFrom`] as a flag value.
#[derive(ValueEnum, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReadFromArg {
    /// The slot's primary serves every command.
    Primary,
    /// A replica of the slot's primary serves reads; the primary when no replica is up.
    PreferReplica,
    /// Reads spread over the primary and its replicas.
    AnyNode,
}

impl From<ReadFromArg> for ReadFrom {
    fn from(a: ReadFromArg) -> ReadFrom {
        match a {
            ReadFromArg::Primary => ReadFrom::Primary,
            ReadFromArg::PreferReplica => ReadFrom::PreferReplica,
            ReadFromArg::AnyNode => ReadFrom::AnyNode,
        }
    }
}

/// The file form of [`Args`].
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    port: Option<u16>,
    bind: Option<String>,
    seeds: Option<Vec<String>>,
    threads: Option<usize>,
    requirepass: Option<String>,
    backend_password: Option<String>,
    maxclients: Option<usize>,
    read_from: Option<ReadFromArg>,
}

/// The settings the router runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: String,
    pub seeds: Vec<String>,
    pub threads: usize,
    pub requirepass: Option<String>,
    pub backend_password: Option<String>,
    pub maxclients: usize,
    /// The largest query buffer a client may build up before it is disconnected (Redis's
    /// `client-query-buffer-limit`).
    pub max_query_buffer: usize,
    /// Which nodes serve read-only commands.
    pub read_from: ReadFrom,
}

impl Config {
    /// Flags over the file over the defaults; an unreadable file, an unknown setting or no seeds is an error.
    pub fn from_args(args: Args) -> Result<Config, String> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let seeds = if args.seeds.is_empty() { file.seeds.unwrap_or_default() } else { args.seeds };
        let seeds: Vec<String> =
            seeds.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if seeds.is_empty() {
            return Err(
                "no seeds: give --seeds HOST:PORT[,HOST:PORT...] (or seeds in the config file)".into()
            );
        }
        let threads = args
            .threads
            .or(file.threads)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        if threads == 0 {
            return Err("threads must be at least 1".into());
        }
        Ok(Config {
            port: args.port.or(file.port).unwrap_or(7100),
            bind: args.bind.or(file.bind).unwrap_or_else(|| "127.0.0.1".into()),
            seeds,
            threads,
            requirepass: args.requirepass.or(file.requirepass).filter(|p| !p.is_empty()),
            backend_password: args.backend_password.or(file.backend_password).filter(|p| !p.is_empty()),
            maxclients: args.maxclients.or(file.maxclients).unwrap_or(10_000),
            max_query_buffer: 1024 * 1024 * 1024,
            read_from: args.read_from.or(file.read_from).map_or(ReadFrom::Primary, ReadFrom::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("slotkv-router-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("router.toml");
        std::fs::write(&path, "port = 7200\nseeds = [\"127.0.0.1:7000\"]\nbackend-password = \"pw\"\n")
            .unwrap();
        let args = Args { config: Some(path.clone()), port: Some(7300), ..Args::default() };
        let c = Config::from_args(args).unwrap();
        assert_eq!(
            (c.port, c.seeds.clone(), c.backend_password.as_deref()),
            (7300, vec!["127.0.0.1:7000".to_string()], Some("pw"))
        );
        assert_eq!(c.read_from, ReadFrom::Primary, "reads from the primaries unless asked");
        std::fs::write(&path, "seeds = [\"127.0.0.1:7000\"]\nread-from = \"prefer-replica\"\n").unwrap();
        let c = Config::from_args(Args { config: Some(path.clone()), ..Args::default() }).unwrap();
        assert_eq!(c.read_from, ReadFrom::PreferReplica);
        let args =
            Args { config: Some(path.clone()), read_from: Some(ReadFromArg::AnyNode), ..Args::default() };
        assert_eq!(Config::from_args(args).unwrap().read_from, ReadFrom::AnyNode, "the flag wins");
        let parsed =
            Args::try_parse_from(["slotkv-router", "--seeds", "a:1", "--read-from", "prefer-replica"]);
        assert_eq!(parsed.unwrap().read_from, Some(ReadFromArg::PreferReplica));
        assert!(Args::try_parse_from(["slotkv-router", "--read-from", "replica-please"]).is_err());
        std::fs::write(&path, "prot = 1\n").unwrap();
        let err = Config::from_args(Args { config: Some(path), ..Args::default() }).unwrap_err();
        assert!(err.contains("prot"), "{err}");
        assert!(Config::from_args(Args::default()).unwrap_err().contains("no seeds"));
    }
}
