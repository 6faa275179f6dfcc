//! Just enough ELF reading to check a `bootstrap` before it ships: its
//! machine, and the newest glibc symbol version it needs (from the
//! `.gnu.version_r` section), which must exist on Lambda's Amazon Linux 2023.

use anyhow::{Context, Result, bail};

/// `e_machine` values of the two Lambda architectures.
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

/// What a 64-bit little-endian ELF executable needs from its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub machine: u16,
    /// The newest `GLIBC_x.y[.z]` version any symbol needs, as `(x, y, z)`;
    /// `None` for a binary that needs no glibc (static, or musl).
    pub glibc: Option<(u32, u32, u32)>,
}

/// Reads what `bytes` (an ELF file) needs.
pub fn needs(bytes: &[u8]) -> Result<Needs> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        bail!("not an ELF file");
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        bail!("not a 64-bit little-endian ELF file; Lambda runs only those");
    }
    let machine = u16_at(bytes, 0x12)?;
    let section_headers = u64_at(bytes, 0x28)? as usize;
    let entry_size = u16_at(bytes, 0x3a)? as usize;
    let count = u16_at(bytes, 0x3c)? as usize;
    let section = |i: usize| -> Result<Section> {
        let at = section_headers + i * entry_size;
        Ok(Section {
            kind: u32_at(bytes, at + 4)?,
            offset: u64_at(bytes, at + 0x18)? as usize,
            size: u64_at(bytes, at + 0x20)? as usize,
            link: u32_at(bytes, at + 0x28)? as usize,
            info: u32_at(bytes, at + 0x2c)? as usize,
        })
    };
    let mut glibc = None;
    for i in 0..count {
        let verneed = section(i)?;
        if verneed.kind != SHT_GNU_VERNEED {
            continue;
        }
        let strings = section(verneed.link)?;
        let name = |offset: usize| -> Result<&str> {
            let start = strings.offset + offset;
            let table = bytes.get(start..strings.offset + strings.size).context("a version name outside its table")?;
            let end = table.iter().position(|&b| b == 0).context("an unterminated version name")?;
            std::str::from_utf8(&table[..end]).context("a version name that is not UTF-8")
        };
        // Verneed entries (one per library), each with a chain of Vernaux (one per version).
        let mut entry = verneed.offset;
        for _ in 0..verneed.info {
            let aux_count = u16_at(bytes, entry + 2)? as usize;
            let mut aux = entry + u32_at(bytes, entry + 8)? as usize;
            for _ in 0..aux_count {
                if let Some(version) =
                    name(u32_at(bytes, aux + 8)? as usize)?.strip_prefix("GLIBC_").and_then(parse_version)
                {
                    glibc = glibc.max(Some(version));
                }
                aux += u32_at(bytes, aux + 12)? as usize;
            }
            entry += u32_at(bytes, entry + 12)? as usize;
        }
    }
    Ok(Needs { machine, glibc })
}

struct Section {
    kind: u32,
    offset: usize,
    size: usize,
    link: usize,
    info: usize,
}

/// `2.34` or `2.3.4` as `(2, 34, 0)` or `(2, 3, 4)`; `None` for `GLIBC_PRIVATE`.
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|p| p.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

fn field<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N]> {
    let slice = bytes.get(at..at + N).context("a truncated ELF file")?;
    Ok(slice.try_into().expect("slice of length N"))
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16> {
    Ok(u16::from_le_bytes(field(bytes, at)?))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(field(bytes, at)?))
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64> {
    Ok(u64::from_le_bytes(field(bytes, at)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_glibc_this_test_binary_needs() {
        // The test binary is itself a glibc executable of the host.
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let needs = needs(&bytes).unwrap();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(needs.machine, EM_X86_64);
        }
        let glibc = needs.glibc.expect("a glibc binary needs some GLIBC_ version");
        assert!(glibc >= (2, 2, 5), "{glibc:?}");
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(parse_version("2.34"), Some((2, 34, 0)));
        assert_eq!(parse_version("2.3.4"), Some((2, 3, 4)));
        assert_eq!(parse_version("2.2.5"), Some((2, 2, 5)));
        assert_eq!(parse_version("PRIVATE"), None);
        assert!(Some((2, 34, 0)) > Some((2, 3, 4)));
    }

    #[test]
    fn refuses_what_is_not_a_64_bit_elf() {
        assert_eq!(needs(b"#!/bin/sh\n").unwrap_err().to_string(), "not an ELF file");
        assert!(needs(b"\x7fELF\x01\x01").unwrap_err().to_string().contains("64-bit"));
        assert!(needs(b"\x7fELF\x02\x01\x01").unwrap_err().to_string().contains("truncated"));
    }
}
