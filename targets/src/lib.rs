//! Target presets and host CPU feature detection.
//!
//! A *preset* names a CPU family a server fleet runs on and the features
//! every CPU of that family guarantees. The compiler turns a preset's
//! features into code-generation settings and records them in the artifact;
//! the loader compares the recorded features with [`host_features`] and
//! refuses an artifact whose features the host lacks.
//!
//! Feature names are the ones Rust's `is_x86_feature_detected!` and
//! `is_aarch64_feature_detected!` use.

use std::fmt;

/// A CPU architecture wasmc generates code for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 64-bit x86.
    X86_64,
    /// 64-bit Arm.
    Aarch64,
}

impl Arch {
    /// The architecture part of a target triple.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The architecture named by the first component of `triple`.
    pub fn from_triple(triple: &str) -> Option<Arch> {
        match triple.split('-').next()? {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The Linux triple wasmc uses for this architecture.
    pub fn linux_triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A named CPU family and the features all of its CPUs have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// Name used with `--target`.
    pub name: &'static str,
    /// Architecture.
    pub arch: Arch,
    /// One line for `wasmc targets`.
    pub description: &'static str,
    /// Features the generated code may use (and the host must have).
    pub features: &'static [&'static str],
}

/// What wasmc requires of every x86_64 CPU: Cranelift 0.112 needs SSSE3 and
/// SSE4.1 to compile float rounding and byte shuffles inline (every x86_64
/// server CPU since 2008 has them).
const X86_64_BASE: &[&str] = &["sse3", "ssse3", "sse4.1"];
const X86_64_V2: &[&str] = &["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "cmpxchg16b"];
const X86_64_V3: &[&str] =
    &["sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "cmpxchg16b", "avx", "avx2", "bmi1", "bmi2", "fma", "lzcnt"];

/// Every preset, baseline first for each architecture.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "x86_64",
        arch: Arch::X86_64,
        description: "any x86_64 CPU with SSE4.1 (Penryn, Bulldozer and later)",
        features: X86_64_BASE,
    },
    Preset {
        name: "x86_64-v2",
        arch: Arch::X86_64,
        description: "x86-64-v2: SSE4.2 and POPCNT (Nehalem and later)",
        features: X86_64_V2,
    },
    Preset {
        name: "x86_64-v3",
        arch: Arch::X86_64,
        description: "x86-64-v3: AVX2, BMI1/2, FMA, LZCNT (Haswell, Zen and later)",
        features: X86_64_V3,
    },
    Preset { name: "aarch64", arch: Arch::Aarch64, description: "any ARMv8.0-A CPU", features: &[] },
    Preset {
        name: "graviton2",
        arch: Arch::Aarch64,
        description: "AWS Graviton 2 (Neoverse N1, ARMv8.2-A): LSE atomics",
        features: &["lse"],
    },
    Preset {
        name: "graviton3",
        arch: Arch::Aarch64,
        description: "AWS Graviton 3 (Neoverse V1, ARMv8.4-A): LSE atomics, pointer authentication",
        features: &["lse", "paca"],
    },
    Preset {
        name: "graviton4",
        arch: Arch::Aarch64,
        description: "AWS Graviton 4 (Neoverse V2, ARMv9.0-A): LSE, pointer authentication, BTI",
        features: &["lse", "paca", "bti"],
    },
];

/// Looks a preset up by name.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The baseline preset of an architecture.
pub fn baseline(arch: Arch) -> &'static Preset {
    PRESETS.iter().find(|p| p.arch == arch).expect("every architecture has a baseline preset")
}

/// A resolved compilation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Architecture.
    pub arch: Arch,
    /// Full triple.
    pub triple: String,
    /// Preset name, `native`, or the triple for a bare triple.
    pub preset: String,
    /// Features the code may use and the host must have, sorted.
    pub features: Vec<String>,
}

/// Why a `--target` value was not understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Neither a preset, `native`, nor a supported triple.
    Unknown(String),
    /// A triple for an architecture or OS wasmc does not support.
    Unsupported(String),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Unknown(t) => {
                let names: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
                write!(
                    f,
                    "unknown target {t:?}: expected native, a preset ({}), or a triple such as aarch64-unknown-linux-gnu",
                    names.join(", ")
                )
            }
            TargetError::Unsupported(t) => {
                write!(f, "unsupported target {t:?}: wasmc generates code for x86_64 and aarch64 Linux")
            }
        }
    }
}

impl std::error::Error for TargetError {}

fn target_of(preset: &Preset) -> Target {
    let mut features: Vec<String> = preset.features.iter().map(|s| s.to_string()).collect();
    features.sort();
    Target {
        arch: preset.arch,
        triple: preset.arch.linux_triple().to_string(),
        preset: preset.name.to_string(),
        features,
    }
}

/// Resolves a `--target` value. `None` is the host architecture's portable
/// baseline; `native` is the host with every feature it has that a preset
/// could name; otherwise a preset name or a target triple (whose features
/// are the architecture's baseline).
pub fn resolve(spec: Option<&str>) -> Result<Target, TargetError> {
    let Some(spec) = spec else {
        return Ok(target_of(baseline(host_arch())));
    };
    if spec == "native" {
        let mut features: Vec<String> = host_features().into_iter().map(String::from).collect();
        features.sort();
        return Ok(Target {
            arch: host_arch(),
            triple: host_arch().linux_triple().to_string(),
            preset: "native".to_string(),
            features,
        });
    }
    if let Some(p) = preset(spec) {
        return Ok(target_of(p));
    }
    if spec.contains('-') {
        let Some(arch) = Arch::from_triple(spec) else {
            return Err(TargetError::Unsupported(spec.to_string()));
        };
        if !spec.contains("linux") {
            return Err(TargetError::Unsupported(spec.to_string()));
        }
        let mut t = target_of(baseline(arch));
        t.triple = spec.to_string();
        t.preset = spec.to_string();
        return Ok(t);
    }
    Err(TargetError::Unknown(spec.to_string()))
}

/// The architecture this process runs on.
pub fn host_arch() -> Arch {
    if cfg!(target_arch = "aarch64") {
        Arch::Aarch64
    } else {
        Arch::X86_64
    }
}

/// Every feature any preset names, for the host's architecture.
fn known_features(arch: Arch) -> Vec<&'static str> {
    let mut all: Vec<&'static str> =
        PRESETS.iter().filter(|p| p.arch == arch).flat_map(|p| p.features.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Whether the host CPU has `feature` (a name from a preset).
pub fn host_has(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            "sse3" => std::arch::is_x86_feature_detected!("sse3"),
            "ssse3" => std::arch::is_x86_feature_detected!("ssse3"),
            "sse4.1" => std::arch::is_x86_feature_detected!("sse4.1"),
            "sse4.2" => std::arch::is_x86_feature_detected!("sse4.2"),
            "popcnt" => std::arch::is_x86_feature_detected!("popcnt"),
            "cmpxchg16b" => std::arch::is_x86_feature_detected!("cmpxchg16b"),
            "avx" => std::arch::is_x86_feature_detected!("avx"),
            "avx2" => std::arch::is_x86_feature_detected!("avx2"),
            "bmi1" => std::arch::is_x86_feature_detected!("bmi1"),
            "bmi2" => std::arch::is_x86_feature_detected!("bmi2"),
            "fma" => std::arch::is_x86_feature_detected!("fma"),
            "lzcnt" => std::arch::is_x86_feature_detected!("lzcnt"),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        match feature {
            "lse" => std::arch::is_aarch64_feature_detected!("lse"),
            "paca" => std::arch::is_aarch64_feature_detected!("paca"),
            "bti" => std::arch::is_aarch64_feature_detected!("bti"),
            _ => false,
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = feature;
        false
    }
}

/// The preset features the host CPU has.
pub fn host_features() -> Vec<&'static str> {
    known_features(host_arch()).into_iter().filter(|f| host_has(f)).collect()
}

/// Of `required`, the features the host lacks (empty: the host can run it).
pub fn missing_features<S: AsRef<str>>(required: &[S]) -> Vec<String> {
    required.iter().map(|f| f.as_ref()).filter(|f| !host_has(f)).map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_host_baseline() {
        let t = resolve(None).unwrap();
        assert_eq!(t.arch, host_arch());
        assert_eq!(t.preset, baseline(host_arch()).name);
        assert!(missing_features(&t.features).is_empty());
    }

    #[test]
    fn every_preset_includes_its_baseline() {
        for p in PRESETS {
            for f in baseline(p.arch).features {
                assert!(p.features.contains(f), "{} lacks baseline feature {f}", p.name);
            }
        }
    }

    #[test]
    fn presets_and_triples_resolve() {
        let g3 = resolve(Some("graviton3")).unwrap();
        assert_eq!(g3.arch, Arch::Aarch64);
        assert_eq!(g3.triple, "aarch64-unknown-linux-gnu");
        assert_eq!(g3.features, vec!["lse", "paca"]);
        let t = resolve(Some("aarch64-unknown-linux-gnu")).unwrap();
        assert_eq!(t.arch, Arch::Aarch64);
        assert!(t.features.is_empty());
        let t = resolve(Some("x86_64-unknown-linux-gnu")).unwrap();
        assert_eq!(t.features, vec!["sse3", "sse4.1", "ssse3"]);
        assert!(matches!(resolve(Some("riscv64gc-unknown-linux-gnu")), Err(TargetError::Unsupported(_))));
        assert!(matches!(resolve(Some("pentium")), Err(TargetError::Unknown(_))));
    }

    #[test]
    fn native_needs_nothing_the_host_lacks() {
        let t = resolve(Some("native")).unwrap();
        assert!(missing_features(&t.features).is_empty());
    }

    #[test]
    fn foreign_features_are_missing() {
        let foreign = match host_arch() {
            Arch::X86_64 => "lse",
            Arch::Aarch64 => "avx2",
        };
        assert_eq!(missing_features(&[foreign]), vec![foreign.to_string()]);
    }
}
