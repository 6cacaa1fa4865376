//! Writing the artifact: an ELF relocatable object with the sections of
//! [`wasmc_abi::artifact`], then its checksum ([`wasmc_artifact::checksum`]).
//! The only ELF writer, so it lives here: the loader never links `object`'s
//! writer.

use object::write::{Object, Symbol as ObjSymbol, SymbolSection};
use object::{Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope};
use wasmc_abi::artifact::{
    encode_header, CHECKSUM_LEN, IMAGE_ALIGN, SECTION_CHECKSUM, SECTION_DATA, SECTION_IMAGE, SECTION_META,
    SECTION_SIGNATURE, SECTION_TEXT, SIGNATURE_LEN, TEXT_ALIGN,
};
use wasmc_abi::meta::ModuleMeta;
use wasmc_targets::Arch;

use crate::link::{padding_byte, Symbol};
use crate::CompileError;

fn write_err(e: impl std::fmt::Display) -> CompileError {
    CompileError::Codegen { func: u32::MAX, message: format!("writing the artifact: {e}") }
}

/// The text padded to a non-zero multiple of [`TEXT_ALIGN`], so the loader
/// can map it as whole pages (an empty module still gets one page).
pub(crate) fn padded_text(text: &[u8], arch: Arch) -> Vec<u8> {
    let align = TEXT_ALIGN as usize;
    let len = text.len().next_multiple_of(align).max(align);
    let mut padded = Vec::with_capacity(len);
    padded.extend_from_slice(text);
    padded.resize(len, padding_byte(arch));
    padded
}

/// Writes the artifact file for `meta`, whose code offsets refer to `text`.
pub(crate) fn write(
    arch: Arch,
    meta: &ModuleMeta,
    text: &[u8],
    symbols: &[Symbol],
    data: &[u8],
    image: &[u8],
) -> Result<Vec<u8>, CompileError> {
    let architecture = match arch {
        Arch::X86_64 => Architecture::X86_64,
        Arch::Aarch64 => Architecture::Aarch64,
    };
    let mut obj = Object::new(BinaryFormat::Elf, architecture, Endianness::Little);
    // ELF sections have no segment name.
    let no_segment = Vec::new;

    let text = padded_text(text, arch);
    let text_id = obj.add_section(no_segment(), SECTION_TEXT.as_bytes().to_vec(), SectionKind::Text);
    obj.section_mut(text_id).set_data(text, TEXT_ALIGN);

    let mut meta_bytes = encode_header().to_vec();
    meta_bytes.extend_from_slice(&meta.encode());
    let meta_id = obj.add_section(no_segment(), SECTION_META.as_bytes().to_vec(), SectionKind::ReadOnlyData);
    obj.section_mut(meta_id).set_data(meta_bytes, 8);

    let data_id = obj.add_section(no_segment(), SECTION_DATA.as_bytes().to_vec(), SectionKind::ReadOnlyData);
    obj.section_mut(data_id).set_data(data.to_vec(), 16);

    let image_id = obj.add_section(no_segment(), SECTION_IMAGE.as_bytes().to_vec(), SectionKind::ReadOnlyData);
    let image_align = if image.is_empty() { 1 } else { IMAGE_ALIGN };
    obj.section_mut(image_id).set_data(image.to_vec(), image_align);

    let sum_id = obj.add_section(no_segment(), SECTION_CHECKSUM.as_bytes().to_vec(), SectionKind::Other);
    obj.section_mut(sum_id).set_data(vec![0u8; CHECKSUM_LEN], 8);

    // Unsigned: all zero until `crate::sign::sign_artifact` fills it in.
    let sig_id = obj.add_section(no_segment(), SECTION_SIGNATURE.as_bytes().to_vec(), SectionKind::Other);
    obj.section_mut(sig_id).set_data(vec![0u8; SIGNATURE_LEN], 8);

    for s in symbols {
        obj.add_symbol(ObjSymbol {
            name: s.name.as_bytes().to_vec(),
            value: s.offset,
            size: s.size,
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text_id),
            flags: SymbolFlags::None,
        });
    }

    let mut bytes = obj.write().map_err(write_err)?;
    wasmc_artifact::checksum::fill(&mut bytes).map_err(write_err)?;
    Ok(bytes)
}
