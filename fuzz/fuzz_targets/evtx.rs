#![no_main]
//! The `.evtx` reader on arbitrary bytes: as a whole file, and as the first chunk of a file
//! whose header is well formed (random bytes rarely are, and the chunk and record code is
//! where the work is); and the Event XML scanner on arbitrary text. Must never panic, and the
//! reader must end.
use libfuzzer_sys::fuzz_target;
use logward_parse::windows::{evtx::MAGIC, xml};
use logward_parse::windows::{EvtxReader, WinRecord};

fn drain(bytes: Vec<u8>) {
    if let Ok(reader) = EvtxReader::from_bytes(bytes) {
        let _ = reader.identity();
        for item in reader.with_original(true) {
            let _ = item.map(|rec| logward_parse::windows::decode(&rec).action());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    drain(data.to_vec());

    let mut file = vec![0u8; 4096];
    file[..8].copy_from_slice(MAGIC);
    file[32..36].copy_from_slice(&128u32.to_le_bytes()); // header size
    file[36..38].copy_from_slice(&1u16.to_le_bytes()); // minor version
    file[38..40].copy_from_slice(&3u16.to_le_bytes()); // major version
    file[40..42].copy_from_slice(&4096u16.to_le_bytes()); // header block size
    file[42..44].copy_from_slice(&1u16.to_le_bytes()); // one chunk
    file.extend_from_slice(b"ElfChnk\0");
    file.extend_from_slice(data);
    drain(file);

    if let Ok(text) = std::str::from_utf8(data) {
        let _ = xml::read_event(text, &mut WinRecord::default());
    }
});
