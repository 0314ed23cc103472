//! The user's local files: picking them from an input or a drop (folders
//! included), reading a part at a time and hashing it.

use std::collections::VecDeque;

use js_sys::{Array, ArrayBuffer, Promise, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, DragEvent, File, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry,
    HtmlInputElement,
};

use crate::upload::client::describe;
use crate::upload::form::{FINGERPRINT_HEAD, fingerprint as fingerprint_of};

/// A file the user picked, with its path inside the version.
#[derive(Clone, Debug)]
pub struct Picked {
    pub path: String,
    pub file: File,
}

impl Picked {
    pub fn size(&self) -> u64 {
        self.file.size() as u64
    }
}

/// The files an `<input type=file>` holds, with their folder paths when a
/// folder was chosen.
pub fn from_input(input: &HtmlInputElement) -> Vec<Picked> {
    let Some(list) = input.files() else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|index| list.item(index))
        .map(|file| Picked {
            path: relative_path(&file),
            file,
        })
        .collect()
}

/// `folder/sub/file` for a file from a folder picker, else its name.
fn relative_path(file: &File) -> String {
    // web-sys does not bind `webkitRelativePath`.
    Reflect::get(file, &JsValue::from_str("webkitRelativePath"))
        .ok()
        .and_then(|path| path.as_string())
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| file.name())
}

/// Something dropped: an entry to walk (a file or a whole folder), or a
/// plain file where the browser offers no entries.
pub enum Dropped {
    Entry(FileSystemEntry),
    File(File),
}

/// Takes what a drop carries. It must run inside the event: the browser
/// empties the data transfer once the handler returns.
pub fn take_drop(event: &DragEvent) -> Vec<Dropped> {
    let Some(transfer) = event.data_transfer() else {
        return Vec::new();
    };
    let items = transfer.items();
    (0..items.length())
        .filter_map(|index| items.get(index))
        .filter(|item| item.kind() == "file")
        .filter_map(|item| match item.webkit_get_as_entry() {
            Ok(Some(entry)) => Some(Dropped::Entry(entry)),
            _ => item.get_as_file().ok().flatten().map(Dropped::File),
        })
        .collect()
}

/// Every file under what was dropped, with paths relative to the drop
/// (`folder/sub/file`), sorted by path.
pub async fn expand(dropped: Vec<Dropped>) -> Result<Vec<Picked>, String> {
    let mut picked = Vec::new();
    let mut pending = VecDeque::new();
    for item in dropped {
        match item {
            Dropped::File(file) => picked.push(Picked {
                path: file.name(),
                file,
            }),
            Dropped::Entry(entry) => pending.push_back(entry),
        }
    }

    // Walk folders breadth-first; an entry is either a file or a folder.
    while let Some(entry) = pending.pop_front() {
        if entry.is_directory() {
            let folder: FileSystemDirectoryEntry = entry.unchecked_into();
            pending.extend(read_folder(&folder).await?);
        } else if entry.is_file() {
            let path = entry_path(&entry);
            let file = entry_file(entry.unchecked_ref()).await?;
            picked.push(Picked { path, file });
        }
    }
    picked.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(picked)
}

/// The entry's path from the drop's root, without the leading `/`.
fn entry_path(entry: &FileSystemEntry) -> String {
    let full = entry.full_path();
    let trimmed = full.trim_start_matches('/');
    if trimmed.is_empty() {
        entry.name()
    } else {
        trimmed.to_owned()
    }
}

/// The `File` behind a file entry.
async fn entry_file(entry: &FileSystemFileEntry) -> Result<File, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_callback(&resolve, &reject);
    });
    let file = JsFuture::from(promise)
        .await
        .map_err(|error| format!("could not open {}: {}", entry.name(), describe(&error)))?;
    file.dyn_into::<File>()
        .map_err(|_| format!("could not open {}", entry.name()))
}

/// Every entry of a folder. `readEntries` answers in batches (100 in
/// Chromium) and an empty batch at the end, so call it until then.
async fn read_folder(folder: &FileSystemDirectoryEntry) -> Result<Vec<FileSystemEntry>, String> {
    let reader = folder.create_reader();
    let mut entries = Vec::new();
    loop {
        let promise = Promise::new(&mut |resolve, reject| {
            if let Err(error) = reader.read_entries_with_callback_and_callback(&resolve, &reject) {
                let _ = reject.call1(&JsValue::NULL, &error);
            }
        });
        let batch = JsFuture::from(promise).await.map_err(|error| {
            format!(
                "could not read folder {}: {}",
                folder.name(),
                describe(&error)
            )
        })?;
        let batch: Array = batch.unchecked_into();
        if batch.length() == 0 {
            return Ok(entries);
        }
        entries.extend(batch.iter().map(JsCast::unchecked_into::<FileSystemEntry>));
    }
}

/// Bytes `[start, end)` of a file, as a blob that reads from disk when sent.
pub fn slice(blob: &Blob, start: u64, end: u64) -> Result<Blob, String> {
    blob.slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|error| describe(&error))
}

/// Reads bytes `[start, end)` of a file into memory.
pub async fn read(blob: &Blob, start: u64, end: u64) -> Result<ArrayBuffer, String> {
    let part = slice(blob, start, end)?;
    let data = JsFuture::from(part.array_buffer())
        .await
        .map_err(|error| describe(&error))?;
    data.dyn_into::<ArrayBuffer>()
        .map_err(|_| "the file's bytes could not be read".to_owned())
}

/// SHA-256 through `crypto.subtle`, which hashes off the page's thread.
pub async fn sha256(data: &ArrayBuffer) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no browser window")?;
    let subtle = window.crypto().map_err(|error| describe(&error))?.subtle();
    let promise = subtle
        .digest_with_str_and_buffer_source("SHA-256", data)
        .map_err(|error| describe(&error))?;
    let digest = JsFuture::from(promise)
        .await
        .map_err(|error| describe(&error))?;
    Ok(Uint8Array::new(&digest).to_vec())
}

/// Copying a part into wasm memory this much at a time bounds the copy.
const FEED_CHUNK: u32 = 1024 * 1024;

/// Feeds a part into a whole-file hash, in order.
pub fn feed(hasher: &mut Sha256, data: &ArrayBuffer) {
    let bytes = Uint8Array::new(data);
    let length = bytes.length();
    let mut chunk = vec![0; FEED_CHUNK.min(length) as usize];
    let mut offset = 0;
    while offset < length {
        let end = offset.saturating_add(FEED_CHUNK).min(length);
        let taken = &mut chunk[..(end - offset) as usize];
        bytes.subarray(offset, end).copy_to(taken);
        hasher.update(&*taken);
        offset = end;
    }
}

/// The file's fingerprint (see [`crate::upload::form::fingerprint`]).
pub async fn fingerprint(file: &File) -> Result<String, String> {
    let size = file.size() as u64;
    let head = read(file, 0, size.min(FINGERPRINT_HEAD)).await?;
    let digest = sha256(&head).await?;
    Ok(fingerprint_of(
        &file.name(),
        size,
        file.last_modified(),
        &hex::encode(digest),
    ))
}
