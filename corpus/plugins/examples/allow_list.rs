//! Denies `/admin...` with 403 and requests without `x-api-key` on
//! `/private...` with 401; allows the rest, adding `x-plugin: allow-list`.
use wasmc_plugins::{plugin, Decision, Request};

fn filter(req: &Request) -> Decision {
    if req.path.starts_with("/admin") {
        return Decision::Deny(403);
    }
    let has_key = req.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("x-api-key") && v == "secret");
    if req.path.starts_with("/private") && !has_key {
        return Decision::Deny(401);
    }
    Decision::Allow(vec![("x-plugin".into(), "allow-list".into()), ("x-method-seen".into(), req.method.clone())])
}

plugin!(filter);
