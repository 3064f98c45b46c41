//! The daemons' shared code is as blind as they are: it names ped-proto's wire formats
//! only (frames, relay control, error codes), never the handshake, key schedule, record
//! layer or CSP wrapping, so no code path here can hold a key of the end-to-end channel.

#[test]
fn the_source_names_only_wire_formats_of_ped_proto() {
    let allowed = ["frame", "relay", "error"];
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for use_site in text.split("ped_proto::").skip(1) {
            let module: String = use_site.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            assert!(allowed.contains(&module.as_str()), "{}: uses ped_proto::{module}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} source files found in {}", src.display());
}
