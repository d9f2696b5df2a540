//! DUMP/RESTORE, COPY, RENAME and TYPE across every type.

use slotkv_tests::Node;

/// Fills one key of each type.
fn fill(c: &mut slotkv_tests::Conn) {
    c.ok(&["SET", "str", "hello"]);
    c.expect(&["RPUSH", "list", "a", "b", "c"], b":3\r\n");
    c.expect(&["SADD", "set", "x", "y", "1"], b":3\r\n");
    c.expect(&["SADD", "ints", "1", "2", "3"], b":3\r\n");
    c.expect(&["ZADD", "zset", "1.5", "m1", "-2", "m2"], b":2\r\n");
    c.expect(&["HSET", "hash", "f", "v"], b":1\r\n");
}

/// Everything a key holds, as replies, to compare two keys.
fn contents(c: &mut slotkv_tests::Conn, key: &str) -> Vec<u8> {
    let kind = c.raw(&["TYPE", key]);
    let mut all = kind.clone();
    let body = match kind.as_slice() {
        b"+string\r\n" => c.raw(&["GET", key]),
        b"+list\r\n" => c.raw(&["LRANGE", key, "0", "-1"]),
        b"+set\r\n" => {
            let mut m = c.cmd(&["SMEMBERS", key]).strings();
            m.sort();
            m.join(",").into_bytes()
        }
        b"+zset\r\n" => c.raw(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        b"+hash\r\n" => c.raw(&["HGETALL", key]),
        other => panic!("unexpected type {other:?}"),
    };
    all.extend(body);
    all.extend(c.raw(&["OBJECT", "ENCODING", key]));
    all
}

#[test]
fn dump_restore_round_trips_every_type() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    fill(&mut c);
    for key in ["str", "list", "set", "ints", "zset", "hash"] {
        let payload = c.bulk(&["DUMP", key]).unwrap();
        let copy = format!("{key}-copy");
        c.ok(&[&b"RESTORE"[..], copy.as_bytes(), b"0", &payload]);
        assert_eq!(contents(&mut c, key), contents(&mut c, &copy), "{key}");
        c.expect(
            &[b"RESTORE", copy.as_bytes(), b"0", &payload],
            b"-BUSYKEY Target key name already exists.\r\n",
        );
        c.ok(&[&b"RESTORE"[..], copy.as_bytes(), b"0", &payload, b"REPLACE"]);
        // A damaged payload is refused, whichever byte was hit.
        let mut bad = payload.clone();
        bad[0] ^= 1;
        c.expect(
            &[&b"RESTORE"[..], b"other", b"0", &bad],
            b"-ERR DUMP payload version or checksum are wrong\r\n",
        );
    }
    c.expect(&["DUMP", "missing"], b"$-1\r\n");
}

#[test]
fn restore_options() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "k", "v"]);
    let p = c.bulk(&["DUMP", "k"]).unwrap();
    let restore = |c: &mut slotkv_tests::Conn, extra: &[&[u8]], expected: &[u8]| {
        let mut args: Vec<&[u8]> = vec![b"RESTORE", b"r"];
        args.extend_from_slice(extra);
        c.expect(&args, expected);
    };
    restore(&mut c, &[b"-1", &p], b"-ERR Invalid TTL value, must be >= 0\r\n");
    restore(&mut c, &[b"x", &p], b"-ERR value is not an integer or out of range\r\n");
    restore(&mut c, &[b"0", &p, b"IDLETIME", b"-1"], b"-ERR Invalid IDLETIME value, must be >= 0\r\n");
    restore(&mut c, &[b"0", &p, b"FREQ", b"256"], b"-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n");
    restore(&mut c, &[b"0", &p, b"IDLETIME", b"1", b"FREQ", b"2"], b"-ERR syntax error\r\n");
    restore(&mut c, &[b"0", &p, b"FOO"], b"-ERR syntax error\r\n");
    restore(&mut c, &[b"0", b""], b"-ERR DUMP payload version or checksum are wrong\r\n");
    restore(&mut c, &[b"5000", &p], b"+OK\r\n");
    let pttl = c.int(&["PTTL", "r"]);
    assert!(pttl > 4000 && pttl <= 5000, "{pttl}");
    // ABSTTL in the past: OK, and no key.
    restore(&mut c, &[b"1000", &p, b"ABSTTL", b"REPLACE"], b"+OK\r\n");
    c.expect(&["EXISTS", "r"], b":0\r\n");
    restore(&mut c, &[b"0", &p, b"IDLETIME", b"10"], b"+OK\r\n");
    // A Redis 7 payload (RDB version 10) is not ours.
    c.expect(
        &[&b"RESTORE"[..], b"redis", b"0", b"\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xce"],
        b"-ERR DUMP payload version or checksum are wrong\r\n",
    );
}

#[test]
fn copy_rename_type_cover_every_type() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    fill(&mut c);
    for (key, kind) in
        [("str", "string"), ("list", "list"), ("set", "set"), ("zset", "zset"), ("hash", "hash")]
    {
        c.expect(&["TYPE", key], format!("+{kind}\r\n").as_bytes());
        let copy = format!("{key}-c");
        c.expect(&["COPY", key, &copy], b":1\r\n");
        assert_eq!(contents(&mut c, key), contents(&mut c, &copy));
        let moved = format!("{key}-m");
        c.ok(&["RENAME", &copy, &moved]);
        assert_eq!(contents(&mut c, key), contents(&mut c, &moved));
        c.expect(&["EXISTS", &copy], b":0\r\n");
        // The copy is independent of the original.
        c.expect(&["DEL", key], b":1\r\n");
        c.expect(&["EXISTS", &moved], b":1\r\n");
    }
}
