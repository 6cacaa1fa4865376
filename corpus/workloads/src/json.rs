//! JSON: serde_json parse and serialize of a realistic nested document (a page
//! of users with addresses, orders and line items, as an API would return).

use serde::{Deserialize, Serialize};

use crate::check::{Checksum, Rng};

#[derive(Serialize, Deserialize)]
struct Page {
    version: u32,
    generated_at: String,
    next_cursor: Option<String>,
    users: Vec<User>,
}

#[derive(Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    email: String,
    active: bool,
    score: f64,
    tags: Vec<String>,
    address: Address,
    orders: Vec<Order>,
}

#[derive(Serialize, Deserialize)]
struct Address {
    street: String,
    city: String,
    zip: String,
    geo: [f64; 2],
}

#[derive(Serialize, Deserialize)]
struct Order {
    id: String,
    status: Status,
    total_cents: u64,
    currency: String,
    items: Vec<Item>,
    note: Option<String>,
}

#[derive(Serialize, Deserialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Status {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

#[derive(Serialize, Deserialize)]
struct Item {
    sku: String,
    quantity: u32,
    unit_price: f64,
}

const FIRST: [&str; 8] = ["Ada", "Grace", "Linus", "Barbara", "Dennis", "Ken", "Margaret", "Edsger"];
const LAST: [&str; 8] = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Ritchie", "Thompson", "Hamilton", "Dijkstra"];
const CITIES: [&str; 6] = ["Zürich", "Lisboa", "Kraków", "Montréal", "Osaka", "São Paulo"];
const TAGS: [&str; 7] = ["beta", "admin", "vip", "trial", "eu", "\"quoted\"", "line\nbreak"];
const USERS: u64 = 40;

fn page(rng: &mut Rng) -> Page {
    let users = (0..USERS)
        .map(|id| {
            let first = rng.pick(&FIRST);
            let last = rng.pick(&LAST);
            let orders = (0..rng.below(4))
                .map(|o| {
                    let items: Vec<Item> = (0..1 + rng.below(4))
                        .map(|_| Item {
                            sku: format!("SKU-{:06}", rng.below(1_000_000)),
                            quantity: 1 + rng.below(5) as u32,
                            unit_price: rng.below(100_000) as f64 / 100.0,
                        })
                        .collect();
                    Order {
                        id: format!("ord_{id}_{o}"),
                        status: [Status::Pending, Status::Paid, Status::Shipped, Status::Cancelled]
                            [rng.below(4) as usize],
                        total_cents: 0,
                        currency: rng.pick(&["EUR", "USD", "CHF"]).to_string(),
                        items,
                        note: (rng.below(3) == 0).then(|| "leave at the door \u{1f4e6}".to_string()),
                    }
                })
                .collect();
            User {
                id: 10_000 + id,
                name: format!("{first} {last}"),
                email: format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
                active: rng.below(5) != 0,
                score: rng.below(1 << 20) as f64 / 7.0,
                tags: (0..rng.below(4)).map(|_| rng.pick(&TAGS).to_string()).collect(),
                address: Address {
                    street: format!("{} Main Street", 1 + rng.below(999)),
                    city: rng.pick(&CITIES).to_string(),
                    zip: format!("{:05}", rng.below(100_000)),
                    geo: [rng.below(180_000_000) as f64 / 1e6 - 90.0, rng.below(360_000_000) as f64 / 1e6 - 180.0],
                },
                orders,
            }
        })
        .collect();
    Page { version: 1, generated_at: "2026-11-26T14:00:00Z".into(), next_cursor: Some("c_0".into()), users }
}

/// `n` times: parse the document, update it as a plugin would (totals,
/// cancelled orders dropped, scores decayed, cursor advanced), serialize it
/// again; every unit parses the previous unit's output.
pub fn json(n: u32) -> u64 {
    let mut sum = Checksum::new();
    let mut text = serde_json::to_string(&page(&mut Rng::new(0x6a73_6f6e))).expect("a page serializes");
    for unit in 0..n {
        let mut page: Page = match serde_json::from_str(&text) {
            Ok(page) => page,
            Err(_) => return 0,
        };
        page.version += 1;
        page.next_cursor = Some(format!("c_{unit}"));
        for user in &mut page.users {
            user.score = user.score * 0.75 + user.orders.len() as f64;
            user.orders.retain(|o| o.status != Status::Cancelled);
            for order in &mut user.orders {
                order.total_cents =
                    order.items.iter().map(|i| (i.unit_price * 100.0) as u64 * u64::from(i.quantity)).sum();
            }
            if user.orders.is_empty() {
                user.orders.push(Order {
                    id: format!("ord_{}_new{unit}", user.id),
                    status: Status::Pending,
                    total_cents: 0,
                    currency: "EUR".into(),
                    items: vec![Item { sku: "SKU-000001".into(), quantity: 1, unit_price: 9.99 }],
                    note: None,
                });
            }
        }
        text = match serde_json::to_string_pretty(&page) {
            Ok(text) => text,
            Err(_) => return 0,
        };
        sum.bytes(text.as_bytes());
    }
    sum.finish()
}
