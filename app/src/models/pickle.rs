//! Which files of a version are pickle-based, and so run code when loaded.
//!
//! Python's `pickle` (and `torch.load`, `joblib.load`, which build on it)
//! rebuilds objects by calling whatever the file names, so loading one is
//! running its author's program. Coffer cannot tell a benign pickle from a
//! hostile one; it can only say which files are pickles. This goes by the
//! file name's extension, which is what users and loaders go by too.

/// Extensions of pickle-based formats, lowercase and without the dot.
pub const PICKLE_EXTENSIONS: [&str; 6] = ["pkl", "pickle", "pt", "pth", "ckpt", "joblib"];

/// Whether the file at `path` (`/`-separated) is pickle-based by its
/// extension, in any letter case.
pub fn is_pickle_based(path: &str) -> bool {
    // Only the file name counts: a folder named `x.pt` holds no pickle.
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, extension)) = name.rsplit_once('.') else {
        return false;
    };
    PICKLE_EXTENSIONS
        .iter()
        .any(|known| extension.eq_ignore_ascii_case(known))
}

/// The pickle-based paths among `paths`, in their order.
pub fn pickle_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    paths
        .into_iter()
        .filter(|path| is_pickle_based(path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_extension_is_pickle_based() {
        for path in [
            "model.pkl",
            "model.pickle",
            "weights.pt",
            "weights.pth",
            "epoch=3.ckpt",
            "pipeline.joblib",
        ] {
            assert!(is_pickle_based(path), "{path}");
        }
    }

    #[test]
    fn letter_case_does_not_hide_a_pickle() {
        assert!(is_pickle_based("MODEL.PKL"));
        assert!(is_pickle_based("weights.Pt"));
        assert!(is_pickle_based("checkpoints/Last.CKPT"));
    }

    #[test]
    fn safe_formats_and_lookalikes_are_not_flagged() {
        for path in [
            "model.safetensors",
            "model.onnx",
            "README.md",
            "config.json",
            "weights.pt.sha256",
            "pkl",
            "notes.pkl.txt",
            "script.ptx",
        ] {
            assert!(!is_pickle_based(path), "{path}");
        }
    }

    #[test]
    fn only_the_file_name_counts() {
        assert!(!is_pickle_based("runs.pt/config.json"));
        assert!(is_pickle_based("runs/v2/model.pkl"));
    }

    #[test]
    fn pickle_paths_keeps_order_and_drops_the_rest() {
        let paths = ["b.pt", "README.md", "a.joblib", "model.onnx"];
        assert_eq!(pickle_paths(paths), ["b.pt", "a.joblib"]);
    }
}
