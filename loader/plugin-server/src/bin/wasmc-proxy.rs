//! `wasmc-proxy`: a reverse proxy that runs a chain of Proxy-Wasm filters
//! compiled by wasmc on every request (see the crate's README).
//!
//! ```text
//! wasmc-proxy CONFIG.toml
//! ```

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: wasmc-proxy CONFIG.toml");
        return std::process::ExitCode::from(2);
    };
    let started = wasmc_plugin_server::proxy::ProxyConfig::load(std::path::Path::new(path))
        .and_then(wasmc_plugin_server::proxy::start);
    match started {
        Ok(addresses) => {
            // The first line on stdout tells scripts and tests where we listen.
            match addresses.admin {
                Some(admin) => println!("listening on http://{} admin on http://{admin}", addresses.listen),
                None => println!("listening on http://{}", addresses.listen),
            }
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("wasmc-proxy: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
