//! The `slotkv` operator tool. Issue 8 builds `up`, `create`, `reshard` and the rest; today it knows
//! `keyslot`, which needs nothing but the protocol crate.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("keyslot") if args.len() == 2 => {
            let key = args.get(1).map(String::as_bytes).unwrap_or_default();
            println!("{}", slotkv_proto::key_slot(key));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: slotkv keyslot KEY   (up, create, reshard...: issue 8)");
            ExitCode::from(2)
        }
    }
}
