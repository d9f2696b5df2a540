//! The `slotkv-router` binary (issue 9): not built yet, so it says so instead of pretending to run.

fn main() {
    eprintln!("slotkv-router is not implemented yet (issue 9)");
    std::process::exit(2);
}
