//! A minimal, valid, *unencrypted* zip writer (method 0, "stored"), so result archives can be
//! opened by a real unzip without adding a zip dependency. The submitted `password` is only
//! recorded; the archive is not encrypted.

/// A zip archive holding `entries` (name, bytes), stored uncompressed.
pub(super) fn stored_zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let crc = crc.sum();
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        let offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
        // Local file header.
        out.extend_from_slice(&0x0403_4b50_u32.to_le_bytes());
        common_header(&mut out, crc, size, name_len);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(&0x0201_4b50_u32.to_le_bytes());
        central.extend_from_slice(&20_u16.to_le_bytes()); // version made by
        common_header(&mut central, crc, size, name_len);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&0_u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
    let central_size = u32::try_from(central.len()).unwrap_or(u32::MAX);
    let central_offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&central);
    // End of central directory.
    out.extend_from_slice(&0x0605_4b50_u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0_u16.to_le_bytes()); // comment length
    out
}

/// The fields local and central headers share, from "version needed" to "extra length".
fn common_header(out: &mut Vec<u8>, crc: u32, size: u32, name_len: u16) {
    out.extend_from_slice(&20_u16.to_le_bytes()); // version needed
    out.extend_from_slice(&0_u16.to_le_bytes()); // flags
    out.extend_from_slice(&0_u16.to_le_bytes()); // method: stored
    out.extend_from_slice(&0_u16.to_le_bytes()); // time
    out.extend_from_slice(&0x0021_u16.to_le_bytes()); // date: 1980-01-01
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes()); // compressed
    out.extend_from_slice(&size.to_le_bytes()); // uncompressed
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&0_u16.to_le_bytes()); // extra length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_zip_has_the_zip_structure() {
        let zip = stored_zip(&[("a.txt".to_owned(), b"hello".to_vec())]);
        assert_eq!(&zip[..4], b"PK\x03\x04");
        // local header 30 + name 5 + data 5, central 46 + name 5, end record 22
        assert_eq!(zip.len(), 30 + 5 + 5 + 46 + 5 + 22);
        let end = &zip[zip.len() - 22..];
        assert_eq!(&end[..4], b"PK\x05\x06");
        assert_eq!(
            &end[16..20],
            &40_u32.to_le_bytes(),
            "central directory offset"
        );
        assert_eq!(
            &zip[14..18],
            &0x3610_a686_u32.to_le_bytes(),
            "crc32 of hello"
        );
    }
}
