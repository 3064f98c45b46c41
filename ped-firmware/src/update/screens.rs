//! The screens of the firmware update, as the seed prints them (lines 4420-4663).
//!
//! The seed's only line longer than the display's 20 columns is "A power failure
//! during save is unsupported!"; it is wrapped at word boundaries into "A power
//! failure" / "during save is" / "unsupported!". The seed also prints the Save and
//! Success screens flattened onto one line ("USB Mode Software update Success Press
//! ENTER"); the line layout here is the one it prints first, line by line.

use alloc::format;

use crate::screen::Screen;

/// "Software update. Upload Image? YES/NO" (seed line 4482), the question that opens
/// an update session.
pub fn upload_prompt() -> Screen {
    Screen::new(&["Software update", "Upload Image? YES/NO"])
}

/// Shown while the image arrives.
pub fn uploading() -> Screen {
    Screen::new(&["USB Mode", "Software update", "Uploading image"])
}

/// Shown once the image has verified: YES saves it, NO discards it.
pub fn save_prompt() -> Screen {
    Screen::new(&[
        "USB Mode",
        "Software update",
        "** WARNING **",
        "A power failure",
        "during save is",
        "unsupported!",
        "Save Image? YES/NO",
    ])
}

/// The image is saved and boots at the next power-on.
pub fn success() -> Screen {
    Screen::new(&["Software update", "Success", "Press ENTER"])
}

/// The upload did not verify; `number` says why (docs/firmware.md). The seed prints
/// "Press Enter" here and "Press ENTER" on the success screen; both are kept.
pub fn verify_failure(number: u8) -> Screen {
    Screen::new(&[format!("Failure (VERIFY) ({number})").as_str(), "Press Enter"])
}

/// The image verified but is older than this PED's minimum security version
/// (anti-rollback; not in the seed, whose PED installs any image).
pub fn rollback_failure() -> Screen {
    Screen::new(&["Failure (ROLLBACK)", "Image older than", "this PED accepts", "Press Enter"])
}

/// Saving failed (not in the seed, which only warns that a power failure during save
/// is unsupported; here it is survivable, and the PED runs the old image or the new
/// one, both verified).
pub fn save_failure() -> Screen {
    Screen::new(&["Software update", "Failure (SAVE)", "Press Enter"])
}

/// The boot loader's first screen (seed: "BOOT V.1.1.0-1", then "loading PED...").
pub fn booting(boot_loader_version: &str) -> Screen {
    Screen::new(&[format!("BOOT V.{boot_loader_version}").as_str(), "loading PED..."])
}

/// Neither slot holds an image that verifies (not in the seed: its PED "might require
/// RMA"). Says what to do, as every error does.
pub fn no_valid_image() -> Screen {
    Screen::new(&["BOOT FAILURE", "No valid image", "Return the PED", "for service"])
}
