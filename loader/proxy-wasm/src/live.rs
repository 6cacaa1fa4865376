//! A running instance of a filter: its store, its callbacks looked up
//! once, the context ids it hands out and its next tick.

use std::time::{Duration, Instant};

use wasmc_loader::{wasi::WasiCtx, Config, Error, Instance, Store, TypedFunc};

use crate::abi::ACTION_CONTINUE;
use crate::guest::{i, Exports};
use crate::maps::len32;
use crate::outcome::{Action, FilterError};
use crate::plugin::Plugin;
use crate::state::HostState;

pub(crate) type Cb<P, R> = Option<TypedFunc<P, R>>;
/// Picks a headers or body callback `(context, count or size, end_of_stream)`.
pub(crate) type PickPhase = fn(&Callbacks) -> Cb<(i32, i32, i32), i32>;
/// Picks a trailers callback `(context, count)`.
pub(crate) type PickTrailers = fn(&Callbacks) -> Cb<(i32, i32), i32>;

/// The module's callbacks, looked up once per instance.
pub(crate) struct Callbacks {
    pub context_create: Cb<(i32, i32), ()>,
    pub vm_start: Cb<(i32, i32), i32>,
    pub configure: Cb<(i32, i32), i32>,
    pub tick: Cb<i32, ()>,
    pub queue_ready: Cb<(i32, i32), ()>,
    pub request_headers: Cb<(i32, i32, i32), i32>,
    pub request_body: Cb<(i32, i32, i32), i32>,
    pub request_trailers: Cb<(i32, i32), i32>,
    pub response_headers: Cb<(i32, i32, i32), i32>,
    pub response_body: Cb<(i32, i32, i32), i32>,
    pub response_trailers: Cb<(i32, i32), i32>,
    pub http_call_response: Cb<(i32, i32, i32, i32, i32), ()>,
    pub done: Cb<i32, i32>,
    pub log: Cb<i32, ()>,
    pub delete: Cb<i32, ()>,
}

impl Callbacks {
    fn new(store: &Store<HostState>, instance: &Instance) -> Result<Callbacks, Error> {
        fn get<P: wasmc_loader::WasmParams, R: wasmc_loader::WasmResults>(
            store: &Store<HostState>,
            instance: &Instance,
            name: &str,
        ) -> Result<Cb<P, R>, Error> {
            match instance.get_func(store, name) {
                Some(_) => instance.get_typed_func::<P, R>(store, name).map(Some),
                None => Ok(None),
            }
        }
        Ok(Callbacks {
            context_create: get(store, instance, "proxy_on_context_create")?,
            vm_start: get(store, instance, "proxy_on_vm_start")?,
            configure: get(store, instance, "proxy_on_configure")?,
            tick: get(store, instance, "proxy_on_tick")?,
            queue_ready: get(store, instance, "proxy_on_queue_ready")?,
            request_headers: get(store, instance, "proxy_on_request_headers")?,
            request_body: get(store, instance, "proxy_on_request_body")?,
            request_trailers: get(store, instance, "proxy_on_request_trailers")?,
            response_headers: get(store, instance, "proxy_on_response_headers")?,
            response_body: get(store, instance, "proxy_on_response_body")?,
            response_trailers: get(store, instance, "proxy_on_response_trailers")?,
            http_call_response: get(store, instance, "proxy_on_http_call_response")?,
            done: get(store, instance, "proxy_on_done")?,
            log: get(store, instance, "proxy_on_log")?,
            delete: get(store, instance, "proxy_on_delete")?,
        })
    }
}

/// A running instance.
pub(crate) struct Live {
    pub store: Store<HostState>,
    pub callbacks: Callbacks,
    pub next_context: u32,
    pub next_tick: Option<Instant>,
}

pub(crate) const ROOT_CONTEXT: u32 = 1;

impl Live {
    /// Instantiates, runs `_initialize` (or `_start`), creates the root
    /// context, then `proxy_on_vm_start` and `proxy_on_configure`.
    pub fn start(plugin: &Plugin) -> Result<Live, FilterError> {
        let inner = &plugin.inner;
        let config = Config { max_memory_bytes: Some(inner.config.max_memory_bytes), ..Config::default() };
        let mut store = Store::with_data(config, HostState::new(inner.clone()));
        let wasi = WasiCtx::builder().build().map_err(|e| FilterError::Start(Error::Type(e.to_string())))?;
        store.set_wasi(wasi);
        store.set_call_timeout(Some(inner.config.call_timeout));
        let instance = inner.pre.instantiate(&mut store).map_err(FilterError::Start)?;
        let callbacks = Callbacks::new(&store, &instance).map_err(FilterError::Start)?;
        store.data_mut().exports = Exports::new(&store, &instance);
        for name in ["_initialize", "_start"] {
            if let Ok(f) = instance.get_typed_func::<(), ()>(&store, name) {
                f.call(&mut store, ()).map_err(|error| FilterError::Callback { callback: name, error })?;
                break;
            }
        }
        let mut live = Live { store, callbacks, next_context: ROOT_CONTEXT + 1, next_tick: None };
        live.store.data_mut().root_context = ROOT_CONTEXT;
        live.call("proxy_on_context_create", ROOT_CONTEXT, |cb| cb.context_create, (i(ROOT_CONTEXT), 0))?;
        let vm_config = len32(inner.config.vm_configuration.len());
        let started =
            live.call("proxy_on_vm_start", ROOT_CONTEXT, |cb| cb.vm_start, (i(ROOT_CONTEXT), i(vm_config)))?;
        if started == Some(0) {
            return Err(FilterError::Refused("proxy_on_vm_start"));
        }
        let config = len32(inner.config.configuration.len());
        let configured =
            live.call("proxy_on_configure", ROOT_CONTEXT, |cb| cb.configure, (i(ROOT_CONTEXT), i(config)))?;
        if configured == Some(0) {
            return Err(FilterError::Refused("proxy_on_configure"));
        }
        live.schedule_tick(Instant::now());
        Ok(live)
    }

    /// Calls a callback (if the module exports it) with `context` as the
    /// effective context.
    pub fn call<P: wasmc_loader::WasmParams, R: wasmc_loader::WasmResults>(
        &mut self,
        callback: &'static str,
        context: u32,
        pick: impl FnOnce(&Callbacks) -> Cb<P, R>,
        params: P,
    ) -> Result<Option<R>, FilterError> {
        let Some(func) = pick(&self.callbacks) else { return Ok(None) };
        self.store.data_mut().effective = context;
        let result = func.call(&mut self.store, params);
        result.map(Some).map_err(|error| FilterError::Callback { callback, error })
    }

    pub fn schedule_tick(&mut self, now: Instant) {
        let period = self.store.data().tick_period_ms;
        self.next_tick = (period > 0).then(|| now + Duration::from_millis(u64::from(period)));
    }

    /// The action after an HTTP callback returned `returned` (or after an
    /// HTTP call response, `None`, when only a resumption continues).
    pub fn outcome(&mut self, context: u32, returned: Option<i32>) -> Action {
        let Some(http) = self.store.data_mut().http.get_mut(&context) else { return Action::Continue };
        if let Some(response) = http.local_response.take() {
            return Action::Respond(response);
        }
        if http.closed {
            return Action::Close;
        }
        let resumed = std::mem::take(&mut http.resume_request) | std::mem::take(&mut http.resume_response);
        match returned {
            Some(ACTION_CONTINUE) => Action::Continue,
            Some(_) => Action::Pause,
            None if resumed => Action::Continue,
            None => Action::Pause,
        }
    }
}
