use std::io::Cursor;

use super::*;
use crate::evidence::testkit::{RedisServer, closed_port, silent_listener};

fn limits(ms: u64, max_bytes: usize) -> Limits {
    Limits {
        timeout: Duration::from_millis(ms),
        max_bytes,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn parse(wire: &[u8]) -> Result<Reply, Error> {
    read_reply(&mut Cursor::new(wire.to_vec()), 1 << 20)
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

#[test]
fn urls_parse_and_never_show_the_password() {
    let u = RedisUrl::parse("redis://127.0.0.1:6379").unwrap();
    assert_eq!((u.host.as_str(), u.port, u.db), ("127.0.0.1", 6379, None));
    assert_eq!((u.username.as_deref(), u.password.as_deref()), (None, None));

    let u = RedisUrl::parse("redis://reader:p%40ss:w@cache.internal:7000/3").unwrap();
    assert_eq!(u.username.as_deref(), Some("reader"));
    assert_eq!(u.password.as_deref(), Some("p@ss:w"));
    assert_eq!(
        (u.host.as_str(), u.port, u.db),
        ("cache.internal", 7000, Some(3))
    );
    assert!(!format!("{u:?}").contains("p@ss"), "{u:?}");

    let u = RedisUrl::parse("REDIS://:s3cret@localhost/").unwrap();
    assert_eq!((u.username, u.password.as_deref()), (None, Some("s3cret")));
    assert_eq!((u.port, u.db), (6379, None));

    let u = RedisUrl::parse("redis://[::1]:6380/0").unwrap();
    assert_eq!((u.host.as_str(), u.port, u.db), ("::1", 6380, Some(0)));
    assert_eq!(u.addr(), "[::1]:6380");

    for (bad, why) in [
        ("rediss://h:6379", "TLS (rediss://) is not supported"),
        ("http://h:6379", "only redis:// URLs"),
        ("127.0.0.1:6379", "expected redis://"),
        ("redis://", "no host"),
        ("redis://h:0", "port must be a number"),
        ("redis://h:99999", "port must be a number"),
        ("redis://h/db1", "database number"),
        ("redis://h?timeout=1", "query strings"),
        ("redis://user@h", "a user without a password"),
        ("redis://h o", "characters a host name cannot have"),
        ("redis://[::1", "unclosed ["),
    ] {
        let e = RedisUrl::parse(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
    let e = RedisUrl::parse("redis://u:hunter2@h:x")
        .unwrap_err()
        .to_string();
    assert!(
        !e.contains("hunter2") && e.contains("redis://u:***@h:x"),
        "{e}"
    );
}

#[test]
fn commands_split_like_redis_cli() {
    let split = |s: &str| {
        split_args(s).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        split("  HGETALL   quantum:portfolio:cluster_state ").unwrap(),
        ["HGETALL", "quantum:portfolio:cluster_state"]
    );
    assert_eq!(
        split(r#"HGET "key with spaces" 'it\'s' "a\"b\\c\n\x41""#).unwrap(),
        ["HGET", "key with spaces", "it's", "a\"b\\c\nA"]
    );
    assert_eq!(split(r#"GET """#).unwrap(), ["GET", ""]);
    assert_eq!(split("").unwrap(), Vec::<String>::new());
    assert!(split(r#"GET "open"#).is_err());
    assert!(split(r#"GET "a"b"#).is_err());
}

#[test]
fn only_read_commands_pass() {
    for ok in [
        "HGETALL quantum:portfolio:cluster_state",
        "get k",
        "XRANGE quantum:stream:trades - + COUNT 10",
        "XINFO STREAM s",
        "INFO keyspace",
        "PING",
    ] {
        parse_read_command(ok).unwrap();
    }
    for bad in [
        "SET k v",
        "DEL k",
        "XADD quantum:stream:orders * side buy",
        "FLUSHALL",
        "CONFIG SET save ''",
        "EVAL \"return 1\" 0",
        "HSET h f v",
        "SHUTDOWN",
        "MULTI",
        "\"SE T\" k",
    ] {
        let e = parse_read_command(bad).unwrap_err().to_string();
        let name = split_args(bad).unwrap()[0].to_ascii_uppercase();
        let name = String::from_utf8(name).unwrap();
        assert!(
            e.starts_with(&format!("redis command `{name}` is refused")),
            "{bad}: {e}"
        );
        assert!(
            e.contains("the ops seeds forbid writes to trading streams"),
            "{e}"
        );
    }
    let e = parse_read_command("AUTH s3cret").unwrap_err().to_string();
    assert!(e.contains("in the redis URL instead"), "{e}");
    assert!(parse_read_command("   ").is_err());
}

#[test]
fn resp2_replies_parse() {
    assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Status(b"OK".to_vec()));
    assert_eq!(
        parse(b"-ERR bad\r\n").unwrap(),
        Reply::Error(b"ERR bad".to_vec())
    );
    assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Integer(-42));
    assert_eq!(parse(b"$5\r\nab\r\nc\r\n").unwrap(), bulk("ab\r\nc"));
    assert_eq!(parse(b"$0\r\n\r\n").unwrap(), bulk(""));
    assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Nil);
    assert_eq!(parse(b"*-1\r\n").unwrap(), Reply::Nil);
    assert_eq!(parse(b"*0\r\n").unwrap(), Reply::Array(vec![]));
    assert_eq!(
        parse(b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n+x\r\n").unwrap(),
        Reply::Array(vec![
            bulk("a"),
            Reply::Array(vec![Reply::Integer(1), Reply::Nil]),
            Reply::Status(b"x".to_vec()),
        ])
    );
}

#[test]
fn hostile_replies_are_refused_without_growing() {
    // Truncated, wrongly framed, unknown types.
    for (wire, why) in [
        (&b""[..], "closed the connection"),
        (b"$5\r\nab", "mid-reply"),
        (b"$2\r\nabcd\r\n", "not followed by CRLF"),
        (b"+OK\n", "did not end in CRLF"),
        (b":x\r\n", "expected a number"),
        (b"$-2\r\n", "bad bulk length"),
        (b"%1\r\n", "unexpected reply type '%'"),
        (b"*2\r\n:1\r\n", "closed the connection"),
    ] {
        let e = parse(wire).unwrap_err().to_string();
        assert!(e.contains(why), "{:?}: {e}", String::from_utf8_lossy(wire));
    }
    // A declared bulk over the cap is refused before any allocation.
    let e = read_reply(&mut Cursor::new(b"$999999999999\r\n".to_vec()), 1000).unwrap_err();
    assert!(matches!(e, Error::TooLarge { limit: 1000 }), "{e:?}");
    // A huge claimed array length reserves nothing up front and fails when the data ends.
    assert!(parse(b"*4000000000000\r\n:1\r\n").is_err());
    // Deep nesting stops at the depth limit instead of overflowing the stack.
    let bomb: Vec<u8> = b"*1\r\n".repeat(100_000);
    let e = parse(&bomb).unwrap_err().to_string();
    assert!(e.contains("nested deeper than 32"), "{e}");
}

#[test]
fn raw_rendering_follows_redis_cli() {
    let r = |w: &[u8]| render_raw(&parse(w).unwrap());
    assert_eq!(
        r(b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\nt w\r\n"),
        "a\n1\nb\nt w"
    );
    assert_eq!(r(b"$-1\r\n"), "");
    assert_eq!(r(b"*0\r\n"), "");
    assert_eq!(r(b"-WRONGTYPE x\r\n"), "WRONGTYPE x\n");
    assert_eq!(r(b"*2\r\n*2\r\n$3\r\n1-0\r\n*0\r\n:7\r\n"), "1-0\n\n7");
    assert_eq!(r(b"$8\r\na:1\r\nb:2\r\n").as_str(), "a:1\nb:2");
}

#[test]
fn a_closed_port_is_refused_and_the_rest_is_not_run() {
    let port = closed_port();
    let url = format!("redis://127.0.0.1:{port}");
    let (text, errors) = collect(
        &url,
        &strings(&["GET a", "GET b", "GET c"]),
        &Limits::default(),
    );
    assert_eq!(text, None);
    assert_eq!(
        errors,
        [format!(
            "redis 127.0.0.1:{port} `GET a`: connection refused by 127.0.0.1:{port}; \
             is the service listening there? (2 more commands not run)"
        )]
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let addr = silent_listener();
    let url = format!("redis://{addr}");
    let t = Instant::now();
    let (text, errors) = collect(&url, &strings(&["PING", "GET a"]), &limits(300, 1 << 20));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(text, None);
    assert_eq!(
        errors,
        ["redis `PING`: timed out after 300 ms (1 more command not run)"]
    );

    // With a password, the AUTH exchange is what times out.
    let url = format!("redis://:pw@{addr}/1");
    let (_, errors) = collect(&url, &strings(&["PING"]), &limits(300, 1 << 20));
    assert_eq!(
        errors,
        [format!("redis {addr} `PING`: timed out after 300 ms")]
    );
}

/// The collector's rendering of each reply is byte for byte what `redis-cli` prints for the
/// same command (CRLF aside), against a real redis-server.
#[test]
fn real_redis_replies_match_redis_cli() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.cli(&[
        "HSET",
        "quantum:portfolio:cluster_state",
        "cluster_stress",
        "0.788493010732072",
        "updated_ts",
        "1769492127",
    ]);
    redis.cli(&["RPUSH", "quantum:list", "x", "y y", "z"]);
    redis.cli(&[
        "XADD",
        "quantum:stream:trades",
        "1-0",
        "side",
        "buy",
        "qty",
        "3",
    ]);
    redis.cli(&["XADD", "quantum:stream:trades", "2-0", "side", "sell"]);
    // No key has a TTL, so INFO keyspace (avg_ttl) is stable between calls.
    redis.cli(&["SET", "plain", "value"]);
    redis.cli(&["ZADD", "z", "1", "one", "2.5", "two"]);

    // The seed's own example, exactly.
    let limits = Limits::default();
    let (text, errors) = collect(
        &redis.url(),
        &strings(&["HGETALL quantum:portfolio:cluster_state"]),
        &limits,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        text.unwrap(),
        "# redis-cli HGETALL quantum:portfolio:cluster_state\n\
         cluster_stress\n0.788493010732072\nupdated_ts\n1769492127\n"
    );

    let cmds = [
        "HGETALL quantum:portfolio:cluster_state",
        "HGET quantum:portfolio:cluster_state updated_ts",
        "HMGET quantum:portfolio:cluster_state cluster_stress nope",
        "GET nope",
        "MGET plain nope plain",
        "LRANGE quantum:list 0 -1",
        "LRANGE nope 0 -1",
        "XRANGE quantum:stream:trades - +",
        "XREVRANGE quantum:stream:trades + - COUNT 1",
        "XLEN quantum:stream:trades",
        "XINFO STREAM quantum:stream:trades",
        "TYPE quantum:list",
        "TTL quantum:list",
        "EXISTS plain nope quantum:list",
        "ZRANGE z 0 -1 WITHSCORES",
        "ZSCORE z two",
        "SCAN 0 MATCH quantum:* COUNT 1000",
        "DBSIZE",
        "INFO keyspace",
        "PING",
    ];
    let mut conn = Conn::open(&RedisUrl::parse(&redis.url()).unwrap(), &limits).unwrap();
    for cmd in cmds {
        let args = parse_read_command(cmd).unwrap();
        let ours = cli_output(&args, &conn.call(&args, &limits).unwrap());
        let cli_args: Vec<&str> = cmd.split_whitespace().collect();
        let theirs = redis.cli(&cli_args).replace("\r\n", "\n");
        assert_eq!(ours, theirs, "{cmd}");
    }

    // A redis error reply is shown as redis-cli shows it, and is an error.
    let (text, errors) = collect(&redis.url(), &strings(&["GET quantum:list"]), &limits);
    let theirs = redis.cli(&["GET", "quantum:list"]);
    assert_eq!(
        text.unwrap(),
        format!("# redis-cli GET quantum:list\n{theirs}")
    );
    assert_eq!(
        errors,
        ["redis `GET quantum:list`: redis replied with an error: \
          WRONGTYPE Operation against a key holding the wrong kind of value"]
    );
}

#[test]
fn real_redis_writes_are_refused_and_never_sent() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.cli(&["SET", "quantum:guard", "1"]);
    redis.cli(&["XADD", "quantum:stream:orders", "1-0", "side", "buy"]);
    let writes = strings(&[
        "SET quantum:guard 2",
        "DEL quantum:guard",
        "XADD quantum:stream:orders * side sell",
        "FLUSHALL",
        "CONFIG SET requirepass x",
        "EVAL \"redis.call('SET','quantum:guard','3')\" 0",
    ]);
    for w in &writes {
        let req = crate::evidence::Request {
            redis_url: &redis.url(),
            redis_cmds: std::slice::from_ref(w),
            ..Default::default()
        };
        let e = crate::evidence::validate(&req).unwrap_err();
        assert!(
            e.contains("is refused") && e.contains("forbid writes to trading streams"),
            "{e}"
        );
    }
    // Even if a caller skips validate(), collect() refuses them and still runs the reads.
    let mut cmds = writes.clone();
    cmds.push("GET quantum:guard".into());
    let (text, errors) = collect(&redis.url(), &cmds, &Limits::default());
    assert_eq!(text.unwrap(), "# redis-cli GET quantum:guard\n1\n");
    assert_eq!(errors.len(), writes.len());
    for (e, w) in errors.iter().zip(&writes) {
        assert!(
            e.starts_with(&format!("redis `{w}`: redis command `")),
            "{e}"
        );
    }
    assert_eq!(redis.cli(&["GET", "quantum:guard"]), "1\n");
    assert_eq!(redis.cli(&["XLEN", "quantum:stream:orders"]), "1\n");
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "requirepass"]),
        "requirepass\n\n"
    );
}

#[test]
fn real_redis_size_cap_database_and_auth() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // 2 MiB value, sent on stdin: too long for a command line.
    let big = vec![b'b'; 2 << 20];
    redis.cli_stdin(&["-x", "SET", "big"], &big);
    redis.cli(&["SET", "small", "s"]);
    redis.cli(&["-n", "2", "SET", "in-db-2", "two"]);

    // Over the cap: refused from the declared length; the next command reconnects and works.
    let t = Instant::now();
    let (text, errors) = collect(
        &redis.url(),
        &strings(&["GET big", "GET small"]),
        &limits(5000, 1 << 20),
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(
        errors,
        ["redis `GET big`: more than 1048576 bytes; stopped reading at the limit"]
    );
    assert_eq!(text.unwrap(), "# redis-cli GET small\ns\n");
    // A reply made of many small values is capped on the bytes read, not on any one value.
    for i in 0..200 {
        redis.cli(&["RPUSH", "many", &format!("value-{i:04}")]);
    }
    let (_, errors) = collect(
        &redis.url(),
        &strings(&["LRANGE many 0 -1"]),
        &limits(5000, 1000),
    );
    assert_eq!(
        errors,
        ["redis `LRANGE many 0 -1`: more than 1000 bytes; stopped reading at the limit"]
    );

    // The database in the URL is selected.
    let (text, errors) = collect(
        &format!("{}/2", redis.url()),
        &strings(&["GET in-db-2"]),
        &Limits::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(text.unwrap(), "# redis-cli GET in-db-2\ntwo\n");
    let (text, _) = collect(
        &format!("{}/0", redis.url()),
        &strings(&["GET in-db-2"]),
        &Limits::default(),
    );
    assert_eq!(text.unwrap(), "# redis-cli GET in-db-2\n\n");

    // An ACL user limited to reads: user and password from the URL.
    redis.cli(&[
        "ACL",
        "SETUSER",
        "reader",
        "on",
        ">rd-pass",
        "~*",
        "+@read",
        "+@connection",
    ]);
    let port = redis.port;
    let (text, errors) = collect(
        &format!("redis://reader:rd-pass@127.0.0.1:{port}/2"),
        &strings(&["GET in-db-2"]),
        &Limits::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(text.unwrap(), "# redis-cli GET in-db-2\ntwo\n");
    let (text, errors) = collect(
        &format!("redis://reader:wrong-pass@127.0.0.1:{port}"),
        &strings(&["GET small"]),
        &Limits::default(),
    );
    assert_eq!(text, None);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("authentication failed: WRONGPASS"),
        "{errors:?}"
    );
    assert!(
        !errors[0].contains("wrong-pass"),
        "the password leaked: {errors:?}"
    );

    // The default user with a password (requirepass); without it, redis says NOAUTH.
    redis.cli(&["CONFIG", "SET", "requirepass", "s3cret"]);
    let (text, errors) = collect(
        &format!("redis://:s3cret@127.0.0.1:{port}"),
        &strings(&["GET small"]),
        &Limits::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(text.unwrap(), "# redis-cli GET small\ns\n");
    let (_, errors) = collect(&redis.url(), &strings(&["GET small"]), &Limits::default());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("redis replied with an error: NOAUTH"),
        "{errors:?}"
    );
}
