//! Shared data, shared queues and metrics, on the plugin's [`Shared`].
//!
//! [`Shared`]: crate::Shared

use wasmc_loader::{HostError, Linker};

use super::{status, ENV};
use crate::abi::{MetricType, Status};
use crate::guest::{give, read, read_str, u, write_u32, write_u64, Ctx};
use crate::state::HostState;

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) {
    linker.func_wrap(
        ENV,
        "proxy_get_shared_data",
        |mut c: Ctx<'_>, key: i32, key_len: i32, ret: i32, ret_len: i32, ret_cas: i32| -> Result<i32, HostError> {
            let found = read_str(&c, key, key_len)
                .and_then(|key| c.data().plugin.config.shared.get(&key).ok_or(Status::NotFound));
            let (value, cas) = match found {
                Ok(v) => v,
                Err(s) => return Ok(s as i32),
            };
            if let Err(s) = write_u32(&mut c, ret_cas, cas) {
                return Ok(s as i32);
            }
            Ok(give(&mut c, &value, ret, ret_len)? as i32)
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_set_shared_data",
        |c: Ctx<'_>, key: i32, key_len: i32, value: i32, value_len: i32, cas: i32| -> i32 {
            status((|| {
                let key = read_str(&c, key, key_len)?;
                let value = read(&c, value, value_len)?;
                match c.data().plugin.config.shared.set(&key, &value, u(cas)) {
                    Status::Ok => Ok(()),
                    s => Err(s),
                }
            })())
        },
    );
    linker.func_wrap(ENV, "proxy_register_shared_queue", |mut c: Ctx<'_>, name: i32, name_len: i32, ret: i32| -> i32 {
        status((|| {
            let name = read_str(&c, name, name_len)?;
            let id = c.data().plugin.config.shared.register_queue(&name);
            if id == 0 {
                return Err(Status::InternalFailure);
            }
            write_u32(&mut c, ret, id)?;
            let queues = &mut c.data_mut().queues;
            if !queues.contains(&id) {
                queues.push(id);
            }
            Ok(())
        })())
    });
    linker.func_wrap(
        ENV,
        "proxy_resolve_shared_queue",
        |mut c: Ctx<'_>, _vm_id: i32, _vm_id_len: i32, name: i32, name_len: i32, ret: i32| -> i32 {
            // One queue namespace per `Shared`: the VM id is not needed.
            status((|| {
                let name = read_str(&c, name, name_len)?;
                let id = c.data().plugin.config.shared.resolve_queue(&name).ok_or(Status::NotFound)?;
                write_u32(&mut c, ret, id)
            })())
        },
    );
    linker.func_wrap(ENV, "proxy_enqueue_shared_queue", |c: Ctx<'_>, id: i32, ptr: i32, len: i32| -> i32 {
        status((|| match c.data().plugin.config.shared.enqueue(u(id), &read(&c, ptr, len)?) {
            Status::Ok => Ok(()),
            s => Err(s),
        })())
    });
    linker.func_wrap(
        ENV,
        "proxy_dequeue_shared_queue",
        |mut c: Ctx<'_>, id: i32, ret: i32, ret_len: i32| -> Result<i32, HostError> {
            match c.data().plugin.config.shared.dequeue(u(id)) {
                Ok(item) => Ok(give(&mut c, &item, ret, ret_len)? as i32),
                Err(s) => Ok(s as i32),
            }
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_define_metric",
        |mut c: Ctx<'_>, kind: i32, name: i32, name_len: i32, ret: i32| -> i32 {
            status((|| {
                let kind = MetricType::from_abi(u(kind)).ok_or(Status::BadArgument)?;
                let name = read_str(&c, name, name_len)?;
                let id = c.data().plugin.config.shared.define_metric(kind, &name)?;
                write_u32(&mut c, ret, id)
            })())
        },
    );
    linker.func_wrap(ENV, "proxy_get_metric", |mut c: Ctx<'_>, id: i32, ret: i32| -> i32 {
        status((|| {
            let value = c.data().plugin.config.shared.metric_value(u(id))?;
            write_u64(&mut c, ret, u64::from_ne_bytes(value.to_ne_bytes()))
        })())
    });
    linker.func_wrap(ENV, "proxy_record_metric", |c: Ctx<'_>, id: i32, value: i64| -> i32 {
        c.data().plugin.config.shared.record_metric(u(id), value) as i32
    });
    linker.func_wrap(ENV, "proxy_increment_metric", |c: Ctx<'_>, id: i32, delta: i64| -> i32 {
        c.data().plugin.config.shared.increment_metric(u(id), delta) as i32
    });
}
