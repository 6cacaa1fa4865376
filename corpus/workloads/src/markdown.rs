//! Markdown to HTML with pulldown-cmark (CommonMark plus tables, footnotes,
//! strikethrough and task lists), as a documentation or comment plugin would.

use pulldown_cmark::{html, Options, Parser};

use crate::check::{Checksum, Rng};

const WORDS: [&str; 12] =
    ["wasm", "plugin", "latency", "sandbox", "the", "of", "a", "memory", "loader", "<tag>", "café", "R&D"];
const SECTIONS: u64 = 12;

fn sentence(rng: &mut Rng, out: &mut String) {
    for i in 0..4 + rng.below(10) {
        if i > 0 {
            out.push(' ');
        }
        let word = rng.pick(&WORDS);
        match rng.below(10) {
            0 => *out += &format!("*{word}*"),
            1 => *out += &format!("**{word}**"),
            2 => *out += &format!("`{word}()`"),
            3 => *out += &format!("[{word}](https://example.com/{word}?q={i} \"{word}\")"),
            4 => *out += &format!("~~{word}~~"),
            _ => *out += word,
        }
    }
    out.push_str(". ");
}

fn document(rng: &mut Rng) -> String {
    let mut doc = String::from("# Plugin guide\n\n");
    for s in 0..SECTIONS {
        doc += &format!("## Section {s}: {}\n\n", rng.pick(&WORDS));
        for _ in 0..2 + rng.below(3) {
            for _ in 0..1 + rng.below(4) {
                sentence(rng, &mut doc);
            }
            doc += "\n\n";
        }
        match s % 4 {
            0 => {
                for i in 0..3 + rng.below(4) {
                    doc += &format!("- [{}] item {i}: ", if rng.below(2) == 0 { 'x' } else { ' ' });
                    sentence(rng, &mut doc);
                    doc += "\n  1. nested ";
                    sentence(rng, &mut doc);
                    doc.push('\n');
                }
                doc.push('\n');
            }
            1 => {
                doc += "```rust\nfn run(n: i32) -> i64 {\n    (n as i64) * 2 // <not html>\n}\n```\n\n> quoted: ";
                sentence(rng, &mut doc);
                doc += "[^note]\n\n[^note]: A footnote.\n\n";
            }
            2 => {
                doc += "| name | value | unit |\n|:-----|------:|:----:|\n";
                for r in 0..4 + rng.below(4) {
                    doc += &format!("| row {r} | {} | {} |\n", rng.below(10_000), rng.pick(&WORDS));
                }
                doc.push('\n');
            }
            _ => {
                doc += "Setext heading\n--------------\n\n    indented code\n    <b>kept</b>\n\n***\n\n";
            }
        }
    }
    doc
}

/// `n` times: render the document (one of its words changed per unit) to HTML.
pub fn markdown(n: u32) -> u64 {
    let mut rng = Rng::new(0x6d61_726b);
    let mut doc = document(&mut rng);
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION;
    let mut sum = Checksum::new();
    let mut out = String::new();
    for unit in 0..n {
        if let Some(at) = doc.find("plugin") {
            doc.replace_range(at..at + 6, if unit % 2 == 0 { "PLUGIN" } else { "module" });
        }
        out.clear();
        html::push_html(&mut out, Parser::new_ext(&doc, options));
        sum.bytes(out.as_bytes());
    }
    sum.finish()
}
