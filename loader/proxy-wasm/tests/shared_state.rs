//! The `shared_counter` filter on several worker threads, each with its
//! own VM of one plugin: shared data with compare-and-swap adds up across
//! VMs, ticks and queues reach the root context through `Vm::poll`, the
//! metric counts every request, and properties are what the request says.

mod common;

use std::time::{Duration, Instant};

use common::{config, get, ok_response, plugin};
use wasmc_proxy_wasm::{Action, MetricType, StreamInfo, Vm};

const WORKERS: usize = 4;
const REQUESTS: usize = 50;

#[test]
fn counters_add_up_across_the_vms_of_every_worker() {
    let (config, _) = config("shared_counter");
    let plugin = plugin("shared_counter", config);
    let threads: Vec<_> = (0..WORKERS)
        .map(|_| {
            let plugin = plugin.clone();
            std::thread::spawn(move || {
                let mut vm = Vm::new(&plugin).expect("the VM starts");
                let mut counts = Vec::new();
                for _ in 0..REQUESTS {
                    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
                    assert_eq!(vm.on_request_headers(&stream, &mut get("/count"), true).unwrap(), Action::Continue);
                    let mut response = ok_response(&[]);
                    vm.on_response_headers(&stream, &mut response, true).unwrap();
                    counts.push(response.get_str("x-request-count").unwrap().parse::<usize>().unwrap());
                    vm.end_http_stream(stream).unwrap();
                }
                assert_eq!(vm.restarts(), 0);
                counts
            })
        })
        .collect();
    let mut all: Vec<usize> = threads.into_iter().flat_map(|t| t.join().expect("a worker")).collect();
    all.sort_unstable();
    // Every increment was seen exactly once: no update lost to a race.
    assert_eq!(all, (1..=WORKERS * REQUESTS).collect::<Vec<_>>());
    let metric = plugin.shared().metric("shared_counter_requests").expect("the metric is defined");
    assert_eq!((metric.kind, metric.value), (MetricType::Counter, (WORKERS * REQUESTS) as i64));
}

#[test]
fn ticks_queues_and_properties() {
    let (mut config, _) = config("shared_counter");
    config.root_id = "counter-root".into();
    let plugin = plugin("shared_counter", config);
    let mut vm = Vm::new(&plugin).unwrap();
    assert_eq!(vm.tick_period_ms(), 10);
    // Ticks come only when polled, once the period has passed.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut polls = 0;
    while polls < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(11));
        vm.poll(Instant::now()).unwrap();
        polls += 1;
    }
    let info = wasmc_proxy_wasm::StreamInfo {
        source: Some("192.0.2.7:4242".parse().unwrap()),
        destination: Some("127.0.0.1:8080".parse().unwrap()),
    };
    let stream = vm.create_http_stream(info).unwrap();
    let mut request = get("/queued?x=1");
    request.insert(":method", "POST");
    vm.on_request_headers(&stream, &mut request, true).unwrap();
    // The path went on the queue; polling hands it to the root context.
    vm.poll(Instant::now()).unwrap();
    let mut response = ok_response(&[]);
    vm.on_response_headers(&stream, &mut response, true).unwrap();
    vm.end_http_stream(stream).unwrap();
    let header = |name: &str| response.get_str(name).unwrap_or_else(|| panic!("no {name} in {response:?}")).to_string();
    assert_eq!(header("x-ticks"), "3");
    assert_eq!(header("x-last-path"), "/queued?x=1");
    assert_eq!(header("x-plugin-name"), "shared_counter");
    assert_eq!(header("x-root-id"), "counter-root");
    assert_eq!(header("x-method"), "POST");
    assert_eq!(header("x-path"), "/queued?x=1");
    assert_eq!(header("x-source"), "192.0.2.7:4242");
    assert!(vm.next_tick().is_some());
}
