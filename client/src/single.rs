//! [`Client`]: one non-cluster node (a plain Redis or a slotkv node without cluster mode) behind the same
//! API as the cluster client: `query`, `pipeline` and every [`Commands`] method.
//!
//! ```no_run
//! # async fn example() -> slotkv_client::Result<()> {
//! use slotkv_client::{Client, Commands};
//! use std::time::Duration;
//! let client = Client::builder("127.0.0.1:6379").timeout(Duration::from_secs(2)).build().await?;
//! client.set("greeting", "hello").await?;
//! let v: Option<String> = client.get("greeting").await?;
//! # Ok(()) }
//! ```
//!
//! One multiplexed [`Connection`] is shared by every clone of the client. Invariants:
//! - A command that finds the connection lost reconnects once and is sent again; if that fails too, its
//!   error is returned. (A command whose connection broke after it was written may so run twice, as with
//!   the cluster client's retries.)
//! - Every command has a deadline (the `timeout` option): a dead or hung server is an error, never a hang.
//!   A connection that timed out is not reused, so later commands do not queue behind the hung one.
//! - Blocking commands (`BLPOP`...) get a connection of their own, so they never hold up the shared one;
//!   their deadline is their own timeout plus the client's.

use crate::cmd::{cmd, Cmd};
use crate::commands::Commands;
use crate::conn::{ConnectOptions, Connection};
use crate::error::{Error, Result};
use crate::reply::FromReply;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The default deadline of one command and of one connect.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of a [`Client`]: `Client::builder(addr).password("pw").resp3(true).build()`.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    addr: String,
    connect: ConnectOptions,
    timeout: Option<Duration>,
    connect_timeout: Duration,
}

impl ClientBuilder {
    /// Authenticate with this password (`HELLO ... AUTH` on every connection).
    pub fn password(mut self, password: impl Into<String>) -> ClientBuilder {
        self.connect.password = Some(password.into());
        self
    }

    /// The ACL user name for the password (`default` if not given).
    pub fn username(mut self, username: impl Into<String>) -> ClientBuilder {
        self.connect.username = Some(username.into());
        self
    }

    /// Speak RESP3 (`HELLO 3`); replies convert to the same Rust values either way.
    pub fn resp3(mut self, on: bool) -> ClientBuilder {
        self.connect.resp3 = on;
        self
    }

    /// All connection options at once.
    pub fn connect_options(mut self, options: ConnectOptions) -> ClientBuilder {
        self.connect = options;
        self
    }

    /// The deadline of one command (or pipeline), [`DEFAULT_TIMEOUT`] unless set.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// No deadline for commands (connects still have one).
    pub fn no_timeout(mut self) -> ClientBuilder {
        self.timeout = None;
        self
    }

    /// The deadline of one connect (with its `HELLO`), [`DEFAULT_TIMEOUT`] unless set.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Connects (an unreachable node is an error here, not at the first command).
    pub async fn build(self) -> Result<Client> {
        let inner = Inner {
            addr: self.addr,
            connect: self.connect,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            current: Mutex::new(None),
            reconnecting: tokio::sync::Mutex::new(()),
        };
        let conn = inner.open().await?;
        if let Ok(mut current) = inner.current.lock() {
            *current = Some(Current { generation: 0, conn });
        }
        Ok(Client { inner: Arc::new(inner) })
    }
}

/// The shared connection and which one it is (so two tasks that saw it fail replace it once).
struct Current {
    generation: u64,
    conn: Connection,
}

struct Inner {
    addr: String,
    connect: ConnectOptions,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    /// `None` after a timeout: the next command connects anew.
    current: Mutex<Option<Current>>,
    /// Held while connecting, so a lost connection is replaced by one task, not by every task.
    reconnecting: tokio::sync::Mutex<()>,
}

/// How a command attempt failed: a lost connection is worth one more try, a timeout is not.
enum Failure {
    Lost(Error),
    Final(Error),
}

impl Inner {
    /// A new connection, within the connect deadline.
    async fn open(&self) -> Result<Connection> {
        match tokio::time::timeout(self.connect_timeout, Connection::connect_with(&self.addr, &self.connect))
            .await
        {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(Error::Io(e))) => Err(Error::Io(format!("connect to {}: {e}", self.addr))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Io(format!(
                "connect to {}: no answer within {:?}",
                self.addr, self.connect_timeout
            ))),
        }
    }

    /// The shared connection and its generation, connecting if there is none.
    async fn connection(&self) -> Result<(u64, Connection)> {
        if let Some(c) =
            self.current.lock().ok().and_then(|c| c.as_ref().map(|c| (c.generation, c.conn.clone())))
        {
            return Ok(c);
        }
        self.replace(None).await
    }

    /// Replaces connection `broken` (or a missing one) by a new one, unless another task already did.
    async fn replace(&self, broken: Option<u64>) -> Result<(u64, Connection)> {
        let _one_at_a_time = self.reconnecting.lock().await;
        let last = match self.current.lock() {
            Ok(current) => match current.as_ref() {
                Some(c) if Some(c.generation) != broken => return Ok((c.generation, c.conn.clone())),
                Some(c) => c.generation,
                None => broken.unwrap_or(0),
            },
            Err(_) => broken.unwrap_or(0),
        };
        let conn = self.open().await?;
        let generation = last + 1;
        if let Ok(mut current) = self.current.lock() {
            *current = Some(Current { generation, conn: conn.clone() });
        }
        Ok((generation, conn))
    }

    /// Forgets connection `generation` (it timed out): the next command connects anew.
    fn discard(&self, generation: u64) {
        if let Ok(mut current) = self.current.lock() {
            if current.as_ref().is_some_and(|c| c.generation == generation) {
                *current = None;
            }
        }
    }

    /// Runs `send` on the shared connection within the deadline; on a lost connection, once more on a new
    /// one.
    async fn run<T, F, Fut>(&self, send: F) -> Result<T>
    where
        F: Fn(Connection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let (generation, conn) = self.connection().await?;
        match self.attempt(generation, send(conn)).await {
            Ok(v) => Ok(v),
            Err(Failure::Final(e)) => Err(e),
            Err(Failure::Lost(_)) => {
                let (generation, conn) = self.replace(Some(generation)).await?;
                self.attempt(generation, send(conn)).await.map_err(|(Failure::Lost(e) | Failure::Final(e))| e)
            }
        }
    }

    async fn attempt<T>(
        &self,
        generation: u64,
        work: impl Future<Output = Result<T>>,
    ) -> std::result::Result<T, Failure> {
        let result = match self.timeout {
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(r) => r,
                Err(_) => {
                    self.discard(generation);
                    return Err(Failure::Final(Error::Timeout(format!(
                        "{}: no reply within {limit:?}",
                        self.addr
                    ))));
                }
            },
            None => work.await,
        };
        result.map_err(|e| match e {
            Error::Io(_) => Failure::Lost(e),
            other => Failure::Final(other),
        })
    }

    /// A blocking command on a connection of its own, within its own timeout plus the client's.
    async fn blocking<T: FromReply>(&self, c: &Cmd) -> Result<T> {
        let conn = self.open().await?;
        // No deadline when the command itself may wait for ever (`0`, or a timeout we cannot read).
        let limit = self.timeout.zip(blocking_timeout(c)).map(|(t, b)| t + b);
        match limit {
            Some(limit) => tokio::time::timeout(limit, conn.query(c))
                .await
                .unwrap_or_else(|_| Err(Error::Timeout(format!("{}: no reply within {limit:?}", self.addr)))),
            None => conn.query(c).await,
        }
    }
}

/// The server-side timeout of a blocking command whose last argument is its timeout in seconds (`BLPOP`,
/// `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BZPOPMIN`, `BZPOPMAX`); `None` for any other command or for `0`
/// (wait for ever).
fn blocking_timeout(c: &Cmd) -> Option<Duration> {
    let name = String::from_utf8_lossy(c.args().first()?).to_ascii_uppercase();
    if !matches!(name.as_str(), "BLPOP" | "BRPOP" | "BLMOVE" | "BRPOPLPUSH" | "BZPOPMIN" | "BZPOPMAX") {
        return None;
    }
    let seconds: f64 = std::str::from_utf8(c.args().last()?).ok()?.parse().ok()?;
    (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(1e9)))
}

/// Whether the command table marks `c` as blocking (it must not hold up the shared connection).
fn is_blocking(c: &Cmd) -> bool {
    c.args()
        .first()
        .and_then(|name| slotkv_proto::lookup(name))
        .is_some_and(|spec| spec.has(slotkv_proto::command::flags::BLOCKING))
}

/// A cheap handle to one node: clone it into every task.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Connects to `addr` (`host:port`) with the default options.
    pub async fn connect(addr: &str) -> Result<Client> {
        Client::builder(addr).build().await
    }

    /// Options first: `Client::builder(addr).password("pw").resp3(true).timeout(d).build()`.
    pub fn builder(addr: &str) -> ClientBuilder {
        ClientBuilder {
            addr: addr.to_string(),
            connect: ConnectOptions::default(),
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The node's address.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Sends one command and converts its reply.
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T> {
        if is_blocking(c) {
            return self.inner.blocking(c).await;
        }
        self.inner.run(|conn| async move { conn.query(c).await }).await
    }

    /// Sends commands as one pipeline; each reply converted (or its own error), in order.
    pub async fn pipeline<T: FromReply>(&self, cmds: &[Cmd]) -> Result<Vec<Result<T>>> {
        self.inner.run(|conn| async move { conn.pipeline(cmds).await }).await
    }

    /// `PING` through the shared connection: a cheap check that the node answers.
    pub async fn check(&self) -> Result<()> {
        self.query::<()>(&cmd("PING")).await
    }
}

impl Commands for Client {
    async fn query_cmd<T: FromReply + Send>(&self, c: Cmd) -> Result<T> {
        self.query(&c).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_commands_and_their_timeouts() {
        assert!(is_blocking(&cmd("BLPOP").arg("a").arg("1")));
        assert!(is_blocking(&cmd("brpop").arg("a").arg("1")));
        assert!(!is_blocking(&cmd("LPOP").arg("a")));
        assert!(!is_blocking(&cmd("NOSUCH")));
        assert_eq!(
            blocking_timeout(&cmd("BLPOP").arg("a").arg("b").arg("1.5")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(blocking_timeout(&cmd("BZPOPMIN").arg("z").arg("2")), Some(Duration::from_secs(2)));
        assert_eq!(blocking_timeout(&cmd("BLPOP").arg("a").arg("0")), None, "0 waits for ever");
        assert_eq!(blocking_timeout(&cmd("BLPOP").arg("a").arg("x")), None);
        assert_eq!(
            blocking_timeout(&cmd("XREAD").arg("BLOCK").arg("10").arg("STREAMS").arg("s").arg("0")),
            None
        );
    }
}
