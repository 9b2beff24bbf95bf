//! Reading an input file (a scenario, a CSV dataset, a parameter file) without trusting it: only
//! regular files are opened, so `/dev/zero`, a FIFO with no writer or a directory is refused
//! instead of read forever or blocked on, and no more than a fixed number of bytes is read,
//! whatever the file's metadata claims (a `/proc` file reports size 0, a file can grow while it
//! is read).

use std::fs::{File, FileType};
use std::io::Read;
use std::path::Path;

use thiserror::Error;

/// Largest scenario file read by default: 16 MiB, hundreds of times the largest bundled one,
/// and room for tens of thousands of inline rows.
pub const SCENARIO_FILE_LIMIT: u64 = 16 << 20;

/// Largest CSV dataset or parameter file read by default: 256 MiB (a table of some ten million
/// numbers; parsed, it takes a few times that in memory).
pub const DATA_FILE_LIMIT: u64 = 256 << 20;

/// Why a file was not read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReadError {
    #[error("{file}: file not found")]
    NotFound { file: String },
    #[error("{file}: not a regular file (it is {kind})")]
    NotRegular { file: String, kind: &'static str },
    #[error("{file}: the file is {} but at most {} is read{hint}", bytes(*size), bytes(*limit))]
    TooLarge {
        file: String,
        /// What was found: the size the metadata reported, or `limit + 1` if the read went on.
        size: u64,
        limit: u64,
        /// How to read it anyway, when the caller has a way.
        hint: String,
    },
    #[error("{file}: cannot read the file: {reason}")]
    Unreadable { file: String, reason: String },
}

/// Sizes as people write them: `512 B`, `3.5 KiB`, `16 MiB`, `1.2 GiB`.
#[must_use]
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else if value.fract() == 0.0 || value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn kind_of(t: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a plain file"
    }
}

fn io_error(file: &str, e: &std::io::Error) -> ReadError {
    if e.kind() == std::io::ErrorKind::NotFound {
        ReadError::NotFound {
            file: file.to_owned(),
        }
    } else {
        ReadError::Unreadable {
            file: file.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// What [`read_limited`] would refuse without reading: a missing path, anything but a regular
/// file, a size over `limit` by the metadata. Returns the size the metadata reports.
pub fn check_file(path: &Path, limit: u64, hint: &str) -> Result<u64, ReadError> {
    let file = path.display().to_string();
    // The path is looked at, not opened: opening a FIFO blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| io_error(&file, &e))?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            file,
            kind: kind_of(&meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            file,
            size: meta.len(),
            limit,
            hint: hint.to_string(),
        });
    }
    Ok(meta.len())
}

/// Reads `path` whole if it is a regular file of at most `limit` bytes. `hint` is appended to a
/// too-large message (e.g. how to raise the limit).
pub fn read_limited(path: &Path, limit: u64, hint: &str) -> Result<Vec<u8>, ReadError> {
    let file = path.display().to_string();
    let unreadable = |e: std::io::Error| io_error(&file, &e);
    let too_large = |size: u64| ReadError::TooLarge {
        file: file.clone(),
        size,
        limit,
        hint: hint.to_string(),
    };
    check_file(path, limit, hint)?;
    let handle = File::open(path).map_err(unreadable)?;
    // The path may have been swapped between the two looks; the open handle is what is read.
    let meta = handle.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            file: file.clone(),
            kind: kind_of(&meta.file_type()),
        });
    }
    let capacity = usize::try_from(meta.len().min(limit)).unwrap_or(0);
    let mut out = Vec::with_capacity(capacity);
    handle
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(unreadable)?;
    if out.len() as u64 > limit {
        return Err(too_large(limit.saturating_add(1)));
    }
    Ok(out)
}

/// [`read_limited`], then UTF-8 text (a byte-order mark is left in place for the caller).
pub fn read_text_limited(path: &Path, limit: u64, hint: &str) -> Result<String, ReadError> {
    let bytes = read_limited(path, limit, hint)?;
    String::from_utf8(bytes).map_err(|e| ReadError::Unreadable {
        file: path.display().to_string(),
        reason: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(16 << 20), "16 MiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(300 << 30), "300 GiB");
    }

    #[test]
    fn regular_files_are_read_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "hello").unwrap();
        assert_eq!(read_limited(&path, 5, "").unwrap(), b"hello");
        let err = read_limited(&path, 4, " (use --more)").unwrap_err();
        assert!(matches!(
            err,
            ReadError::TooLarge {
                size: 5,
                limit: 4,
                ..
            }
        ));
        assert!(
            err.to_string()
                .ends_with("the file is 5 B but at most 4 B is read (use --more)")
        );
        let err = read_limited(&dir.path().join("none"), 4, "").unwrap_err();
        assert!(matches!(err, ReadError::NotFound { .. }));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let err = read_text_limited(&path, 10, "").unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn directories_and_devices_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_limited(dir.path(), 1 << 20, "").unwrap_err();
        assert!(err.to_string().contains("it is a directory"), "{err}");
        #[cfg(unix)]
        {
            let err = read_limited(Path::new("/dev/zero"), 1 << 20, "").unwrap_err();
            assert!(err.to_string().contains("a character device"), "{err}");
        }
    }

    /// A FIFO nobody writes to would block `open` forever: it must be refused from its metadata.
    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "mkfifo (coreutils) is needed"
        );
        let err = read_limited(&fifo, 1 << 20, "").unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
    }

    /// `/proc` files report size 0 in their metadata but have contents: the read itself is
    /// bounded.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_larger_than_its_metadata_is_cut_at_the_limit() {
        let path = Path::new("/proc/self/maps");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        let err = read_limited(path, 16, "").unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { size: 17, .. }), "{err}");
    }
}
