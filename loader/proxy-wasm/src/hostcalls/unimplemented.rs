//! gRPC calls and streams: defined, so that filters importing them link,
//! but answered with `Unimplemented` and a warning in the plugin's log.

use wasmc_loader::Linker;

use super::{define_i32s, ENV};
use crate::abi::{LogLevel, Status};
use crate::guest::Ctx;
use crate::state::HostState;

fn unimplemented(c: &Ctx<'_>, name: &str) -> i32 {
    c.data().plugin.log(LogLevel::Warn, &format!("{name}: gRPC is not implemented by this host"));
    Status::Unimplemented as i32
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) {
    define_i32s(linker, "proxy_grpc_call", 12, |c, _| Ok(unimplemented(&c, "proxy_grpc_call")));
    define_i32s(linker, "proxy_grpc_stream", 9, |c, _| Ok(unimplemented(&c, "proxy_grpc_stream")));
    linker.func_wrap(ENV, "proxy_grpc_send", |c: Ctx<'_>, _: i32, _: i32, _: i32, _: i32| {
        unimplemented(&c, "proxy_grpc_send")
    });
    linker.func_wrap(ENV, "proxy_grpc_cancel", |c: Ctx<'_>, _: i32| unimplemented(&c, "proxy_grpc_cancel"));
    linker.func_wrap(ENV, "proxy_grpc_close", |c: Ctx<'_>, _: i32| unimplemented(&c, "proxy_grpc_close"));
    linker
        .func_wrap(ENV, "proxy_get_status", |c: Ctx<'_>, _: i32, _: i32, _: i32| unimplemented(&c, "proxy_get_status"));
}
