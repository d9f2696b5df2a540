//! The one command table: name, arity, flags, key positions, group and summary of every command slotkv
//! serves. The node checks arity and finds keys with it, the client and router route with it, `COMMAND`
//! replies from it. A command is added here and nowhere else; the `CommandId` enum generated beside the
//! table makes every consumer's `match` fail to compile until it handles the new command.
//!
//! Arity follows Redis: positive means exactly that many arguments (with the name), negative means at least
//! that many. Subcommands are separate rows named `parent|sub` (as `COMMAND INFO` names them); the parent
//! row has the `CONTAINER` flag.

use hashbrown::HashMap;
use std::sync::OnceLock;

/// Flag bits of a command; `FLAG_NAMES` gives their names in `COMMAND INFO`.
pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const MAY_REPLICATE: u32 = 1 << 11;
    pub const NO_MULTI: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    pub const MOVABLE_KEYS: u32 = 1 << 14;
    /// Served in an importing slot without `ASKING` first (`RESTORE-ASKING`).
    pub const ASKING: u32 = 1 << 15;
    /// Has subcommands (`CONFIG`, `CLIENT`...): dispatch looks up `name|sub`.
    pub const CONTAINER: u32 = 1 << 20;
    /// Multi-key reply merge for a router that splits the command by slot: sum the integers (`DEL`).
    pub const MERGE_SUM: u32 = 1 << 21;
    /// ...concatenate the arrays in key order (`MGET`).
    pub const MERGE_KEYS: u32 = 1 << 22;
    /// ...`OK` when every part said `OK` (`MSET`).
    pub const MERGE_ALL_OK: u32 = 1 << 23;
    /// Must stay atomic across its keys: never split, `-CROSSSLOT` instead (`MSETNX`, `RENAME`).
    pub const ATOMIC_KEYS: u32 = 1 << 24;

    /// Names of the client-visible flags, as `COMMAND INFO` prints them.
    pub const FLAG_NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
        (MOVABLE_KEYS, "movablekeys"),
        (ASKING, "asking"),
    ];
}

use flags::*;

/// One row of the table.
#[derive(Debug)]
pub struct CommandSpec {
    pub id: CommandId,
    /// Lower case; `parent|sub` for subcommands.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    /// Position of the first key (0: no keys), of the last (negative counts from the end), and the step.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` (with the command name) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The indexes in `argv` that hold keys, from the table's first/last/step.
    pub fn key_indexes(&self, argc: usize) -> impl Iterator<Item = usize> {
        let first = self.first_key.max(0) as usize;
        let last = if self.last_key < 0 { argc as i64 + self.last_key as i64 } else { self.last_key as i64 };
        let step = self.step.max(1) as usize;
        let last = if first == 0 { -1 } else { last.min(argc as i64 - 1) };
        let end = if last < first as i64 { first } else { last as usize + 1 };
        (first..end).step_by(step)
    }

    /// The indexes in `argv` that hold keys, for every command including those whose keys move with a
    /// `numkeys` argument (`ZUNIONSTORE dest 2 a b`, `LMPOP 2 a b LEFT`). `None` when `numkeys` is not a
    /// positive integer that fits the arguments; the command itself then reports the error.
    pub fn keys_in(&self, argv: &[&[u8]]) -> Option<Vec<usize>> {
        if !self.has(MOVABLE_KEYS) {
            return Some(self.key_indexes(argv.len()).collect());
        }
        if self.id == CommandId::Migrate {
            // `MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS key...]`:
            // the empty key means the keys follow KEYS.
            if argv.get(3).is_some_and(|k| !k.is_empty()) {
                return Some(vec![3]);
            }
            let at = argv.iter().skip(6).position(|a| a.eq_ignore_ascii_case(b"keys"))? + 7;
            return Some((at..argv.len()).collect());
        }
        // (index of numkeys, fixed key before it)
        let (numkeys_at, dest) = match self.id {
            CommandId::ZUnionStore | CommandId::ZInterStore | CommandId::ZDiffStore => (2, Some(1)),
            CommandId::BLMPop | CommandId::BZMPop => (2, None),
            CommandId::Eval | CommandId::EvalSha | CommandId::EvalRo | CommandId::EvalShaRo => (2, None),
            _ => (1, None),
        };
        let n = argv.get(numkeys_at).and_then(|a| crate::request::parse_i64(a))?;
        let n = usize::try_from(n).ok().filter(|&n| n > 0)?;
        let first = numkeys_at + 1;
        if first + n > argv.len() {
            return None;
        }
        Some(dest.into_iter().chain(first..first + n).collect())
    }

    /// The subcommand rows of a container command.
    pub fn subcommands(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        COMMANDS.iter().filter(move |c| c.name.split_once('|').is_some_and(|(parent, _)| parent == self.name))
    }

    pub fn is_subcommand(&self) -> bool {
        self.name.contains('|')
    }
}

macro_rules! command_table {
    ($( $id:ident $name:literal $arity:literal [$($flag:ident)*] $first:literal $last:literal $step:literal
        $group:literal $since:literal $summary:literal; )*) => {
        /// Every command the table knows, one variant per row.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum CommandId { $($id,)* }

        /// The table itself.
        pub static COMMANDS: &[CommandSpec] = &[
            $(CommandSpec {
                id: CommandId::$id, name: $name, arity: $arity, flags: 0 $(| $flag)*,
                first_key: $first, last_key: $last, step: $step, group: $group, since: $since,
                summary: $summary,
            },)*
        ];
    };
}

command_table! {
    // strings
    Get "get" 2 [READONLY FAST] 1 1 1 "string" "1.0.0" "Returns the string value of a key.";
    Set "set" -3 [WRITE DENYOOM] 1 1 1 "string" "1.0.0" "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.";
    SetNx "setnx" 3 [WRITE DENYOOM FAST] 1 1 1 "string" "1.0.0" "Set the string value of a key only when the key doesn't exist.";
    SetEx "setex" 4 [WRITE DENYOOM] 1 1 1 "string" "2.0.0" "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.";
    PSetEx "psetex" 4 [WRITE DENYOOM] 1 1 1 "string" "2.6.0" "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.";
    GetSet "getset" 3 [WRITE DENYOOM FAST] 1 1 1 "string" "1.0.0" "Returns the previous string value of a key after setting it to a new value.";
    GetEx "getex" -2 [WRITE FAST] 1 1 1 "string" "6.2.0" "Returns the string value of a key after setting its expiration time.";
    GetDel "getdel" 2 [WRITE FAST] 1 1 1 "string" "6.2.0" "Returns the string value of a key after deleting the key.";
    MGet "mget" -2 [READONLY FAST MERGE_KEYS] 1 -1 1 "string" "1.0.0" "Atomically returns the string values of one or more keys.";
    MSet "mset" -3 [WRITE DENYOOM MERGE_ALL_OK] 1 -1 2 "string" "1.0.1" "Atomically creates or modifies the string values of one or more keys.";
    MSetNx "msetnx" -3 [WRITE DENYOOM ATOMIC_KEYS] 1 -1 2 "string" "1.0.1" "Atomically modifies the string values of one or more keys only when all keys don't exist.";
    Append "append" 3 [WRITE DENYOOM FAST] 1 1 1 "string" "2.0.0" "Appends a string to the value of a key. Creates the key if it doesn't exist.";
    StrLen "strlen" 2 [READONLY FAST] 1 1 1 "string" "2.2.0" "Returns the length of a string value.";
    Incr "incr" 2 [WRITE DENYOOM FAST] 1 1 1 "string" "1.0.0" "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.";
    Decr "decr" 2 [WRITE DENYOOM FAST] 1 1 1 "string" "1.0.0" "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.";
    IncrBy "incrby" 3 [WRITE DENYOOM FAST] 1 1 1 "string" "1.0.0" "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.";
    DecrBy "decrby" 3 [WRITE DENYOOM FAST] 1 1 1 "string" "1.0.0" "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.";
    IncrByFloat "incrbyfloat" 3 [WRITE DENYOOM FAST] 1 1 1 "string" "2.6.0" "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.";
    GetRange "getrange" 4 [READONLY] 1 1 1 "string" "2.4.0" "Returns a substring of the string stored at a key.";
    Substr "substr" 4 [READONLY] 1 1 1 "string" "1.0.0" "Returns a substring from a string value.";
    SetRange "setrange" 4 [WRITE DENYOOM] 1 1 1 "string" "2.2.0" "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.";
    // generic keys
    Del "del" -2 [WRITE MERGE_SUM] 1 -1 1 "generic" "1.0.0" "Deletes one or more keys.";
    Unlink "unlink" -2 [WRITE FAST MERGE_SUM] 1 -1 1 "generic" "4.0.0" "Asynchronously deletes one or more keys.";
    Exists "exists" -2 [READONLY FAST MERGE_SUM] 1 -1 1 "generic" "1.0.0" "Determines whether one or more keys exist.";
    Touch "touch" -2 [READONLY FAST MERGE_SUM] 1 -1 1 "generic" "3.2.1" "Returns the number of existing keys out of those specified after updating the time they were last accessed.";
    Type "type" 2 [READONLY FAST] 1 1 1 "generic" "1.0.0" "Determines the type of value stored at a key.";
    Expire "expire" -3 [WRITE FAST] 1 1 1 "generic" "1.0.0" "Sets the expiration time of a key in seconds.";
    PExpire "pexpire" -3 [WRITE FAST] 1 1 1 "generic" "2.6.0" "Sets the expiration time of a key in milliseconds.";
    ExpireAt "expireat" -3 [WRITE FAST] 1 1 1 "generic" "1.2.0" "Sets the expiration time of a key to a Unix timestamp.";
    PExpireAt "pexpireat" -3 [WRITE FAST] 1 1 1 "generic" "2.6.0" "Sets the expiration time of a key to a Unix milliseconds timestamp.";
    ExpireTime "expiretime" 2 [READONLY FAST] 1 1 1 "generic" "7.0.0" "Returns the expiration time of a key as a Unix timestamp.";
    PExpireTime "pexpiretime" 2 [READONLY FAST] 1 1 1 "generic" "7.0.0" "Returns the expiration time of a key as a Unix milliseconds timestamp.";
    Ttl "ttl" 2 [READONLY FAST] 1 1 1 "generic" "1.0.0" "Returns the expiration time in seconds of a key.";
    PTtl "pttl" 2 [READONLY FAST] 1 1 1 "generic" "2.6.0" "Returns the expiration time in milliseconds of a key.";
    Persist "persist" 2 [WRITE FAST] 1 1 1 "generic" "2.2.0" "Removes the expiration time of a key.";
    Rename "rename" 3 [WRITE ATOMIC_KEYS] 1 2 1 "generic" "1.0.0" "Renames a key and overwrites the destination.";
    RenameNx "renamenx" 3 [WRITE FAST ATOMIC_KEYS] 1 2 1 "generic" "1.0.0" "Renames a key only when the target key name doesn't exist.";
    Copy "copy" -3 [WRITE DENYOOM ATOMIC_KEYS] 1 2 1 "generic" "6.2.0" "Copies the value of a key to a new key.";
    Scan "scan" -2 [READONLY] 0 0 0 "generic" "2.8.0" "Iterates over the key names in the database.";
    Keys "keys" 2 [READONLY] 0 0 0 "generic" "1.0.0" "Returns all key names that match a pattern.";
    RandomKey "randomkey" 1 [READONLY] 0 0 0 "generic" "1.0.0" "Returns a random key name from the database.";
    Object "object" -2 [CONTAINER] 0 0 0 "generic" "2.2.3" "A container for object introspection commands.";
    ObjectEncoding "object|encoding" 3 [READONLY] 2 2 1 "generic" "2.2.3" "Returns the internal encoding of a Redis object.";
    ObjectRefcount "object|refcount" 3 [READONLY] 2 2 1 "generic" "2.2.3" "Returns the reference count of a value of a key.";
    ObjectIdletime "object|idletime" 3 [READONLY] 2 2 1 "generic" "2.2.3" "Returns the time since the last access to a Redis object.";
    ObjectFreq "object|freq" 3 [READONLY] 2 2 1 "generic" "4.0.0" "Returns the logarithmic access frequency counter of a Redis object.";
    ObjectHelp "object|help" 2 [LOADING STALE] 0 0 0 "generic" "6.2.0" "Returns helpful text about the different subcommands.";
    // hashes
    HSet "hset" -4 [WRITE DENYOOM FAST] 1 1 1 "hash" "2.0.0" "Creates or modifies the value of a field in a hash.";
    HSetNx "hsetnx" 4 [WRITE DENYOOM FAST] 1 1 1 "hash" "2.0.0" "Sets the value of a field in a hash only when the field doesn't exist.";
    HMSet "hmset" -4 [WRITE DENYOOM FAST] 1 1 1 "hash" "2.0.0" "Sets the values of multiple fields.";
    HGet "hget" 3 [READONLY FAST] 1 1 1 "hash" "2.0.0" "Returns the value of a field in a hash.";
    HMGet "hmget" -3 [READONLY FAST] 1 1 1 "hash" "2.0.0" "Returns the values of all fields in a hash.";
    HDel "hdel" -3 [WRITE FAST] 1 1 1 "hash" "2.0.0" "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.";
    HExists "hexists" 3 [READONLY FAST] 1 1 1 "hash" "2.0.0" "Determines whether a field exists in a hash.";
    HLen "hlen" 2 [READONLY FAST] 1 1 1 "hash" "2.0.0" "Returns the number of fields in a hash.";
    HKeys "hkeys" 2 [READONLY] 1 1 1 "hash" "2.0.0" "Returns all fields in a hash.";
    HVals "hvals" 2 [READONLY] 1 1 1 "hash" "2.0.0" "Returns all values in a hash.";
    HGetAll "hgetall" 2 [READONLY] 1 1 1 "hash" "2.0.0" "Returns all fields and values in a hash.";
    HIncrBy "hincrby" 4 [WRITE DENYOOM FAST] 1 1 1 "hash" "2.0.0" "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.";
    HIncrByFloat "hincrbyfloat" 4 [WRITE DENYOOM FAST] 1 1 1 "hash" "2.6.0" "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.";
    HStrLen "hstrlen" 3 [READONLY FAST] 1 1 1 "hash" "3.2.0" "Returns the length of the value of a field.";
    HRandField "hrandfield" -2 [READONLY] 1 1 1 "hash" "6.2.0" "Returns one or more random fields from a hash.";
    HScan "hscan" -3 [READONLY] 1 1 1 "hash" "2.8.0" "Iterates over fields and values of a hash.";
    // lists
    LPush "lpush" -3 [WRITE DENYOOM FAST] 1 1 1 "list" "1.0.0" "Prepend one or multiple elements to a list";
    RPush "rpush" -3 [WRITE DENYOOM FAST] 1 1 1 "list" "1.0.0" "Append one or multiple elements to a list";
    LPushX "lpushx" -3 [WRITE DENYOOM FAST] 1 1 1 "list" "2.2.0" "Prepend an element to a list, only if the list exists";
    RPushX "rpushx" -3 [WRITE DENYOOM FAST] 1 1 1 "list" "2.2.0" "Append an element to a list, only if the list exists";
    LPop "lpop" -2 [WRITE FAST] 1 1 1 "list" "1.0.0" "Remove and get the first elements in a list";
    RPop "rpop" -2 [WRITE FAST] 1 1 1 "list" "1.0.0" "Remove and get the last elements in a list";
    LLen "llen" 2 [READONLY FAST] 1 1 1 "list" "1.0.0" "Get the length of a list";
    LRange "lrange" 4 [READONLY] 1 1 1 "list" "1.0.0" "Get a range of elements from a list";
    LIndex "lindex" 3 [READONLY] 1 1 1 "list" "1.0.0" "Get an element from a list by its index";
    LSet "lset" 4 [WRITE DENYOOM] 1 1 1 "list" "1.0.0" "Set the value of an element in a list by its index";
    LInsert "linsert" 5 [WRITE DENYOOM] 1 1 1 "list" "2.2.0" "Insert an element before or after another element in a list";
    LRem "lrem" 4 [WRITE] 1 1 1 "list" "1.0.0" "Remove elements from a list";
    LTrim "ltrim" 4 [WRITE] 1 1 1 "list" "1.0.0" "Trim a list to the specified range";
    LPos "lpos" -3 [READONLY] 1 1 1 "list" "6.0.6" "Return the index of matching elements on a list";
    LMove "lmove" 5 [WRITE DENYOOM ATOMIC_KEYS] 1 2 1 "list" "6.2.0" "Pop an element from a list, push it to another list and return it";
    RPopLPush "rpoplpush" 3 [WRITE DENYOOM ATOMIC_KEYS] 1 2 1 "list" "1.2.0" "Remove the last element in a list, prepend it to another list and return it";
    LMPop "lmpop" -4 [WRITE MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "list" "7.0.0" "Pop elements from a list";
    BLPop "blpop" -3 [WRITE NOSCRIPT BLOCKING ATOMIC_KEYS] 1 -2 1 "list" "2.0.0" "Remove and get the first element in a list, or block until one is available";
    BRPop "brpop" -3 [WRITE NOSCRIPT BLOCKING ATOMIC_KEYS] 1 -2 1 "list" "2.0.0" "Remove and get the last element in a list, or block until one is available";
    BLMove "blmove" 6 [WRITE DENYOOM NOSCRIPT BLOCKING ATOMIC_KEYS] 1 2 1 "list" "6.2.0" "Pop an element from a list, push it to another list and return it; or block until one is available";
    BRPopLPush "brpoplpush" 4 [WRITE DENYOOM NOSCRIPT BLOCKING ATOMIC_KEYS] 1 2 1 "list" "2.2.0" "Pop an element from a list, push it to another list and return it; or block until one is available";
    BLMPop "blmpop" -5 [WRITE BLOCKING MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "list" "7.0.0" "Pop elements from a list, or block until one is available";
    // sets
    SAdd "sadd" -3 [WRITE DENYOOM FAST] 1 1 1 "set" "1.0.0" "Add one or more members to a set";
    SRem "srem" -3 [WRITE FAST] 1 1 1 "set" "1.0.0" "Remove one or more members from a set";
    SMembers "smembers" 2 [READONLY] 1 1 1 "set" "1.0.0" "Get all the members in a set";
    SIsMember "sismember" 3 [READONLY FAST] 1 1 1 "set" "1.0.0" "Determine if a given value is a member of a set";
    SMIsMember "smismember" -3 [READONLY FAST] 1 1 1 "set" "6.2.0" "Returns the membership associated with the given elements for a set";
    SCard "scard" 2 [READONLY FAST] 1 1 1 "set" "1.0.0" "Get the number of members in a set";
    SPop "spop" -2 [WRITE FAST] 1 1 1 "set" "1.0.0" "Remove and return one or multiple random members from a set";
    SRandMember "srandmember" -2 [READONLY] 1 1 1 "set" "1.0.0" "Get one or multiple random members from a set";
    SMove "smove" 4 [WRITE FAST ATOMIC_KEYS] 1 2 1 "set" "1.0.0" "Move a member from one set to another";
    SInter "sinter" -2 [READONLY ATOMIC_KEYS] 1 -1 1 "set" "1.0.0" "Intersect multiple sets";
    SInterCard "sintercard" -3 [READONLY MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "set" "7.0.0" "Intersect multiple sets and return the cardinality of the result";
    SUnion "sunion" -2 [READONLY ATOMIC_KEYS] 1 -1 1 "set" "1.0.0" "Add multiple sets";
    SDiff "sdiff" -2 [READONLY ATOMIC_KEYS] 1 -1 1 "set" "1.0.0" "Subtract multiple sets";
    SInterStore "sinterstore" -3 [WRITE DENYOOM ATOMIC_KEYS] 1 -1 1 "set" "1.0.0" "Intersect multiple sets and store the resulting set in a key";
    SUnionStore "sunionstore" -3 [WRITE DENYOOM ATOMIC_KEYS] 1 -1 1 "set" "1.0.0" "Add multiple sets and store the resulting set in a key";
    SDiffStore "sdiffstore" -3 [WRITE DENYOOM ATOMIC_KEYS] 1 -1 1 "set" "1.0.0" "Subtract multiple sets and store the resulting set in a key";
    SScan "sscan" -3 [READONLY] 1 1 1 "set" "2.8.0" "Incrementally iterate Set elements";
    // sorted sets
    ZAdd "zadd" -4 [WRITE DENYOOM FAST] 1 1 1 "sorted-set" "1.2.0" "Add one or more members to a sorted set, or update its score if it already exists";
    ZIncrBy "zincrby" 4 [WRITE DENYOOM FAST] 1 1 1 "sorted-set" "1.2.0" "Increment the score of a member in a sorted set";
    ZRem "zrem" -3 [WRITE FAST] 1 1 1 "sorted-set" "1.2.0" "Remove one or more members from a sorted set";
    ZCard "zcard" 2 [READONLY FAST] 1 1 1 "sorted-set" "1.2.0" "Get the number of members in a sorted set";
    ZCount "zcount" 4 [READONLY FAST] 1 1 1 "sorted-set" "2.0.0" "Count the members in a sorted set with scores within the given values";
    ZLexCount "zlexcount" 4 [READONLY FAST] 1 1 1 "sorted-set" "2.8.9" "Count the number of members in a sorted set between a given lexicographical range";
    ZScore "zscore" 3 [READONLY FAST] 1 1 1 "sorted-set" "1.2.0" "Get the score associated with the given member in a sorted set";
    ZMScore "zmscore" -3 [READONLY FAST] 1 1 1 "sorted-set" "6.2.0" "Get the score associated with the given members in a sorted set";
    ZRank "zrank" -3 [READONLY FAST] 1 1 1 "sorted-set" "2.0.0" "Determine the index of a member in a sorted set";
    ZRevRank "zrevrank" -3 [READONLY FAST] 1 1 1 "sorted-set" "2.0.0" "Determine the index of a member in a sorted set, with scores ordered from high to low";
    ZRange "zrange" -4 [READONLY] 1 1 1 "sorted-set" "1.2.0" "Return a range of members in a sorted set";
    ZRangeByScore "zrangebyscore" -4 [READONLY] 1 1 1 "sorted-set" "1.0.5" "Return a range of members in a sorted set, by score";
    ZRevRangeByScore "zrevrangebyscore" -4 [READONLY] 1 1 1 "sorted-set" "2.2.0" "Return a range of members in a sorted set, by score, with scores ordered from high to low";
    ZRangeByLex "zrangebylex" -4 [READONLY] 1 1 1 "sorted-set" "2.8.9" "Return a range of members in a sorted set, by lexicographical range";
    ZRevRangeByLex "zrevrangebylex" -4 [READONLY] 1 1 1 "sorted-set" "2.8.9" "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.";
    ZRevRange "zrevrange" -4 [READONLY] 1 1 1 "sorted-set" "1.2.0" "Return a range of members in a sorted set, by index, with scores ordered from high to low";
    ZRangeStore "zrangestore" -5 [WRITE DENYOOM ATOMIC_KEYS] 1 2 1 "sorted-set" "6.2.0" "Store a range of members from sorted set into another key";
    ZRemRangeByRank "zremrangebyrank" 4 [WRITE] 1 1 1 "sorted-set" "2.0.0" "Remove all members in a sorted set within the given indexes";
    ZRemRangeByScore "zremrangebyscore" 4 [WRITE] 1 1 1 "sorted-set" "1.2.0" "Remove all members in a sorted set within the given scores";
    ZRemRangeByLex "zremrangebylex" 4 [WRITE] 1 1 1 "sorted-set" "2.8.9" "Remove all members in a sorted set between the given lexicographical range";
    ZPopMin "zpopmin" -2 [WRITE FAST] 1 1 1 "sorted-set" "5.0.0" "Remove and return members with the lowest scores in a sorted set";
    ZPopMax "zpopmax" -2 [WRITE FAST] 1 1 1 "sorted-set" "5.0.0" "Remove and return members with the highest scores in a sorted set";
    BZPopMin "bzpopmin" -3 [WRITE NOSCRIPT BLOCKING FAST ATOMIC_KEYS] 1 -2 1 "sorted-set" "5.0.0" "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available";
    BZPopMax "bzpopmax" -3 [WRITE NOSCRIPT BLOCKING FAST ATOMIC_KEYS] 1 -2 1 "sorted-set" "5.0.0" "Remove and return the member with the highest score from one or more sorted sets, or block until one is available";
    ZMPop "zmpop" -4 [WRITE MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "sorted-set" "7.0.0" "Remove and return members with scores in a sorted set";
    BZMPop "bzmpop" -5 [WRITE BLOCKING MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "sorted-set" "7.0.0" "Remove and return members with scores in a sorted set or block until one is available";
    ZUnion "zunion" -3 [READONLY MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "sorted-set" "6.2.0" "Add multiple sorted sets";
    ZInter "zinter" -3 [READONLY MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "sorted-set" "6.2.0" "Intersect multiple sorted sets";
    ZDiff "zdiff" -3 [READONLY MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "sorted-set" "6.2.0" "Subtract multiple sorted sets";
    ZUnionStore "zunionstore" -4 [WRITE DENYOOM MOVABLE_KEYS ATOMIC_KEYS] 1 1 1 "sorted-set" "2.0.0" "Add multiple sorted sets and store the resulting sorted set in a new key";
    ZInterStore "zinterstore" -4 [WRITE DENYOOM MOVABLE_KEYS ATOMIC_KEYS] 1 1 1 "sorted-set" "2.0.0" "Intersect multiple sorted sets and store the resulting sorted set in a new key";
    ZDiffStore "zdiffstore" -4 [WRITE DENYOOM MOVABLE_KEYS ATOMIC_KEYS] 1 1 1 "sorted-set" "6.2.0" "Subtract multiple sorted sets and store the resulting sorted set in a new key";
    ZInterCard "zintercard" -3 [READONLY MOVABLE_KEYS ATOMIC_KEYS] 0 0 0 "sorted-set" "7.0.0" "Intersect multiple sorted sets and return the cardinality of the result";
    ZRandMember "zrandmember" -2 [READONLY] 1 1 1 "sorted-set" "6.2.0" "Get one or multiple random elements from a sorted set";
    ZScan "zscan" -3 [READONLY] 1 1 1 "sorted-set" "2.8.0" "Incrementally iterate sorted sets elements and associated scores";
    // transactions
    Multi "multi" 1 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY] 0 0 0 "transactions" "1.2.0" "Mark the start of a transaction block";
    Exec "exec" 1 [NOSCRIPT LOADING STALE] 0 0 0 "transactions" "1.2.0" "Execute all commands issued after MULTI";
    Discard "discard" 1 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY] 0 0 0 "transactions" "2.0.0" "Discard all commands issued after MULTI";
    Watch "watch" -2 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY ATOMIC_KEYS] 1 -1 1 "transactions" "2.2.0" "Watch the given keys to determine execution of the MULTI/EXEC block";
    Unwatch "unwatch" 1 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY] 0 0 0 "transactions" "2.2.0" "Forget about all watched keys";
    // pub/sub
    Subscribe "subscribe" -2 [PUBSUB NOSCRIPT LOADING STALE] 0 0 0 "pubsub" "2.0.0" "Listen for messages published to the given channels";
    Unsubscribe "unsubscribe" -1 [PUBSUB NOSCRIPT LOADING STALE] 0 0 0 "pubsub" "2.0.0" "Stop listening for messages posted to the given channels";
    PSubscribe "psubscribe" -2 [PUBSUB NOSCRIPT LOADING STALE] 0 0 0 "pubsub" "2.0.0" "Listen for messages published to channels matching the given patterns";
    PUnsubscribe "punsubscribe" -1 [PUBSUB NOSCRIPT LOADING STALE] 0 0 0 "pubsub" "2.0.0" "Stop listening for messages posted to channels matching the given patterns";
    Publish "publish" 3 [PUBSUB LOADING STALE FAST] 0 0 0 "pubsub" "2.0.0" "Post a message to a channel";
    PubSub "pubsub" -2 [CONTAINER] 0 0 0 "pubsub" "2.8.0" "A container for Pub/Sub commands";
    PubSubChannels "pubsub|channels" -2 [PUBSUB LOADING STALE] 0 0 0 "pubsub" "2.8.0" "List active channels";
    PubSubNumSub "pubsub|numsub" -2 [PUBSUB LOADING STALE] 0 0 0 "pubsub" "2.8.0" "Get the count of subscribers for channels";
    PubSubNumPat "pubsub|numpat" 2 [PUBSUB LOADING STALE] 0 0 0 "pubsub" "2.8.0" "Get the count of unique patterns pattern subscriptions";
    PubSubShardChannels "pubsub|shardchannels" -2 [PUBSUB LOADING STALE] 0 0 0 "pubsub" "7.0.0" "List active shard channels";
    PubSubShardNumSub "pubsub|shardnumsub" -2 [PUBSUB LOADING STALE] 0 0 0 "pubsub" "7.0.0" "Get the count of subscribers for shard channels";
    PubSubHelp "pubsub|help" 2 [LOADING STALE] 0 0 0 "pubsub" "6.2.0" "Show helpful text about the different subcommands";
    SSubscribe "ssubscribe" -2 [PUBSUB NOSCRIPT LOADING STALE ATOMIC_KEYS] 1 -1 1 "pubsub" "7.0.0" "Listen for messages published to the given shard channels";
    SUnsubscribe "sunsubscribe" -1 [PUBSUB NOSCRIPT LOADING STALE ATOMIC_KEYS] 1 -1 1 "pubsub" "7.0.0" "Stop listening for messages posted to the given shard channels";
    SPublish "spublish" 3 [PUBSUB LOADING STALE FAST] 1 1 1 "pubsub" "7.0.0" "Post a message to a shard channel";
    // dump
    Dump "dump" 2 [READONLY] 1 1 1 "generic" "2.6.0" "Return a serialized version of the value stored at the specified key.";
    RestoreAsking "restore-asking" -4 [WRITE DENYOOM ASKING] 1 1 1 "server" "3.0.0" "An internal command for migrating keys in a cluster.";
    Migrate "migrate" -6 [WRITE MOVABLE_KEYS] 3 3 1 "generic" "2.6.0" "Atomically transfers a key from one Redis instance to another.";
    Asking "asking" 1 [FAST] 0 0 0 "cluster" "3.0.0" "Signals that a cluster client is following an -ASK redirect.";
    ReadOnly "readonly" 1 [FAST LOADING STALE] 0 0 0 "cluster" "3.0.0" "Enables read-only queries for a connection to a Redis Cluster replica node.";
    ReadWrite "readwrite" 1 [FAST LOADING STALE] 0 0 0 "cluster" "3.0.0" "Enables read-write queries for a connection to a Reids Cluster replica node.";
    SlotKv "slotkv" -2 [CONTAINER] 0 0 0 "server" "0.1.0" "A container for slotkv's own commands (not in Redis).";
    SlotKvMigrateSlot "slotkv|migrateslot" -7 [WRITE ADMIN] 0 0 0 "cluster" "0.1.0" "Moves the next keys of a hash slot (or of a list of slots and ranges) to another node, as MIGRATE KEYS does; +NOKEY when they are empty.";
    SlotKvHelp "slotkv|help" 2 [LOADING STALE] 0 0 0 "server" "0.1.0" "Returns helpful text about slotkv's own subcommands.";
    Cluster "cluster" -2 [CONTAINER] 0 0 0 "cluster" "3.0.0" "A container for Redis Cluster commands.";
    ClusterAddSlots "cluster|addslots" -3 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Assigns new hash slots to a node.";
    ClusterAddSlotsRange "cluster|addslotsrange" -4 [ADMIN STALE] 0 0 0 "cluster" "7.0.0" "Assigns new hash slot ranges to a node.";
    ClusterBumpEpoch "cluster|bumpepoch" 2 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Advances the cluster config epoch.";
    ClusterCountFailureReports "cluster|count-failure-reports" 3 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Returns the number of active failure reports active for a node.";
    ClusterCountKeysInSlot "cluster|countkeysinslot" 3 [STALE] 0 0 0 "cluster" "3.0.0" "Returns the number of keys in a hash slot.";
    ClusterDelSlots "cluster|delslots" -3 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Sets hash slots as unbound for a node.";
    ClusterDelSlotsRange "cluster|delslotsrange" -4 [ADMIN STALE] 0 0 0 "cluster" "7.0.0" "Sets hash slot ranges as unbound for a node.";
    ClusterFlushSlots "cluster|flushslots" 2 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Deletes all slots information from a node.";
    ClusterForget "cluster|forget" 3 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Removes a node from the nodes table.";
    ClusterGetKeysInSlot "cluster|getkeysinslot" 4 [STALE] 0 0 0 "cluster" "3.0.0" "Returns the key names in a hash slot.";
    ClusterHelp "cluster|help" 2 [LOADING STALE] 0 0 0 "cluster" "5.0.0" "Returns helpful text about the different subcommands.";
    ClusterInfo "cluster|info" 2 [STALE] 0 0 0 "cluster" "3.0.0" "Returns information about the state of a node.";
    ClusterKeySlot "cluster|keyslot" 3 [STALE] 0 0 0 "cluster" "3.0.0" "Returns the hash slot for a key.";
    ClusterLinks "cluster|links" 2 [STALE] 0 0 0 "cluster" "7.0.0" "Returns a list of all TCP links to and from peer nodes.";
    ClusterMeet "cluster|meet" -4 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Forces a node to handshake with another node.";
    ClusterMyId "cluster|myid" 2 [STALE] 0 0 0 "cluster" "3.0.0" "Returns the ID of a node.";
    ClusterMyShardId "cluster|myshardid" 2 [STALE] 0 0 0 "cluster" "7.2.0" "Returns the shard ID of a node.";
    ClusterNodes "cluster|nodes" 2 [STALE] 0 0 0 "cluster" "3.0.0" "Returns the cluster configuration for a node.";
    ClusterReset "cluster|reset" -2 [ADMIN STALE NOSCRIPT] 0 0 0 "cluster" "3.0.0" "Resets a node.";
    ClusterSaveConfig "cluster|saveconfig" 2 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Forces a node to save the cluster configuration to disk.";
    ClusterSetConfigEpoch "cluster|set-config-epoch" 3 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Sets the configuration epoch for a new node.";
    ClusterReplicate "cluster|replicate" 3 [ADMIN NOSCRIPT STALE] 0 0 0 "cluster" "3.0.0" "Configure a node as replica of a master node.";
    ClusterReplicas "cluster|replicas" 3 [ADMIN STALE] 0 0 0 "cluster" "5.0.0" "Lists the replica nodes of a master node.";
    ClusterSlaves "cluster|slaves" 3 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Lists the replica nodes of a master node.";
    ClusterFailover "cluster|failover" -2 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Forces a replica to perform a manual failover of its master.";
    ClusterSetSlot "cluster|setslot" -4 [ADMIN STALE] 0 0 0 "cluster" "3.0.0" "Binds a hash slot to a node.";
    ClusterShards "cluster|shards" 2 [STALE] 0 0 0 "cluster" "7.0.0" "Returns the mapping of cluster slots to shards.";
    ClusterSlots "cluster|slots" 2 [STALE] 0 0 0 "cluster" "3.0.0" "Returns the mapping of cluster slots to nodes.";
    ClusterSlotStats "cluster|slot-stats" -4 [STALE] 0 0 0 "cluster" "8.0.0" "Returns per-slot statistics (Valkey 8: key counts).";
    Restore "restore" -4 [WRITE DENYOOM] 1 1 1 "generic" "2.6.0" "Create a key using the provided serialized value, previously obtained using DUMP.";
    // connection
    Ping "ping" -1 [FAST] 0 0 0 "connection" "1.0.0" "Returns the server's liveliness response.";
    Echo "echo" 2 [FAST] 0 0 0 "connection" "1.0.0" "Returns the given string.";
    Hello "hello" -1 [NOSCRIPT LOADING STALE FAST NO_AUTH ALLOW_BUSY] 0 0 0 "connection" "6.0.0" "Handshakes with the Redis server.";
    Auth "auth" -2 [NOSCRIPT LOADING STALE FAST NO_AUTH ALLOW_BUSY] 0 0 0 "connection" "1.0.0" "Authenticates the connection.";
    Select "select" 2 [LOADING STALE FAST] 0 0 0 "connection" "1.0.0" "Changes the selected database.";
    Quit "quit" -1 [NOSCRIPT LOADING STALE FAST NO_AUTH ALLOW_BUSY] 0 0 0 "connection" "1.0.0" "Closes the connection.";
    Reset "reset" 1 [NOSCRIPT LOADING STALE FAST NO_AUTH ALLOW_BUSY] 0 0 0 "connection" "6.2.0" "Resets the connection.";
    Client "client" -2 [CONTAINER] 0 0 0 "connection" "2.4.0" "A container for client connection commands.";
    ClientSetName "client|setname" 3 [NOSCRIPT LOADING STALE] 0 0 0 "connection" "2.6.9" "Sets the connection name.";
    ClientGetName "client|getname" 2 [NOSCRIPT LOADING STALE] 0 0 0 "connection" "2.6.9" "Returns the name of the connection.";
    ClientId "client|id" 2 [NOSCRIPT LOADING STALE] 0 0 0 "connection" "5.0.0" "Returns the unique client ID of the connection.";
    ClientInfo "client|info" 2 [NOSCRIPT LOADING STALE] 0 0 0 "connection" "6.2.0" "Returns information about the connection.";
    ClientList "client|list" -2 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "connection" "2.4.0" "Lists open connections.";
    ClientKill "client|kill" -3 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "connection" "2.4.0" "Terminates open connections.";
    ClientSetInfo "client|setinfo" 4 [NOSCRIPT LOADING STALE] 0 0 0 "connection" "7.2.0" "Sets information specific to the client or connection.";
    ClientNoEvict "client|no-evict" 3 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "connection" "7.0.0" "Sets the client eviction mode of the connection.";
    ClientUnblock "client|unblock" -3 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "connection" "5.0.0" "Unblocks a client blocked by a blocking command from a different connection.";
    ClientNoTouch "client|no-touch" 3 [NOSCRIPT LOADING STALE] 0 0 0 "connection" "7.2.0" "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.";
    ClientHelp "client|help" 2 [LOADING STALE] 0 0 0 "connection" "5.0.0" "Returns helpful text about the different subcommands.";
    // scripting
    Eval "eval" -3 [NOSCRIPT STALE MOVABLE_KEYS] 0 0 0 "scripting" "2.6.0" "Executes a server-side Lua script.";
    EvalSha "evalsha" -3 [NOSCRIPT STALE MOVABLE_KEYS] 0 0 0 "scripting" "2.6.0" "Executes a server-side Lua script by SHA1 digest.";
    EvalRo "eval_ro" -3 [READONLY NOSCRIPT STALE MOVABLE_KEYS] 0 0 0 "scripting" "7.0.0" "Executes a read-only server-side Lua script.";
    EvalShaRo "evalsha_ro" -3 [READONLY NOSCRIPT STALE MOVABLE_KEYS] 0 0 0 "scripting" "7.0.0" "Executes a read-only server-side Lua script by SHA1 digest.";
    Script "script" -2 [CONTAINER] 0 0 0 "scripting" "2.6.0" "A container for Lua scripts management commands.";
    ScriptExists "script|exists" -3 [NOSCRIPT] 0 0 0 "scripting" "2.6.0" "Determines whether server-side Lua scripts exist in the script cache.";
    ScriptFlush "script|flush" -2 [NOSCRIPT] 0 0 0 "scripting" "2.6.0" "Removes all server-side Lua scripts from the script cache.";
    ScriptKill "script|kill" 2 [NOSCRIPT ALLOW_BUSY] 0 0 0 "scripting" "2.6.0" "Terminates a server-side Lua script during execution.";
    ScriptLoad "script|load" 3 [NOSCRIPT STALE] 0 0 0 "scripting" "2.6.0" "Loads a server-side Lua script to the script cache.";
    ScriptHelp "script|help" 2 [LOADING STALE] 0 0 0 "scripting" "5.0.0" "Returns helpful text about the different subcommands.";
    // server
    Info "info" -1 [LOADING STALE] 0 0 0 "server" "1.0.0" "Returns information and statistics about the server.";
    Config "config" -2 [CONTAINER] 0 0 0 "server" "2.0.0" "A container for server configuration commands.";
    ConfigGet "config|get" -3 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "server" "2.0.0" "Returns the effective values of configuration parameters.";
    ConfigSet "config|set" -4 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "server" "2.0.0" "Sets configuration parameters in-flight.";
    ConfigResetStat "config|resetstat" 2 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "server" "2.0.0" "Resets the server's statistics.";
    ConfigRewrite "config|rewrite" 2 [ADMIN NOSCRIPT LOADING STALE] 0 0 0 "server" "2.8.0" "Persists the effective configuration to file.";
    ConfigHelp "config|help" 2 [LOADING STALE] 0 0 0 "server" "5.0.0" "Returns helpful text about the different subcommands.";
    Command "command" -1 [CONTAINER LOADING STALE] 0 0 0 "server" "2.8.13" "Returns detailed information about all commands.";
    CommandCount "command|count" 2 [LOADING STALE] 0 0 0 "server" "2.8.13" "Returns a count of commands.";
    CommandInfo "command|info" -2 [LOADING STALE] 0 0 0 "server" "2.8.13" "Returns information about one, multiple or all commands.";
    CommandDocs "command|docs" -2 [LOADING STALE] 0 0 0 "server" "7.0.0" "Returns documentary information about one, multiple or all commands.";
    CommandGetKeys "command|getkeys" -3 [LOADING STALE] 0 0 0 "server" "2.8.13" "Extracts the key names from an arbitrary command.";
    CommandList "command|list" -2 [LOADING STALE] 0 0 0 "server" "7.0.0" "Returns a list of command names.";
    CommandHelp "command|help" 2 [LOADING STALE] 0 0 0 "server" "5.0.0" "Returns helpful text about the different subcommands.";
    DbSize "dbsize" 1 [READONLY FAST] 0 0 0 "server" "1.0.0" "Returns the number of keys in the database.";
    FlushAll "flushall" -1 [WRITE] 0 0 0 "server" "1.0.0" "Removes all keys from all databases.";
    FlushDb "flushdb" -1 [WRITE] 0 0 0 "server" "1.0.0" "Remove all keys from the current database.";
    Time "time" 1 [LOADING STALE FAST] 0 0 0 "server" "2.6.0" "Returns the server time.";
    ReplicaOf "replicaof" 3 [ADMIN NOSCRIPT STALE] 0 0 0 "server" "5.0.0" "Configures a server as replica of another, or promotes it to a master.";
    SlaveOf "slaveof" 3 [ADMIN NOSCRIPT STALE] 0 0 0 "server" "1.0.0" "Sets a Redis server as a replica of another, or promotes it to being a master.";
    ReplConf "replconf" -1 [ADMIN NOSCRIPT LOADING STALE ALLOW_BUSY] 0 0 0 "server" "3.0.0" "An internal command for configuring the replication stream.";
    PSync "psync" -3 [ADMIN NOSCRIPT NO_MULTI] 0 0 0 "server" "2.8.0" "An internal command used in replication.";
    Sync "sync" 1 [ADMIN NOSCRIPT NO_MULTI] 0 0 0 "server" "1.0.0" "An internal command used in replication.";
    Role "role" 1 [NOSCRIPT LOADING STALE FAST] 0 0 0 "server" "2.8.12" "Returns the replication role.";
    Wait "wait" 3 [NOSCRIPT] 0 0 0 "generic" "3.0.0" "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.";
    Save "save" 1 [ADMIN NOSCRIPT NO_MULTI] 0 0 0 "server" "1.0.0" "Synchronously saves the database(s) to disk.";
    BgSave "bgsave" -1 [ADMIN NOSCRIPT] 0 0 0 "server" "1.0.0" "Asynchronously saves the database(s) to disk.";
    BgRewriteAof "bgrewriteaof" 1 [ADMIN NOSCRIPT] 0 0 0 "server" "1.0.0" "Asynchronously rewrites the append-only file to disk.";
    LastSave "lastsave" 1 [LOADING STALE FAST] 0 0 0 "server" "1.0.0" "Returns the Unix timestamp of the last successful save to disk.";
    Shutdown "shutdown" -1 [ADMIN NOSCRIPT LOADING STALE NO_MULTI ALLOW_BUSY] 0 0 0 "server" "1.0.0" "Synchronously saves the database(s) to disk and shuts down the Redis server.";
}

/// The longest command name in the table, so lookups can lower-case into a stack buffer.
const MAX_NAME: usize = 32;

fn index() -> &'static HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::RandomState> {
    static INDEX: OnceLock<HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::RandomState>> =
        OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name.as_bytes(), c)).collect())
}

/// Looks a command up by name, case-insensitively. For a container, pass the subcommand too to get its
/// row (`lookup(b"CONFIG", Some(b"get"))`); `None` there means an unknown subcommand.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    // `config|get` names a subcommand row, not a command a client can send.
    if name.contains(&b'|') {
        return None;
    }
    lookup_row(name)
}

/// A row by its table name, subcommands included (`config|get`), as `COMMAND INFO` and `DOCS` take it.
pub fn lookup_row(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut lower = [0u8; MAX_NAME];
    let dst = lower.get_mut(..name.len())?;
    for (d, s) in dst.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    index().get(lower.get(..name.len())?).copied()
}

/// The row of subcommand `sub` of container `parent`.
pub fn lookup_sub(parent: &CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
    let mut lower = [0u8; MAX_NAME * 2];
    let len = parent.name.len() + 1 + sub.len();
    let dst = lower.get_mut(..len)?;
    let (p, rest) = dst.split_at_mut(parent.name.len());
    p.copy_from_slice(parent.name.as_bytes());
    let (bar, s) = rest.split_at_mut(1);
    bar.copy_from_slice(b"|");
    for (d, c) in s.iter_mut().zip(sub) {
        *d = c.to_ascii_lowercase();
    }
    index().get(lower.get(..len)?).copied()
}

/// Top-level commands (no subcommand rows), for `COMMAND`, `COMMAND COUNT`, `COMMAND LIST`.
pub fn top_level() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| !c.is_subcommand())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|c| c.id), Some(CommandId::Get));
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(b"config|get").is_none());
        assert_eq!(lookup_row(b"CONFIG|GET").map(|c| c.id), Some(CommandId::ConfigGet));
        assert!(lookup(&[b'a'; 100]).is_none());
        let config = lookup(b"CONFIG").unwrap();
        assert_eq!(lookup_sub(config, b"GET").map(|c| c.id), Some(CommandId::ConfigGet));
        assert!(lookup_sub(config, b"nope").is_none());
    }

    #[test]
    fn names_are_unique_lowercase_and_short() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.name.len() <= MAX_NAME);
            if let Some((parent, _)) = c.name.split_once('|') {
                assert!(lookup(parent.as_bytes()).unwrap().has(CONTAINER), "{parent} must be a container");
            }
            assert!(!(c.has(WRITE) && c.has(READONLY)), "{}", c.name);
        }
    }

    #[test]
    fn key_positions() {
        let keys = |name: &[u8], argc| lookup(name).unwrap().key_indexes(argc).collect::<Vec<_>>();
        assert_eq!(keys(b"get", 2), vec![1]);
        assert_eq!(keys(b"mset", 5), vec![1, 3]);
        assert_eq!(keys(b"del", 4), vec![1, 2, 3]);
        assert_eq!(keys(b"rename", 3), vec![1, 2]);
        assert_eq!(keys(b"ping", 1), Vec::<usize>::new());
        assert_eq!(keys(b"set", 5), vec![1]);
        let moving = |argv: &[&[u8]]| lookup(argv[0]).unwrap().keys_in(argv);
        assert_eq!(moving(&[b"zunionstore", b"d", b"2", b"a", b"b"]), Some(vec![1, 3, 4]));
        assert_eq!(moving(&[b"lmpop", b"2", b"a", b"b", b"LEFT"]), Some(vec![2, 3]));
        assert_eq!(moving(&[b"blmpop", b"0", b"1", b"a", b"LEFT"]), Some(vec![3]));
        assert_eq!(moving(&[b"zinter", b"3", b"a", b"b"]), None);
        assert_eq!(moving(&[b"zinter", b"0", b"a"]), None);
        assert_eq!(moving(&[b"get", b"k"]), Some(vec![1]));
        assert_eq!(moving(&[b"eval", b"return 1", b"2", b"a", b"b", b"x"]), Some(vec![3, 4]));
        assert_eq!(moving(&[b"evalsha_ro", b"sha", b"1", b"a"]), Some(vec![3]));
        assert_eq!(moving(&[b"eval", b"return 1", b"3", b"a"]), None);
    }

    #[test]
    fn arity() {
        let get = lookup(b"get").unwrap();
        assert!(get.arity_ok(2) && !get.arity_ok(3) && !get.arity_ok(1));
        let set = lookup(b"set").unwrap();
        assert!(set.arity_ok(3) && set.arity_ok(7) && !set.arity_ok(2));
    }
}
